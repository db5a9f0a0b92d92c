// An in-memory stand-in for the two cloud functions and cloud storage, at the wx.cloud boundary.
// It follows docs/API.md (actions, answer shape, error bodies) so services/api.js is exercised as
// it would be against the real backend. Tests steer it with `cloud.answer` (what the next
// prediction looks like) and `cloud.intercept` (inject failures per call).

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'
const ENV = 'xiaofei-test-1a2b'
const BUCKET = '7869-xiaofei-test-1a2b-1300000000'

/** A valid record id (xiaofei/ids.py shape), increasing with n so newer sorts first by id. */
function makeId(n) {
  let value = n
  let tail = ''
  for (let i = 0; i < 25; i += 1) {
    tail = ALPHABET[value % 32] + tail
    value = Math.floor(value / 32)
  }
  return `0${tail}`
}

/** A prediction body as docs/API.md describes it, from class probabilities. */
function makeAnswer({id, model = 'pneumonia', demo = true, probs, quality, uncertain, uncertainReason, createdAt}) {
  const labels = {
    normal: ['正常', 'Normal'],
    bacterial: ['细菌性肺炎', 'Bacterial pneumonia'],
    viral: ['病毒性肺炎', 'Viral pneumonia'],
    psoriasis: ['银屑病', 'Psoriasis'],
    normal_skin: ['正常皮肤', 'Normal skin'],
  }
  const probabilities = Object.entries(probs)
    .map(([label, p]) => ({label, label_zh: labels[label][0], label_en: labels[label][1], p}))
    .sort((a, b) => b.p - a.p)
  const top = probabilities[0]
  const refused = quality && quality.ok === false
  const answer = {
    id,
    created_at: createdAt || '2026-11-21T22:50:00Z',
    status: 'done',
    model: {name: model, version: demo ? '1.0.0-demo' : '1.0.0', demo},
    label: refused ? null : top.label,
    label_zh: refused ? null : top.label_zh,
    label_en: refused ? null : top.label_en,
    confidence: refused ? null : top.p,
    uncertain: refused ? true : Boolean(uncertain),
    uncertain_reason: uncertainReason || null,
    quality: quality || {ok: true, reason: null, message: null, warnings: []},
    probabilities,
    heatmap: {key: `heatmaps/u/${id}.png`, url: `https://cos.example/heatmaps/${id}.png?sig=1`},
    image: {key: `images/u/${id}.jpg`, url: `https://cos.example/images/${id}.jpg?sig=1`},
    latency_ms: {decode: 3.1, infer: 4.2, total: 11},
    disclaimer: {zh: '本产品仅作辅助诊断使用，如有不适请及时就医', en: 'For decision support only; see a doctor.'},
  }
  if (demo) answer.demo_notice = {zh: '演示模型，仅供体验。', en: 'Demo model, for trying things out only.'}
  if (refused) {
    answer.probabilities_note = {zh: '这些数值不是诊断。', en: 'These numbers are not a diagnosis.'}
  }
  return answer
}

function errorBody(code, status, en = `en: ${code}`, zh = `中文：${code}`) {
  return {error: {code, status, message: {en, zh}, request_id: 'req-1'}}
}

