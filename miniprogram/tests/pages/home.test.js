// The home page driven as a user would: choose, analyse, fail, retry, samples. Every spinner stops.
const config = require('../../app/config.js')
const {createFakeCloud} = require('../helpers/fake-cloud.js')
const {loadPage, pageWx} = require('../helpers/page.js')

// Short timeouts for this file (read when services/api.js is first required, by the page).
Object.assign(config.limits, {callTimeoutMs: 60, predictTimeoutMs: 60, uploadTimeoutMs: 60, pollIntervalMs: 0})

let cloud
let wx
let page

beforeEach(() => {
  cloud = createFakeCloud()
  wx = pageWx(cloud)
  wx.chooseMedia = jest.fn((opts) =>
    setTimeout(() => opts.success({type: 'image', tempFiles: [{tempFilePath: 'wxfile://tmp/chest.jpg', size: 5000}]}), 0),
  )
  page = loadPage('home')
})

afterEach(() => {
  delete global.wx
})

test('choose an image, analyse, and the answer from the backend is shown', async () => {
  await page.onChoose()
  expect(page.data.file).toEqual({filePath: 'wxfile://tmp/chest.jpg', ext: 'jpg', size: 5000})
  expect(wx.chooseMedia.mock.calls[0][0]).toMatchObject({count: 1, mediaType: ['image'], sourceType: ['album', 'camera']})
  await page.onAnalyse()
  expect(page.data.answer.label).toBe('bacterial')
  expect(page.data.answer.id).toBe(cloud.uploadCalls[0].cloudPath.split('/').pop().split('.')[0])
  expect(page.data).toMatchObject({busy: false, phase: 'done', progress: 100, error: null})
  // the progress bar moved through the upload
  const progress = page.updates.filter((u) => 'progress' in u).map((u) => u.progress)
  expect(progress).toEqual([0, 0, 10, 55, 100, 100])
  expect(page.updates.filter((u) => u.phase).map((u) => u.phase)).toEqual(['idle', 'uploading', 'uploading', 'predicting', 'done'])
})

test('the chosen model is sent', async () => {
  page.onModel({currentTarget: {dataset: {name: 'skin'}}})
  cloud.answer = {probs: {psoriasis: 0.8, normal_skin: 0.2}}
  await page.onChoose()
  await page.onAnalyse()
  expect(cloud.calls.map((c) => c.data.model)).toEqual(['skin', 'skin'])
  expect(page.data.answer.model.name).toBe('skin')
})

test('cancelling the picker changes nothing and leaves no spinner', async () => {
  wx.chooseMedia = jest.fn((opts) => setTimeout(() => opts.fail({errMsg: 'chooseMedia:fail cancel'}), 0))
  await page.onChoose()
  expect(page.data).toMatchObject({file: null, busy: false, error: null})
})

test('a network failure shows a retryable error; retry then succeeds', async () => {
  await page.onChoose()
  cloud.intercept = (name, data) => (!data.action ? Promise.reject({errMsg: 'cloud.callFunction:fail request:fail'}) : undefined)
  await page.onAnalyse()
  expect(page.data.error).toMatchObject({code: 'network_error', retryable: true})
  expect(page.data.error.message.zh).toMatch(/网络/)
  expect(page.data).toMatchObject({busy: false, answer: null, phase: 'error'})
  cloud.intercept = null
  await page.onRetry()
  expect(page.data.error).toBeNull()
  expect(page.data.answer.status).toBe('done')
  expect(page.data.busy).toBe(false)
})

test('a backend that never answers times out, and the spinner stops', async () => {
  await page.onChoose()
  cloud.intercept = (name, data) => (!data.action ? new Promise(() => {}) : undefined)
  await page.onAnalyse()
  expect(page.data.error).toMatchObject({code: 'timeout', retryable: true})
  expect(page.data.busy).toBe(false)
})

test('a refused image is shown as an answer, not an error', async () => {
  cloud.answer = {probs: {normal: 0.6, viral: 0.4}, quality: {ok: false, reason: 'not_a_radiograph', message: null, warnings: []}}
  await page.onChoose()
  await page.onAnalyse()
  expect(page.data.error).toBeNull()
  expect(page.data.answer.quality.ok).toBe(false)
})

test('a file too large is refused before uploading', async () => {
  wx.chooseMedia = jest.fn((opts) => setTimeout(() => opts.success({tempFiles: [{tempFilePath: 'wxfile://tmp/huge.png', size: 20e6}]}), 0))
  await page.onChoose()
  expect(page.data.error.code).toBe('payload_too_large')
  expect(page.data.error.retryable).toBe(false)
  expect(cloud.calls).toHaveLength(0)
})

test('analyse without an image is empty_image', async () => {
  await page.onAnalyse()
  expect(page.data.error.code).toBe('empty_image')
  expect(cloud.calls).toHaveLength(0)
})

test('a double tap runs one analysis', async () => {
  await page.onChoose()
  await Promise.all([page.onAnalyse(), page.onAnalyse()])
  expect(cloud.uploadCalls).toHaveLength(1)
})

test('a sample image is copied, analysed with its model, and previewed', async () => {
  const written = []
  wx.getFileSystemManager = () => ({
    readFile: (o) => o.success({data: new ArrayBuffer(8)}),
    writeFile: (o) => {
      written.push(o.filePath)
      o.success({})
    },
  })
  page.data.samples = [{path: '/images/samples/skin-1.png', model: 'skin', zh: '皮肤示例', en: 'Skin sample'}]
  cloud.answer = {probs: {psoriasis: 0.7, normal_skin: 0.3}}
  await page.onSample({currentTarget: {dataset: {index: '0'}}})
  expect(written).toEqual(['wxfile://usr/sample-skin-1.png'])
  expect(cloud.uploadCalls[0].filePath).toBe('wxfile://usr/sample-skin-1.png')
  expect(page.data).toMatchObject({model: 'skin', busy: false, error: null})
  expect(page.data.answer.label).toBe('psoriasis')
})

test('changing the model is ignored while busy', () => {
  page.data.busy = true
  page.onModel({currentTarget: {dataset: {name: 'skin'}}})
  expect(page.data.model).toBe('pneumonia')
})
