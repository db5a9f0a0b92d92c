// services/api.js against the fake cloud (tests/helpers/fake-cloud.js): the whole journey, every
// error path, pagination, deletion and the polling bound. Plain node: no DOM needed.
const {createApi} = require('../../app/services/api.js')
const errors = require('../../app/services/errors.js')
const format = require('../../app/utils/format.js')
const config = require('../../app/config.js')
const {createFakeCloud, makeAnswer, errorBody} = require('../helpers/fake-cloud.js')

const FAST = {
  ...config,
  limits: {...config.limits, callTimeoutMs: 40, predictTimeoutMs: 40, uploadTimeoutMs: 40, pollIntervalMs: 0},
}

function setup(cfg = FAST) {
  const cloud = createFakeCloud()
  const sleeps = []
  const api = createApi({wx: cloud.wx, config: cfg, sleep: async (ms) => sleeps.push(ms)})
  return {cloud, api, sleeps}
}

async function rejection(promise) {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

describe('upload → predict → render', () => {
  test('analyse uploads to the path the backend gave, predicts on the fileID, and renders', async () => {
    const {cloud, api} = setup()
    const progress = []
    const phases = []
    const answer = await api.analyse(
      {filePath: 'wxfile://tmp/photo.JPEG', ext: 'jpeg', model: 'pneumonia'},
      {onProgress: (p) => progress.push(p), onPhase: (p) => phases.push(p)},
    )
    // GIVEN the backend's upload path, THEN the file went exactly there
    expect(cloud.calls[0]).toEqual({
      name: 'predict',
      data: {action: 'upload', ext: 'jpg', model: 'pneumonia', request_id: expect.stringMatching(/^mp-[a-z0-9-]{8,}$/)},
    })
    const requestId = cloud.calls[0].data.request_id
    const key = cloud.uploadCalls[0].cloudPath
    expect(key).toMatch(/^uploads\/[0-9a-f]{32}\/0[0-9a-z]{25}\.jpg$/)
    expect(cloud.uploadCalls[0].filePath).toBe('wxfile://tmp/photo.JPEG')
    // AND predict got the uploaded fileID and the model
    expect(cloud.calls[1]).toEqual({
      name: 'predict',
      data: {fileID: `cloud://${cloud.ENV}.${cloud.BUCKET}/${key}`, model: 'pneumonia', request_id: requestId},
    })
    expect(phases).toEqual(['uploading', 'predicting'])
    expect(progress).toEqual([10, 55, 100, 100])
    // AND the record id is the upload's id, and it renders as a confident answer
    expect(answer.id).toBe(key.split('/').pop().split('.')[0])
    const view = format.resultView(answer)
    expect(view.state).toBe('ok')
    expect(view.labelZh).toBe('细菌性肺炎')
    expect(view.labelEn).toBe('Bacterial pneumonia')
    expect(view.confidence).toBe('91.0%')
    expect(view.bars.map((b) => b.label)).toEqual(['bacterial', 'viral', 'normal'])
    expect(view.heatmapUrl).toContain('heatmaps/')
    expect(view.demo).toBe(true)
  })

  test('a pending answer (async path) is polled until done', async () => {
    const {cloud, api, sleeps} = setup()
    cloud.mode = 'async'
    cloud.pendingGets = 2
    const answer = await api.analyse({filePath: 'wxfile://tmp/a.png', ext: 'png', model: 'pneumonia'})
    expect(answer.status).toBe('done')
    const gets = cloud.calls.filter((c) => c.data.action === 'get')
    expect(gets).toHaveLength(3)
    expect(sleeps).toEqual([0, 0])
  })

  test('a failed answer from predict throws its error', async () => {
    const {cloud, api} = setup()
    cloud.intercept = (name, data) => (!data.action
      ? Promise.resolve({result: {id: cloud.makeId(3), model: {name: 'skin'}, status: 'failed', ...errorBody('corrupt_image', 400)}})
      : undefined)
    const err = await rejection(api.analyse({filePath: 'wxfile://tmp/a.png', ext: 'png', model: 'skin'}))
    expect(err.code).toBe('corrupt_image')
    cloud.intercept = (name, data) => (!data.action
      ? Promise.resolve({result: {id: cloud.makeId(4), model: {name: 'skin'}, status: 'failed'}})
      : undefined)
    const bare = await rejection(api.analyse({filePath: 'wxfile://tmp/a.png', ext: 'png', model: 'skin'}))
    expect(bare).toMatchObject({code: 'prediction_failed', retryable: true})
  })

  test('an unsupported extension is refused before any call', async () => {
    const {cloud, api} = setup()
    const err = await rejection(api.uploadImage('wxfile://tmp/a.gif', 'gif'))
    expect(err.code).toBe('unsupported_format')
    expect(cloud.calls).toHaveLength(0)
  })

  test('a missing file path is empty_image', async () => {
    const {api} = setup()
    expect((await rejection(api.uploadImage('', 'jpg'))).code).toBe('empty_image')
    expect((await rejection(api.predict({fileID: '', model: 'skin'}))).code).toBe('empty_image')
  })

  test('progress values are clamped to 0..100', async () => {
    const {cloud, api} = setup()
    cloud.progressSteps = [-5, 140]
    const seen = []
    await api.uploadImage('wxfile://tmp/a.jpg', 'jpg', (p) => seen.push(p))
    expect(seen).toEqual([0, 100, 100])
  })
})

describe('retries never make two records', () => {
  test('a lost predict answer is retried with the same fileID and request id; one upload', async () => {
    const {cloud, api, sleeps} = setup()
    let failures = 1
    cloud.intercept = (name, data) => {
      if (name === 'predict' && data.fileID && failures > 0) {
        failures -= 1
        return Promise.reject({errCode: -1, errMsg: 'cloud.callFunction:fail request:fail'})
      }
      return undefined
    }
    const answer = await api.analyse({filePath: 'wxfile://tmp/a.jpg', ext: 'jpg', model: 'pneumonia'})
    const predicts = cloud.calls.filter((c) => c.data.fileID)
    expect(predicts).toHaveLength(2)
    expect(predicts[0].data).toEqual(predicts[1].data)
    expect(cloud.calls.filter((c) => c.data.action === 'upload')).toHaveLength(1)
    expect(cloud.uploadCalls).toHaveLength(1)
    expect(answer.id).toBe(predicts[0].data.fileID.split('/').pop().split('.')[0])
    expect(sleeps).toEqual([500])
  })

  test('the retry button passes the job back: same upload path, no second upload', async () => {
    const {cloud, api} = setup({...FAST, limits: {...FAST.limits, retries: 0}})
    const job = api.newJob()
    cloud.intercept = (name, data) => (data.fileID ? Promise.reject({errCode: -1, errMsg: 'request:fail'}) : undefined)
    await expect(api.analyse({filePath: 'wxfile://tmp/b.jpg', ext: 'jpg'}, {job})).rejects.toMatchObject({code: 'network_error'})
    cloud.intercept = null
    const answer = await api.analyse({filePath: 'wxfile://tmp/b.jpg', ext: 'jpg'}, {job})
    expect(cloud.uploadCalls).toHaveLength(1)
    expect(answer.id).toBe(job.target.id)
  })

  test('a failed upload is retried to the same path', async () => {
    const {cloud, api} = setup()
    let failures = 1
    const realUpload = cloud.wx.cloud.uploadFile.getMockImplementation()
    cloud.wx.cloud.uploadFile.mockImplementation((opts) => {
      if (failures > 0) {
        failures -= 1
        cloud.uploadCalls.push({cloudPath: opts.cloudPath, filePath: opts.filePath})
        setTimeout(() => opts.fail({errCode: -1, errMsg: 'uploadFile:fail'}), 0)
        return {onProgressUpdate() {}, abort() {}}
      }
      return realUpload(opts)
    })
    await api.analyse({filePath: 'wxfile://tmp/c.jpg', ext: 'jpg'})
    const paths = cloud.uploadCalls.map((c) => c.cloudPath)
    expect(paths).toHaveLength(2)
    expect(paths[0]).toBe(paths[1])
    expect(cloud.calls.filter((c) => c.data.action === 'upload')).toHaveLength(1)
  })
})

describe('backend errors: every code of the table', () => {
  const backendCodes = errors.BACKEND_CODES

  test.each(backendCodes)('%s from predict becomes its friendly bilingual message', async (code) => {
    const {cloud, api} = setup()
    cloud.intercept = (name, data) =>
      name === 'predict' && !data.action ? Promise.resolve({result: errorBody(code, 400)}) : undefined
    const err = await rejection(api.analyse({filePath: 'wxfile://tmp/a.jpg', ext: 'jpg', model: 'pneumonia'}))
    expect(errors.isApiError(err)).toBe(true)
    expect(err.code).toBe(code)
    expect(err.message).toEqual({zh: errors.MESSAGES[code].zh, en: errors.MESSAGES[code].en})
    expect(err.retryable).toBe(errors.MESSAGES[code].retryable)
    expect(err.requestId).toBe('req-1')
  })

  test.each([
    ['listHistory', (api) => api.listHistory({})],
    ['getRecord', (api, id) => api.getRecord(id)],
    ['deleteRecord', (api, id) => api.deleteRecord(id)],
    ['deleteAll', (api) => api.deleteAll()],
    ['listModels', (api) => api.listModels()],
    ['uploadImage', (api) => api.uploadImage('wxfile://tmp/a.jpg', 'jpg')],
  ])('%s maps a backend error body too', async (_, run) => {
    const {cloud, api} = setup()
    cloud.intercept = () => Promise.resolve({result: errorBody('storage_unavailable', 503)})
    const err = await rejection(run(api, cloud.makeId(5)))
    expect(err.code).toBe('storage_unavailable')
    expect(err.retryable).toBe(true)
  })

  test('an unknown backend code keeps the backend message; 4xx is not retryable, 5xx is', async () => {
    const {cloud, api} = setup()
    cloud.intercept = () => Promise.resolve({result: errorBody('brand_new', 422, 'New thing.', '新情况。')})
    const err = await rejection(api.listHistory())
    expect(err).toMatchObject({code: 'brand_new', message: {zh: '新情况。', en: 'New thing.'}, retryable: false})
    cloud.intercept = () => Promise.resolve({result: errorBody('brand_new_5xx', 503, 'Later.', '稍后。')})
    expect((await rejection(api.listHistory())).retryable).toBe(true)
  })

  test.each([
    ['no result', {errMsg: 'cloud.callFunction:ok'}],
    ['a string result', {result: 'oops'}],
    ['an error without code or message', {result: {error: {}}}],
  ])('%s is bad_response', async (_, res) => {
    const {cloud, api} = setup()
    cloud.intercept = () => Promise.resolve(res)
    expect((await rejection(api.listHistory())).code).toBe('bad_response')
  })

  test('an answer without id or model is bad_response', async () => {
    const {cloud, api} = setup()
    await api.uploadImage('wxfile://tmp/a.jpg', 'jpg')
    cloud.intercept = (name, data) => (!data.action ? Promise.resolve({result: {label: 'x'}}) : undefined)
    const fileID = `cloud://${cloud.ENV}.${cloud.BUCKET}/${cloud.uploadCalls[0].cloudPath}`
    expect((await rejection(api.predict({fileID, model: 'pneumonia'}))).code).toBe('bad_response')
  })

  test('an upload path answer without a path is bad_response', async () => {
    const {cloud, api} = setup()
    cloud.intercept = () => Promise.resolve({result: {id: cloud.makeId(1)}})
    expect((await rejection(api.uploadImage('wxfile://tmp/a.jpg', 'jpg'))).code).toBe('bad_response')
    expect(cloud.uploadCalls).toHaveLength(0)
  })
})

describe('network failures and timeouts', () => {
  test.each([
    [{errCode: -1, errMsg: 'cloud.callFunction:fail request:fail'}, 'network_error', true],
    [{errCode: -404012, errMsg: 'cloud.callFunction:fail polling exceed max timeout retry'}, 'timeout', true],
    [{errCode: -504003, errMsg: 'Invoking task timed out after 3 seconds'}, 'timeout', true],
    [{errCode: -501000, errMsg: 'FUNCTION_NOT_FOUND'}, 'function_not_found', false],
    [{errCode: -404011, errMsg: 'cloud function execution error'}, 'cloud_call_failed', true],
    [new Error('boom'), 'cloud_call_failed', true],
  ])('a rejected call %j → %s', async (failure, code, retryable) => {
    const {cloud, api} = setup()
    cloud.intercept = () => Promise.reject(failure)
    const err = await rejection(api.listHistory())
    expect(err.code).toBe(code)
    expect(err.retryable).toBe(retryable)
    expect(err.message.zh).toBeTruthy()
    expect(err.message.en).toBeTruthy()
  })

  test('a call that never answers times out', async () => {
    const {cloud, api} = setup()
    cloud.intercept = () => new Promise(() => {})
    const started = Date.now()
    const err = await rejection(api.deleteAll())
    expect(err.code).toBe('timeout')
    expect(err.retryable).toBe(true)
    expect(Date.now() - started).toBeLessThan(1000)
  })

  test('an upload that never finishes times out and is aborted', async () => {
    const {cloud, api} = setup()
    cloud.upload = 'hang'
    const err = await rejection(api.uploadImage('wxfile://tmp/a.jpg', 'jpg'))
    expect(err.code).toBe('timeout')
    expect(cloud.aborted).toBe(1)
  })

  test('a failed upload is upload_failed; a network failure during upload is network_error', async () => {
    const {cloud, api} = setup()
    cloud.upload = 'fail'
    expect((await rejection(api.uploadImage('wxfile://tmp/a.jpg', 'jpg'))).code).toBe('upload_failed')
    cloud.upload = 'network'
    expect((await rejection(api.uploadImage('wxfile://tmp/a.jpg', 'jpg'))).code).toBe('network_error')
  })

  test('an upload success without fileID is upload_failed', async () => {
    const {cloud, api} = setup()
    cloud.wx.cloud.uploadFile = ({success}) => {
      setTimeout(() => success({statusCode: 204}), 0)
      return {onProgressUpdate() {}}
    }
    expect((await rejection(api.uploadImage('wxfile://tmp/a.jpg', 'jpg'))).code).toBe('upload_failed')
  })

  test('the default instance reads the global wx at call time', async () => {
    const cloud = createFakeCloud()
    global.wx = cloud.wx
    try {
      const api = require('../../app/services/api.js')
      cloud.seed(2)
      expect((await api.listHistory()).items).toHaveLength(2)
    } finally {
      delete global.wx
    }
  })
})

describe('history: pagination and deletion', () => {
  test('pages follow next_cursor, newest first, until it is null', async () => {
    const {cloud, api} = setup()
    const seeded = cloud.seed(45).map((r) => r.id).reverse()
    const seen = []
    let cursor = null
    let pages = 0
    do {
      const page = await api.listHistory({cursor, limit: 20})
      seen.push(...page.items.map((r) => r.id))
      cursor = page.nextCursor
      pages += 1
    } while (cursor)
    expect(pages).toBe(3)
    expect(seen).toEqual(seeded)
    expect(cloud.calls[0].data).toEqual({action: 'list', limit: 20})
    expect(cloud.calls[1].data).toEqual({action: 'list', limit: 20, cursor: seeded[19]})
  })

  test('the default page size comes from config', async () => {
    const {cloud, api} = setup()
    cloud.seed(3)
    await api.listHistory()
    expect(cloud.calls[0].data.limit).toBe(config.limits.historyPageSize)
  })

  test('a list body without items is bad_response', async () => {
    const {cloud, api} = setup()
    cloud.intercept = () => Promise.resolve({result: {next_cursor: null}})
    expect((await rejection(api.listHistory())).code).toBe('bad_response')
  })

  test('delete one, then it is gone; deleting again is not_found', async () => {
    const {cloud, api} = setup()
    const [a, b] = cloud.seed(2)
    expect(await api.deleteRecord(a.id)).toEqual({deleted: a.id})
    expect((await api.listHistory()).items.map((r) => r.id)).toEqual([b.id])
    expect((await rejection(api.getRecord(a.id))).code).toBe('not_found')
    expect((await rejection(api.deleteRecord(a.id))).code).toBe('not_found')
  })

  test('delete all reports how many', async () => {
    const {cloud, api} = setup()
    cloud.seed(7)
    expect(await api.deleteAll()).toEqual({deleted: 7})
    expect((await api.listHistory()).items).toEqual([])
  })

  test.each([['../x'], [''], [null], ['0ABCDEFGHJKMNPQRSTVWXYZ012'], ['0123456789abcdefghjkmnpqr'], ['8123456789abcdefghjkmnpqrs']])(
    'an invalid id %p is bad_request without a call', async (id) => {
      const {cloud, api} = setup()
      expect((await rejection(api.getRecord(id))).code).toBe('bad_request')
      expect((await rejection(api.deleteRecord(id))).code).toBe('bad_request')
      expect(cloud.calls).toHaveLength(0)
    })
})

describe('polling the async path', () => {
  function pendingRecord(cloud, getsLeft, final) {
    const id = cloud.makeId(77)
    cloud.records.set(id, {id, status: 'pending', model: {name: 'pneumonia'}, getsLeft, final})
    return id
  }

  test('returns the record once it is done', async () => {
    const {cloud, api, sleeps} = setup()
    const id = pendingRecord(cloud, 3, makeAnswer({id: cloud.makeId(77), probs: {viral: 0.7, normal: 0.3}}))
    const record = await api.pollRecord(id, {tries: 10, intervalMs: 250})
    expect(record.label).toBe('viral')
    expect(cloud.calls).toHaveLength(4)
    expect(sleeps).toEqual([250, 250, 250])
  })

  test('gives up after exactly `tries` calls with still_processing', async () => {
    const {cloud, api, sleeps} = setup()
    const id = pendingRecord(cloud, 1000, null)
    const err = await rejection(api.pollRecord(id, {tries: 5, intervalMs: 10}))
    expect(err.code).toBe('still_processing')
    expect(err.retryable).toBe(true)
    expect(cloud.calls).toHaveLength(5)
    expect(sleeps).toHaveLength(4)
  })

  test('uses the configured bound by default', async () => {
    const {cloud, api} = setup()
    const id = pendingRecord(cloud, 1000, null)
    await rejection(api.pollRecord(id))
    expect(cloud.calls).toHaveLength(config.limits.pollTries)
  })

  test('a failed record throws its own error', async () => {
    const {cloud, api} = setup()
    const id = cloud.makeId(78)
    cloud.records.set(id, {id, status: 'failed', model: {name: 'skin'}, ...errorBody('corrupt_image', 400)})
    expect((await rejection(api.pollRecord(id))).code).toBe('corrupt_image')
    cloud.records.set(id, {id, status: 'failed', model: {name: 'skin'}})
    expect((await rejection(api.pollRecord(id))).code).toBe('prediction_failed')
  })

  test('not_found right after the upload is waited out, but not forever', async () => {
    const {cloud, api} = setup()
    const id = cloud.makeId(79)
    let gets = 0
    cloud.intercept = () => {
      gets += 1
      if (gets === 3) cloud.records.set(id, makeAnswer({id, probs: {normal: 0.8, viral: 0.2}}))
      return undefined
    }
    expect((await api.pollRecord(id, {tries: 5})).label).toBe('normal')
    cloud.records.clear()
    cloud.intercept = null
    cloud.calls.length = 0
    expect((await rejection(api.pollRecord(id, {tries: 4}))).code).toBe('not_found')
    expect(cloud.calls).toHaveLength(4)
  })

  test('other errors stop polling at once', async () => {
    const {cloud, api} = setup()
    cloud.intercept = () => Promise.reject({errMsg: 'request:fail'})
    expect((await rejection(api.pollRecord(cloud.makeId(80), {tries: 9}))).code).toBe('network_error')
    expect(cloud.calls).toHaveLength(1)
  })
})

test('listModels returns the public cards', async () => {
  const {cloud, api} = setup()
  const {models} = await api.listModels()
  expect(cloud.calls[0]).toEqual({name: 'predict', data: {action: 'models'}})
  expect(format.modelCard(models[0])).toMatchObject({name: 'pneumonia', demo: true, synthetic: true, accuracy: '93.0%'})
})
