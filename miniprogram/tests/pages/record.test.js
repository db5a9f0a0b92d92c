// The record page: get (polling a pending record), errors, delete with confirmation.
const config = require('../../app/config.js')
const {createFakeCloud, makeAnswer} = require('../helpers/fake-cloud.js')
const {loadPage, pageWx} = require('../helpers/page.js')

Object.assign(config.limits, {callTimeoutMs: 60, pollIntervalMs: 0, pollTries: 4})

let cloud
let wx
let page

beforeEach(() => {
  cloud = createFakeCloud()
  wx = pageWx(cloud)
  page = loadPage('record')
})

afterEach(() => {
  delete global.wx
})

test('shows the stored record', async () => {
  const [r] = cloud.seed(1)
  await page.onLoad({id: r.id})
  expect(page.data.answer.id).toBe(r.id)
  expect(page.data).toMatchObject({loading: false, error: null})
})

test('a pending record is polled until done, within the bound', async () => {
  const id = cloud.makeId(500)
  cloud.records.set(id, {id, status: 'pending', model: {name: 'pneumonia'}, getsLeft: 2, final: makeAnswer({id, probs: {viral: 1}})})
  await page.onLoad({id})
  expect(page.data.answer.label).toBe('viral')
  expect(cloud.calls.filter((c) => c.data.action === 'get')).toHaveLength(3)
})

test('a record that stays pending ends in a retryable still_processing', async () => {
  const id = cloud.makeId(501)
  cloud.records.set(id, {id, status: 'pending', model: {name: 'pneumonia'}, getsLeft: 99, final: makeAnswer({id, probs: {viral: 1}})})
  await page.onLoad({id})
  expect(page.data.error).toMatchObject({code: 'still_processing', retryable: true})
  expect(page.data.loading).toBe(false)
  expect(page.data.answer.status).toBe('pending')
})

test('another user\'s or a deleted id is not_found, without retry', async () => {
  await page.onLoad({id: cloud.makeId(9999)})
  expect(page.data.error).toMatchObject({code: 'not_found', retryable: false})
  expect(page.data.loading).toBe(false)
})

test('a missing id is bad_request without a call', async () => {
  await page.onLoad({})
  expect(page.data.error.code).toBe('bad_request')
  expect(cloud.calls).toHaveLength(0)
})

test('delete asks, deletes and goes back', async () => {
  const [r] = cloud.seed(1)
  await page.onLoad({id: r.id})
  await page.onDelete()
  expect(wx.showModal).toHaveBeenCalledTimes(1)
  expect(cloud.records.has(r.id)).toBe(false)
  expect(wx.navigateBack).toHaveBeenCalledTimes(1)
})

test('a failed delete stays on the page with a retry', async () => {
  const [r] = cloud.seed(1)
  await page.onLoad({id: r.id})
  cloud.intercept = () => Promise.reject({errMsg: 'request:fail'})
  await page.onDelete()
  expect(page.data.error.code).toBe('network_error')
  expect(wx.navigateBack).not.toHaveBeenCalled()
  cloud.intercept = null
  await page.onRetry()
  expect(cloud.records.has(r.id)).toBe(false)
  expect(wx.navigateBack).toHaveBeenCalledTimes(1)
})
