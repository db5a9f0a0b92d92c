// The ONLY module that talks to the backend (wx.cloud.*). Every call has a timeout, and every
// failure leaves here as an ApiError {code, message: {zh, en}, retryable} (services/errors.js).
//
// createApi({wx, config, sleep}) exists for tests; the app uses the default instance, which reads the
// global `wx` at call time (a free variable: the mini program runtime has no real `global`).

const defaultConfig = require('../config.js')
const errors = require('./errors.js')

const FINAL_STATUSES = ['done', 'failed']
// Record ids as xiaofei/ids.py makes them: 26 lower-case Crockford base32 characters.
const ID_PATTERN = /^[0-7][0-9a-hjkmnp-tv-z]{25}$/

function defaultSleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Reject with `timeout` after `ms`, calling `onTimeout` (e.g. abort an upload) first. */
function withTimeout(promise, ms, onTimeout) {
  let timer = null
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => {
      if (onTimeout) onTimeout()
      reject(errors.makeError('timeout'))
    }, ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

function checkId(id) {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    throw errors.makeError('bad_request', {details: {field: 'id'}})
  }
}

function createApi(options = {}) {
  const config = options.config || defaultConfig
  const limits = Object.assign({}, defaultConfig.limits, config.limits)
  const sleep = options.sleep || defaultSleep
  // eslint-disable-next-line no-undef
  const getWx = () => options.wx || wx

  /** One cloud function call → the result body, or a thrown ApiError. */
  async function call(name, data, timeoutMs) {
    if (!config.envId) throw errors.makeError('env_missing')
    let res
    try {
      res = await withTimeout(getWx().cloud.callFunction({name, data}), timeoutMs || limits.callTimeoutMs)
    } catch (err) {
      throw errors.normalize(err, 'cloud_call_failed')
    }
    const body = res && res.result
    if (!body || typeof body !== 'object') throw errors.makeError('bad_response')
    if (body.error) throw errors.fromBackend(body)
    return body
  }

  /**
   * Ask `predict` for the caller's own upload path (uploads/{uid}/{id}.{ext}). The backend also
   * writes a pending record with that id, which the storage trigger or `predict` completes.
   */
  async function requestUploadPath(ext, model, requestId) {
    const data = {action: 'upload', ext}
    if (model) data.model = model
    if (requestId) data.request_id = requestId
    const body = await call(config.functions.predict, data)
    const cloudPath = body.cloud_path || body.cloudPath || body.key
    if (typeof cloudPath !== 'string' || !cloudPath) throw errors.makeError('bad_response')
    return {id: body.id || '', cloudPath, maxBytes: body.max_bytes || limits.maxImageBytes}
  }

  function uploadFile(cloudPath, filePath, onProgress) {
    let task = null
    const done = new Promise((resolve, reject) => {
      task = getWx().cloud.uploadFile({
        cloudPath,
        filePath,
        success: resolve,
        fail: reject,
      })
    })
    if (task && typeof task.onProgressUpdate === 'function' && onProgress) {
      task.onProgressUpdate((p) => onProgress(Math.max(0, Math.min(100, Number(p.progress) || 0))))
    }
    const abort = () => task && typeof task.abort === 'function' && task.abort()
    return withTimeout(done, limits.uploadTimeoutMs, abort)
  }

  /**
   * Upload a local image to the caller's upload path, reporting progress 0..100.
   * Resolves {fileID, id, cloudPath}; `model` names the model of the pending record.
   */
  async function uploadImage(tempFilePath, ext, onProgress, model, job) {
    if (typeof tempFilePath !== 'string' || !tempFilePath) throw errors.makeError('empty_image')
    const cleanExt = String(ext || '').toLowerCase().replace(/^\./, '').replace('jpeg', 'jpg')
    if (!config.imageExts.includes(cleanExt)) throw errors.makeError('unsupported_format')
    // A retry of the same image asks again with the same request id: the backend gives the same path.
    const target = (job && job.target) || await requestUploadPath(cleanExt, model, job && job.requestId)
    if (job) job.target = target
    let res
    try {
      res = await uploadFile(target.cloudPath, tempFilePath, onProgress)
    } catch (err) {
      throw errors.normalize(err, 'upload_failed')
    }
    if (!res || typeof res.fileID !== 'string' || !res.fileID) throw errors.makeError('upload_failed')
    if (onProgress) onProgress(100)
    return {fileID: res.fileID, id: target.id, cloudPath: target.cloudPath}
  }

  /** Run the model on an uploaded file; resolves the prediction (status may be `pending`). */
  async function predict({fileID, model, requestId}) {
    if (typeof fileID !== 'string' || !fileID) throw errors.makeError('empty_image')
    const data = {fileID, model}
    if (requestId) data.request_id = requestId
    const answer = await call(config.functions.predict, data, limits.predictTimeoutMs)
    if (!answer.id || !answer.model) throw errors.makeError('bad_response')
    return answer
  }

  /** One page of history, newest first: {items, nextCursor} (nextCursor null at the end). */
  async function listHistory({cursor, limit} = {}) {
    const data = {action: 'list', limit: limit || limits.historyPageSize}
    if (cursor) data.cursor = cursor
    const body = await call(config.functions.history, data)
    if (!Array.isArray(body.items)) throw errors.makeError('bad_response')
    return {items: body.items, nextCursor: body.next_cursor || null}
  }

  async function getRecord(id) {
    checkId(id)
    return call(config.functions.history, {action: 'get', id})
  }

  async function deleteRecord(id) {
    checkId(id)
    const body = await call(config.functions.history, {action: 'delete', id})
    return {deleted: body.deleted || id}
  }

  async function deleteAll() {
    const body = await call(config.functions.history, {action: 'delete_all'})
    return {deleted: Number(body.deleted) || 0}
  }

  /**
   * The async path: `get` the record until it is done or failed, at most `tries` times.
   * A failed record throws its own error (or prediction_failed); running out of tries throws
   * still_processing (retryable: the record keeps going on the backend).
   */
  async function pollRecord(id, {tries, intervalMs} = {}) {
    const maxTries = tries || limits.pollTries
    const wait = intervalMs === undefined ? limits.pollIntervalMs : intervalMs
    for (let attempt = 1; attempt <= maxTries; attempt += 1) {
      let record = null
      try {
        record = await getRecord(id)
      } catch (err) {
        // Right after the upload the record may not be written yet.
        if (err.code !== 'not_found' || attempt === maxTries) throw err
      }
      if (record && record.status === 'failed') {
        throw record.error ? errors.fromBackend(record) : errors.makeError('prediction_failed')
      }
      if (record && FINAL_STATUSES.includes(record.status || 'done')) return record
      if (attempt < maxTries) await sleep(wait)
    }
    throw errors.makeError('still_processing', {details: {id}})
  }

  /** The served models' public cards: {models: [{name, version, demo, description, labels, …}], default}. */
  async function listModels() {
    const body = await call(config.functions.predict, {action: 'models'})
    if (!Array.isArray(body.models)) throw errors.makeError('bad_response')
    return {models: body.models, default: body.default || ''}
  }

  /**
   * What one chosen image needs across retries: a request id (the backend makes one record per id) and,
   * once they exist, its upload path and fileID (a retry never uploads to a second path).
   */
  function newJob() {
    const random = Math.random().toString(36).slice(2, 12)
    return {requestId: `mp-${Date.now().toString(36)}-${random}`, target: null, fileID: null}
  }

  async function analyseOnce({filePath, ext, model}, {onProgress, onPhase}, job) {
    if (!job.fileID) {
      if (onPhase) onPhase('uploading')
      const upload = await uploadImage(filePath, ext, onProgress, model, job)
      job.fileID = upload.fileID
    }
    if (onPhase) onPhase('predicting')
    const answer = await predict({fileID: job.fileID, model, requestId: job.requestId})
    if (answer.status === 'pending') return pollRecord(answer.id)
    if (answer.status === 'failed') {
      throw answer.error ? errors.fromBackend(answer) : errors.makeError('prediction_failed')
    }
    return answer
  }

  /**
   * The whole journey: upload → predict → (poll if pending). `onPhase` gets 'uploading' | 'predicting'.
   * A retryable failure is retried here (limits.retries times) with the same job; pass the same `job`
   * (newJob()) again to retry by hand: either way one image makes one record.
   */
  async function analyse(input, {onProgress, onPhase, job} = {}) {
    const work = job || newJob()
    const retries = limits.retries === undefined ? 2 : limits.retries
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await analyseOnce(input, {onProgress, onPhase}, work)
      } catch (err) {
        const failure = errors.normalize(err, 'unknown_error')
        if (!failure.retryable || attempt >= retries) throw failure
        await sleep(500 * 2 ** attempt)
      }
    }
  }

  // Share links, consent and the doctor's read (services/review-api.js), on the same `call`.
  const review = require('./review-api.js').createReviewApi({call, checkId, historyName: config.functions.history})

  return {
    ...review,
    uploadImage,
    predict,
    listHistory,
    getRecord,
    deleteRecord,
    deleteAll,
    pollRecord,
    listModels,
    analyse,
    newJob,
  }
}

module.exports = Object.assign(createApi(), {createApi, withTimeout})
