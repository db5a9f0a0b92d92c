// The doctor's read in the mini program: the owner shares a record from its page (a share card with a
// one-record link), consents to training and withdraws links; the doctor's page opens the link, records
// a read, and tells a non-reviewer their code. Against the fake cloud (docs/API.md actions).
const config = require('../../app/config.js')
const {createFakeCloud, makeAnswer} = require('../helpers/fake-cloud.js')
const {loadPage, pageWx} = require('../helpers/page.js')
const format = require('../../app/utils/format.js')

Object.assign(config.limits, {callTimeoutMs: 60, pollIntervalMs: 0, pollTries: 4})

let cloud
let wx

beforeEach(() => {
  cloud = createFakeCloud()
  wx = pageWx(cloud)
  wx.setClipboardData = jest.fn()
})

afterEach(() => {
  delete global.wx
})

async function sharedLink() {
  const [r] = cloud.seed(1)
  const record = loadPage('record')
  await record.onLoad({id: r.id})
  await record.onPrepareShare()
  return {r, record, path: record.data.sharePath}
}

function queryOf(path) {
  return Object.fromEntries(new URLSearchParams(path.split('?')[1]))
}

test('the owner makes a link and sends it as a share card for that one record', async () => {
  const {r, record, path} = await sharedLink()
  expect(path).toMatch(/^\/pages\/review\/index\?share=/)
  expect(record.data.shares).toEqual([expect.objectContaining({open: true})])
  expect(cloud.calls.find((c) => c.data.action === 'share').data).toEqual({action: 'share', id: r.id, expires_in_hours: 72})
  // the share button carries the link; the page's menu share never does
  expect(record.onShareAppMessage({from: 'button'}).path).toBe(path)
  expect(record.onShareAppMessage({from: 'menu'}).path).toBe('/pages/home/index')
  // a shorter lifetime can be chosen
  record.onHours({detail: {value: '0'}})
  await record.onPrepareShare()
  expect(cloud.calls.filter((c) => c.data.action === 'share')[1].data.expires_in_hours).toBe(24)
})

test('consent is an explicit switch, and can be turned off again', async () => {
  const [r] = cloud.seed(1)
  const record = loadPage('record')
  await record.onLoad({id: r.id})
  expect(record.data.consent).toBe(false)
  await record.onConsent({detail: {value: true}})
  expect(record.data.consent).toBe(true)
  expect(cloud.records.get(r.id).consent.export).toBe(true)
  await record.onConsent({detail: {value: false}})
  expect(cloud.records.get(r.id).consent.export).toBe(false)
  expect(record.data.error).toBeNull()
})

test('a reviewer opens the link, records a read, and the owner sees it', async () => {
  const {r, path} = await sharedLink()
  cloud.reviewer = true
  const page = loadPage('review')
  await page.onLoad(queryOf(path))
  expect(page.data.answer.id).toBe(r.id)
  expect(page.data.answer.shares).toBeUndefined()
  expect(page.data.labels.map((l) => l.id)).toEqual(['bacterial', 'viral', 'normal'])
  expect(page.data.canAgree).toBe(true)
  page.onLabel({detail: {value: '1'}})
  expect(page.data.verdict).toBe('label')
  page.onNote({detail: {value: ' 右下肺渗出 '}})
  await page.onSave()
  expect(page.data.error).toBeNull()
  expect(page.data.saved).toMatchObject({verdict: 'label', note: '右下肺渗出', by: 'Dr Li'})
  expect(cloud.calls.find((c) => c.data.action === 'review').data).toMatchObject({verdict: 'label', label: 'viral'})

  const record = loadPage('record')
  await record.onLoad({id: r.id})
  expect(record.data.review).toMatchObject({verdict: 'label', zh: '医生的判断：病毒性肺炎'})
  const item = format.historyItem(cloud.records.get(r.id))
  expect(item.reviewed).toBe(true)
  expect(format.historyItem(makeAnswer({id: cloud.makeId(7), probs: {normal: 1}})).reviewed).toBe(false)
})

test('a doctor not on the list is shown their reviewer code to give the operator', async () => {
  const {path} = await sharedLink()
  const page = loadPage('review')
  await page.onLoad(queryOf(path))
  expect(page.data.error.code).toBe('not_reviewer')
  expect(page.data.code).toBe(cloud.reviewerCode)
  expect(page.data.answer).toBeNull()
  page.onCopyCode()
  expect(wx.setClipboardData).toHaveBeenCalledWith({data: cloud.reviewerCode})
})

test('a withdrawn, forged or missing link is refused with its message', async () => {
  const {record, path} = await sharedLink()
  cloud.reviewer = true
  await record.onRevoke({currentTarget: {dataset: {id: record.data.shares[0].id}}})
  expect(record.data.sharePath).toBe('')
  expect(record.data.shares[0]).toMatchObject({state: 'revoked', open: false})
  const page = loadPage('review')
  await page.onLoad(queryOf(path))
  expect(page.data.error).toMatchObject({code: 'share_revoked', retryable: false})
  expect(page.data.error.message.zh).toContain('撤回')

  const forged = loadPage('review')
  await forged.onLoad({share: 'eyJhbGciOiJub25lIn0.e30.'})
  expect(forged.data.error.code).toBe('invalid_share')

  const calls = cloud.calls.length
  const missing = loadPage('review')
  await missing.onLoad({})
  expect(missing.data.error.code).toBe('invalid_share')
  expect(cloud.calls).toHaveLength(calls) // refused before any call
})

test('a read needs a verdict; the backend refuses a bad one', async () => {
  const {path} = await sharedLink()
  cloud.reviewer = true
  const page = loadPage('review')
  await page.onLoad(queryOf(path))
  await page.onSave()
  expect(page.data.error).toMatchObject({code: 'bad_request'})
  expect(cloud.calls.filter((c) => c.data.action === 'review')).toHaveLength(0)
  page.onVerdict({detail: {value: 'cannot_tell'}})
  await page.onSave()
  expect(page.data.saved).toMatchObject({verdict: 'cannot_tell'})
})

test('a pending record cannot be shared yet', async () => {
  const id = cloud.makeId(600)
  cloud.records.set(id, {id, status: 'done', model: {name: 'pneumonia'}, probabilities: []})
  cloud.records.get(id).status = 'pending'
  const record = loadPage('record')
  record.setData({id, answer: {id, status: 'pending'}})
  await record.onPrepareShare()
  expect(record.data.error).toMatchObject({code: 'record_not_ready', retryable: true})
})
