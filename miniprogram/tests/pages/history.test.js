// The history page: infinite scroll, open, delete one / all with confirmation, failures with retry.
const config = require('../../app/config.js')
const {createFakeCloud} = require('../helpers/fake-cloud.js')
const {loadPage, pageWx} = require('../helpers/page.js')

Object.assign(config.limits, {callTimeoutMs: 60, historyPageSize: 20})

let cloud
let wx
let page

async function open() {
  page.onLoad()
  await page.onShow()
}

beforeEach(() => {
  cloud = createFakeCloud()
  wx = pageWx(cloud)
  page = loadPage('history')
})

afterEach(() => {
  delete global.wx
})

test('scrolling to the bottom loads the next page until the end', async () => {
  const newestFirst = cloud.seed(45).map((r) => r.id).reverse()
  await open()
  expect(page.data.records).toHaveLength(20)
  expect(page.data).toMatchObject({hasMore: true, loading: false, error: null})
  await page.onReachBottom()
  await page.onReachBottom()
  expect(page.data.records.map((r) => r.id)).toEqual(newestFirst)
  expect(page.data.hasMore).toBe(false)
  const calls = cloud.calls.length
  await page.onReachBottom()
  expect(cloud.calls).toHaveLength(calls)
})

test('the empty state: no records, no more pages', async () => {
  await open()
  expect(page.data).toMatchObject({records: [], hasMore: false, loading: false})
})

test('coming back to the page reloads from the first page', async () => {
  cloud.seed(3)
  await open()
  cloud.seed(1)
  await page.onShow()
  expect(page.data.records).toHaveLength(4)
})

test('open a record', async () => {
  const [r] = cloud.seed(1)
  await open()
  page.onOpen({detail: {id: r.id}})
  expect(wx.navigateTo).toHaveBeenCalledWith({url: `/pages/record/index?id=${r.id}`})
})

test('delete asks first; cancelling keeps the record', async () => {
  cloud.seed(2)
  await open()
  wx.modalAnswer = false
  await page.onDelete({detail: {id: page.data.records[0].id}})
  expect(wx.showModal).toHaveBeenCalledTimes(1)
  expect(wx.showModal.mock.calls[0][0].content).toMatch(/永久删除.*deleted for good/)
  expect(cloud.calls.filter((c) => c.data.action === 'delete')).toHaveLength(0)
  expect(page.data.records).toHaveLength(2)
})

test('delete after confirming removes it on the backend and on screen', async () => {
  const [older, newer] = cloud.seed(2)
  await open()
  await page.onDelete({detail: {id: newer.id}})
  expect(cloud.records.has(newer.id)).toBe(false)
  expect(page.data.records.map((r) => r.id)).toEqual([older.id])
  expect(wx.hideLoading).toHaveBeenCalledTimes(1)
  expect(wx.showToast).toHaveBeenCalledTimes(1)
})

test('delete all after confirming empties everything', async () => {
  cloud.seed(30)
  await open()
  await page.onDeleteAll()
  expect(cloud.records.size).toBe(0)
  expect(page.data).toMatchObject({records: [], hasMore: false, actionError: null})
  expect(wx.showToast.mock.calls[0][0].title).toMatch(/30/)
})

test('delete all, cancelled, deletes nothing', async () => {
  cloud.seed(3)
  await open()
  wx.modalAnswer = false
  await page.onDeleteAll()
  expect(cloud.records.size).toBe(3)
})

test('a failed delete shows the error and the spinner stops; retry repeats it', async () => {
  const [r] = cloud.seed(1)
  await open()
  cloud.intercept = () => Promise.reject({errMsg: 'cloud.callFunction:fail request:fail'})
  await page.onDelete({detail: {id: r.id}})
  expect(page.data.actionError).toMatchObject({code: 'network_error', retryable: true})
  expect(wx.hideLoading).toHaveBeenCalledTimes(1)
  expect(page.data.records).toHaveLength(1)
  cloud.intercept = null
  await page.onRetryAction()
  expect(page.data.actionError).toBeNull()
  expect(page.data.records).toHaveLength(0)
})

test('a failed page load shows a retry; scrolling waits for it; retry loads', async () => {
  cloud.seed(25)
  cloud.intercept = () => Promise.reject({errMsg: 'request timeout'})
  await open()
  expect(page.data).toMatchObject({loading: false, records: []})
  expect(page.data.error.code).toBe('timeout')
  const calls = cloud.calls.length
  await page.onReachBottom()
  expect(cloud.calls).toHaveLength(calls)
  cloud.intercept = null
  await page.onRetry()
  expect(page.data.error).toBeNull()
  expect(page.data.records).toHaveLength(20)
})

test('a never-answering list times out and loading stops', async () => {
  cloud.intercept = () => new Promise(() => {})
  await open()
  expect(page.data).toMatchObject({loading: false})
  expect(page.data.error.code).toBe('timeout')
})

test('pull-down refresh always stops its spinner', async () => {
  page.onLoad()
  cloud.intercept = () => Promise.reject({errMsg: 'request:fail'})
  await page.onPullDownRefresh()
  expect(wx.stopPullDownRefresh).toHaveBeenCalledTimes(1)
  expect(page.data.loading).toBe(false)
})