function createFakeCloud() {
  let counter = 1000
  const records = new Map() // id → record; newest id is largest
  const uploads = new Map() // cloudPath → {filePath, fileID}
  const cloud = {
    ENV,
    BUCKET,
    records,
    uploads,
    calls: [], // every callFunction {name, data}
    uploadCalls: [], // every uploadFile {cloudPath, filePath}
    aborted: 0,
    // What the next prediction answers (probabilities etc.), see makeAnswer.
    answer: {probs: {bacterial: 0.91, viral: 0.06, normal: 0.03}},
    // predict: 'sync' answers at once; 'async' leaves the record pending for `pendingGets` gets.
    mode: 'sync',
    pendingGets: 2,
    // (name, data) → undefined to go on, or a value / rejected promise to answer instead.
    intercept: null,
    // uploadFile behaviour: 'ok' | 'fail' | 'network' | 'hang'
    upload: 'ok',
    progressSteps: [10, 55, 100],
    // The doctor's read: whether the caller is on the reviewer list, and their reviewer code.
    reviewer: false,
    reviewerCode: 'c0ffee00c0ffee00c0ffee00c0ffee00',
  }

  function addRecord(record) {
    records.set(record.id, record)
    return record
  }

  function seed(n, overrides = {}) {
    const made = []
    for (let i = 0; i < n; i += 1) {
      counter += 1
      made.push(addRecord(makeAnswer({id: makeId(counter), ...cloud.answer, ...overrides})))
    }
    return made
  }

  function newestFirst() {
    return Array.from(records.values()).sort((a, b) => (a.id < b.id ? 1 : -1))
  }

  const actions = {
    'predict:upload'(data) {
      if (!['jpg', 'jpeg', 'png', 'webp', 'bmp', 'dcm'].includes(data.ext)) {
        return errorBody('unsupported_format', 415)
      }
      counter += 1
      const id = makeId(counter)
      const key = `uploads/0123456789abcdef0123456789abcdef/${id}.${data.ext}`
      addRecord({id, status: 'pending', created_at: '2026-11-21T22:50:00Z', model: {name: data.model || 'pneumonia'}})
      return {id, key, model: data.model || 'pneumonia', max_bytes: 10000000, cloud_path: key}
    },
    'predict:predict'(data) {
      const prefix = `cloud://${ENV}.${BUCKET}/`
      const key = typeof data.fileID === 'string' && data.fileID.startsWith(prefix) ? data.fileID.slice(prefix.length) : ''
      if (!uploads.has(key)) return errorBody('not_found', 404)
      const id = key.split('/').pop().split('.')[0]
      const done = makeAnswer({id, model: data.model, ...cloud.answer})
      if (cloud.mode === 'async') {
        const pending = {...records.get(id), getsLeft: cloud.pendingGets, final: done}
        addRecord(pending)
        return {id, status: 'pending', model: {name: data.model}, created_at: pending.created_at}
      }
      return addRecord(done)
    },
    'predict:models'() {
      return {
        default: 'pneumonia',
        models: [
          {
            name: 'pneumonia', version: '1.0.0-demo', task: 'classification', demo: true,
            description: {zh: '胸片肺炎分型', en: 'Pneumonia type from a chest X-ray'},
            intended_use: {zh: '演示', en: 'Demonstration'},
            labels: [{id: 'normal', zh: '正常', en: 'Normal'}, {id: 'viral', zh: '病毒性肺炎', en: 'Viral pneumonia'}],
            training: {synthetic: true}, metrics: {split: 'synthetic-test', accuracy: 0.93},
          },
        ],
      }
    },
    'history:list'(data) {
      const limit = data.limit === undefined ? 20 : data.limit
      if (!Number.isInteger(limit) || limit < 1 || limit > 50) return errorBody('bad_request', 400)
      const all = newestFirst()
      const start = data.cursor ? all.findIndex((r) => r.id < data.cursor) : 0
      if (data.cursor && start < 0) return {items: [], next_cursor: null}
      const items = all.slice(start, start + limit)
      const more = start + limit < all.length
      return {items: items.map(publicOf), next_cursor: more ? items[items.length - 1].id : null}
    },
    'history:get'(data) {
      const record = records.get(data.id)
      if (!record) return errorBody('not_found', 404)
      if (record.final) {
        if (record.getsLeft > 0) {
          record.getsLeft -= 1
          return publicOf(record)
        }
        return addRecord(record.final)
      }
      return publicOf(record)
    },
    'history:delete'(data) {
      if (!records.delete(data.id)) return errorBody('not_found', 404)
      return {deleted: data.id}
    },
    'history:share'(data) {
      const record = records.get(data.id)
      if (!record) return errorBody('not_found', 404)
      if (record.status !== 'done') return errorBody('record_not_ready', 409)
      counter += 1
      const share = {id: makeId(counter), created_at: '2026-12-03T10:00:00.000Z', expires_at: '2099-01-01T00:00:00.000Z', revoked_at: null}
      record.shares = [...(record.shares || []), share]
      const token = `tok.${record.id}.${share.id}`
      return {share: {id: share.id, record: record.id, expires_at: share.expires_at}, token,
        url: `http://127.0.0.1:8000/review.html#share=${token}`, mp_path: `/pages/review/index?share=${token}`}
    },
    'history:unshare'(data) {
      const record = records.get(data.id)
      const share = record && (record.shares || []).find((s) => s.id === data.share_id)
      if (!share) return errorBody('not_found', 404)
      share.revoked_at = share.revoked_at || '2026-12-03T11:00:00.000Z'
      return {revoked: share.id}
    },
    'history:consent'(data) {
      const record = records.get(data.id)
      if (!record) return errorBody('not_found', 404)
      if (typeof data.export !== 'boolean') return errorBody('bad_request', 400)
      record.consent = {export: data.export, at: '2026-12-03T10:00:00.000Z'}
      return {id: record.id, consent: record.consent}
    },
    'history:reviewer'() {
      return {code: cloud.reviewerCode, reviewer: cloud.reviewer, name: cloud.reviewer ? 'Dr Li' : null}
    },
    'history:shared'(data) {
      const found = sharedOf(data.share)
      if (found.error) return found
      const {record, share} = found
      const view = publicOf(record)
      delete view.shares
      delete view.consent
      const labels = record.probabilities.map((p) => ({id: p.label, zh: p.label_zh, en: p.label_en}))
      return {record: view, labels, share: {id: share.id, expires_at: share.expires_at}, verdicts: ['agree', 'label', 'cannot_tell']}
    },
    'history:review'(data) {
      const found = sharedOf(data.share)
      if (found.error) return found
      const {record, share} = found
      if (!['agree', 'label', 'cannot_tell'].includes(data.verdict)) return errorBody('bad_request', 400)
      const ids = record.probabilities.map((p) => p.label)
      if (data.verdict === 'label' && !ids.includes(data.label)) return errorBody('bad_request', 400)
      const label = data.verdict === 'agree' ? record.label : data.verdict === 'label' ? data.label : null
      record.review = {verdict: data.verdict, label, note: (data.note || '').trim(), by: 'Dr Li', at: '2026-12-03T12:00:00.000Z',
        share: share.id, model_label: record.label}
      return {review: record.review}
    },
    'history:delete_all'() {
      const n = records.size
      records.clear()
      return {deleted: n}
    },
  }

  /** The record and share a share token names, or an error body (the backend's order of checks). */
  function sharedOf(token) {
    if (!cloud.reviewer) {
      return {error: {code: 'not_reviewer', status: 403, message: {en: 'en', zh: '中文'}, details: {reviewer_code: cloud.reviewerCode}}}
    }
    const [kind, recordId, shareId] = String(token || '').split('.')
    const record = records.get(recordId)
    const share = record && (record.shares || []).find((s) => s.id === shareId)
    if (kind !== 'tok' || !share) return record || kind !== 'tok' ? errorBody('invalid_share', 403) : errorBody('not_found', 404)
    if (share.revoked_at) return errorBody('share_revoked', 410)
    return {record, share}
  }

  function publicOf(record) {
    const out = {...record}
    delete out.final
    delete out.getsLeft
    return out
  }

  const wx = {
    env: {USER_DATA_PATH: 'wxfile://usr'},
    cloud: {
      DYNAMIC_CURRENT_ENV: Symbol('current env'),
      init: jest.fn(),
      callFunction: jest.fn(({name, data}) => {
        cloud.calls.push({name, data})
        if (cloud.intercept) {
          const out = cloud.intercept(name, data)
          if (out !== undefined) return out
        }
        const action = data.action || (name === 'predict' ? 'predict' : 'list')
        const handler = actions[`${name}:${action}`]
        const result = handler ? handler(data) : errorBody('unknown_action', 400)
        return Promise.resolve({errMsg: 'cloud.callFunction:ok', result: JSON.parse(JSON.stringify(result)), requestID: 'r'})
      }),
      uploadFile: jest.fn(({cloudPath, filePath, success, fail}) => {
        cloud.uploadCalls.push({cloudPath, filePath})
        const listeners = []
        const task = {
          onProgressUpdate: (cb) => listeners.push(cb),
          abort: () => {
            cloud.aborted += 1
          },
        }
        if (cloud.upload === 'hang') return task
        setTimeout(() => {
          if (cloud.upload === 'fail') return fail({errCode: -403003, errMsg: 'cloud.uploadFile:fail storage error'})
          if (cloud.upload === 'network') return fail({errCode: -1, errMsg: 'cloud.uploadFile:fail request:fail'})
          for (const progress of cloud.progressSteps) {
            listeners.forEach((cb) => cb({progress, totalBytesSent: progress, totalBytesExpectedToSend: 100}))
          }
          const fileID = `cloud://${ENV}.${BUCKET}/${cloudPath}`
          uploads.set(cloudPath, {filePath, fileID})
          success({fileID, statusCode: 204, errMsg: 'cloud.uploadFile:ok'})
        }, 0)
        return task
      }),
    },
  }

  cloud.wx = wx
  cloud.seed = seed
  cloud.makeId = makeId
  return cloud
}

module.exports = {createFakeCloud, makeAnswer, makeId, errorBody}
