// Every failure the user can meet, as one normalised shape: {code, message: {zh, en}, retryable}.
//
// Backend codes come from docs/API.md and xiaofei/ (`res.result.error.code` of a cloud call); the client codes
// below them cover what happens before an answer exists (network, timeouts, upload, bad replies).
// tests/services/errors.test.js fails if docs/API.md gains a code that is missing here; a code this
// table does not know is shown with the backend's own bilingual message.

const MESSAGES = {
  // Backend codes (docs/API.md "Errors").
  bad_request: {
    zh: '请求有误，请返回重试。如果一直出现，请更新小程序。',
    en: 'The request was not understood. Please try again; if it keeps happening, update the mini program.',
    retryable: false,
  },
  empty_image: {
    zh: '没有收到图片，请重新选择一张。',
    en: 'No image arrived. Please choose one again.',
    retryable: false,
  },
  corrupt_image: {
    zh: '图片已损坏或不完整，请换一张。',
    en: 'The image is damaged or incomplete. Please choose another one.',
    retryable: false,
  },
  unsupported_format: {
    zh: '不支持该文件类型，请选择 JPEG、PNG、WebP、BMP 或 DICOM 图片。',
    en: 'This file type is not supported. Please choose a JPEG, PNG, WebP, BMP or DICOM image.',
    retryable: false,
  },
  payload_too_large: {
    zh: '文件太大（上限 10 MB），请压缩或裁剪后再试。',
    en: 'The file is too large (10 MB at most). Please compress or crop it and try again.',
    retryable: false,
  },
  image_too_large: {
    zh: '图片像素过多，请缩小后再试。',
    en: 'The image has too many pixels. Please use a smaller one.',
    retryable: false,
  },
  not_reviewer: {
    zh: '只有本站名单中的审阅医生才能查看分享的记录。',
    en: 'Only doctors on this site\'s reviewer list can open shared records.',
    retryable: false,
  },
  invalid_share: {
    zh: '分享链接无效，请让患者重新分享。',
    en: 'This share link is not valid. Ask the patient to share again.',
    retryable: false,
  },
  share_claimed: {
    zh: '该分享链接已被另一位医生打开。',
    en: 'This share link has already been opened by another doctor.',
    retryable: false,
  },
  record_not_ready: {
    zh: '这条记录还没有分析完成，请稍后再试。',
    en: 'This record is not finished yet. Please try again shortly.',
    retryable: true,
  },
  share_expired: {
    zh: '分享链接已过期，请让患者重新分享。',
    en: 'This share link has expired. Ask the patient for a new one.',
    retryable: false,
  },
  share_revoked: {
    zh: '患者已撤回该分享链接。',
    en: 'The patient has withdrawn this share link.',
    retryable: false,
  },
  gone: {
    zh: '该内容已不再可用。',
    en: 'This is no longer available.',
    retryable: false,
  },
  too_many_shares: {
    zh: '这条记录的有效分享链接已达上限，请先撤回一个。',
    en: 'This record has too many open share links. Withdraw one first.',
    retryable: false,
  },
  unauthorized: {
    zh: '无法确认你的身份，请关闭并重新打开小程序。',
    en: 'We could not confirm who you are. Please close and reopen the mini program.',
    retryable: false,
  },
  forbidden: {
    zh: '没有执行此操作的权限。',
    en: 'You are not allowed to do this.',
    retryable: false,
  },
  not_found: {
    zh: '找不到这条记录，它可能已被删除或已过期。',
    en: 'This record was not found. It may have been deleted or expired.',
    retryable: false,
  },
  method_not_allowed: {
    zh: '不支持该操作，请更新小程序。',
    en: 'This action is not supported. Please update the mini program.',
    retryable: false,
  },
  conflict: {
    zh: '数据正在被同时修改，请重试。',
    en: 'Something changed at the same time. Please try again.',
    retryable: true,
  },
  model_unavailable: {
    zh: '模型暂时不可用，请稍后重试。',
    en: 'The model is temporarily unavailable. Please try again shortly.',
    retryable: true,
  },
  storage_unavailable: {
    zh: '存储服务暂时不可用，请稍后重试。',
    en: 'Storage is temporarily unavailable. Please try again shortly.',
    retryable: true,
  },
  unknown_action: {
    zh: '服务不认识这个操作，请更新小程序。',
    en: 'The service does not know this action. Please update the mini program.',
    retryable: false,
  },
  unknown_model: {
    zh: '没有这个模型，请重新选择模型。',
    en: 'This model does not exist. Please choose another model.',
    retryable: false,
  },
  invalid_manifest: {
    zh: '模型配置有误，暂时无法使用，请稍后重试。',
    en: 'The model is misconfigured and cannot be used right now. Please try again later.',
    retryable: true,
  },
  unavailable: {
    zh: '服务暂时不可用，请稍后重试。',
    en: 'The service is temporarily unavailable. Please try again shortly.',
    retryable: true,
  },
  internal_error: {
    zh: '服务出了点问题，请稍后重试。',
    en: 'Something went wrong on our side. Please try again later.',
    retryable: true,
  },

  // Client codes: no backend answer, or an answer we cannot use.
  network_error: {
    zh: '网络连接失败，请检查网络后重试。',
    en: 'Network error. Please check your connection and try again.',
    retryable: true,
  },
  timeout: {
    zh: '请求超时，请重试。',
    en: 'The request timed out. Please try again.',
    retryable: true,
  },
  upload_failed: {
    zh: '图片上传失败，请重试。',
    en: 'The image could not be uploaded. Please try again.',
    retryable: true,
  },
  cloud_call_failed: {
    zh: '云服务调用失败，请稍后重试。',
    en: 'The cloud service call failed. Please try again shortly.',
    retryable: true,
  },
  function_not_found: {
    zh: '服务尚未部署，请联系管理员。',
    en: 'The service is not deployed yet. Please contact the operator.',
    retryable: false,
  },
  bad_response: {
    zh: '服务返回了无法识别的结果，请重试。',
    en: 'The service sent an answer we could not read. Please try again.',
    retryable: true,
  },
  still_processing: {
    zh: '结果仍在生成中，请稍后在“历史”中查看或重试。',
    en: 'The result is still being prepared. Check History later or try again.',
    retryable: true,
  },
  prediction_failed: {
    zh: '这张图片分析失败，请重试或换一张。',
    en: 'Analysing this image failed. Please try again or choose another one.',
    retryable: true,
  },
  choose_failed: {
    zh: '无法打开相册或相机，请在设置中允许访问后重试。',
    en: 'Could not open the album or camera. Please allow access in Settings and try again.',
    retryable: true,
  },
  file_unreadable: {
    zh: '无法读取这张图片，请重试或换一张。',
    en: 'This image could not be read. Please try again or choose another one.',
    retryable: true,
  },
  env_missing: {
    zh: '小程序未配置云开发环境（config.js 的 envId），请联系管理员。',
    en: 'The mini program has no CloudBase environment set (envId in config.js). Please contact the operator.',
    retryable: false,
  },
  unknown_error: {
    zh: '出现未知错误，请重试。',
    en: 'An unexpected error occurred. Please try again.',
    retryable: true,
  },
}

/** Codes the backend sends (docs/API.md, xiaofei/); the rest of MESSAGES are client codes. */
const BACKEND_CODES = [
  'bad_request', 'empty_image', 'corrupt_image', 'unsupported_format', 'payload_too_large',
  'image_too_large', 'unauthorized', 'forbidden', 'not_found', 'method_not_allowed', 'conflict',
  'unknown_action', 'unknown_model', 'invalid_manifest',
  'model_unavailable', 'storage_unavailable', 'unavailable', 'internal_error',
  'not_reviewer', 'invalid_share', 'share_claimed', 'share_expired', 'share_revoked', 'gone',
  'record_not_ready', 'too_many_shares',
]

class ApiError {
  /**
   * @param {string} code  a key of MESSAGES (an unknown backend code keeps its own message)
   * @param {{zh: string, en: string}} message
   * @param {boolean} retryable
   * @param {object} [extra]  {status, requestId, details, cause}: for logs, never shown raw
   */
  constructor(code, message, retryable, extra = {}) {
    this.code = code
    this.message = message
    this.retryable = retryable
    this.status = extra.status || 0
    this.requestId = extra.requestId || ''
    this.details = extra.details || null
    this.cause = extra.cause
  }
}

function isApiError(value) {
  return value instanceof ApiError
}

/** An ApiError for a known code (client or backend). */
function makeError(code, extra) {
  const entry = MESSAGES[code] || MESSAGES.unknown_error
  const known = Boolean(MESSAGES[code])
  return new ApiError(known ? code : 'unknown_error', {zh: entry.zh, en: entry.en}, entry.retryable, extra)
}

function isBilingual(message) {
  return Boolean(message && typeof message.zh === 'string' && typeof message.en === 'string' &&
    message.zh && message.en)
}

/** The `{error: {code, status, message, request_id, details}}` body of docs/API.md → ApiError. */
function fromBackend(body) {
  const error = (body && body.error) || {}
  const extra = {status: error.status, requestId: error.request_id, details: error.details}
  if (MESSAGES[error.code]) return makeError(error.code, extra)
  // A code newer than this client: trust the backend's own bilingual message; 5xx may be retried.
  if (typeof error.code === 'string' && isBilingual(error.message)) {
    const retryable = !(error.status >= 400 && error.status < 500)
    return new ApiError(error.code, {zh: error.message.zh, en: error.message.en}, retryable, extra)
  }
  return makeError('bad_response', extra)
}

function errText(err) {
  if (!err) return ''
  if (typeof err === 'string') return err
  return [err.errMsg, err.message, err.errCode].filter((v) => v !== undefined && v !== null).join(' ')
}

/**
 * A failed wx.cloud.* call ({errCode, errMsg} or an Error) → ApiError. `fallback` is the code used
 * when the text says nothing more specific (cloud_call_failed for calls, upload_failed for uploads).
 */
function fromPlatform(err, fallback = 'cloud_call_failed') {
  if (isApiError(err)) return err
  const text = errText(err)
  const extra = {cause: text, details: err && err.errCode !== undefined ? {errCode: err.errCode} : null}
  if (/time(d)?\s?out|超时/i.test(text)) return makeError('timeout', extra)
  if (/function.*not.*(found|exist)|FUNCTION_NOT_FOUND|-501000/i.test(text)) {
    return makeError('function_not_found', extra)
  }
  if (/request:fail|network|offline|ERR_|connect|网络|-1\b/i.test(text)) return makeError('network_error', extra)
  return makeError(fallback, extra)
}

/** Anything thrown inside the service layer → ApiError (already-normalised errors pass through). */
function normalize(err, fallback) {
  if (isApiError(err)) return err
  if (err && err.error && typeof err.error === 'object') return fromBackend(err)
  return fromPlatform(err, fallback)
}

module.exports = {
  MESSAGES,
  BACKEND_CODES,
  ApiError,
  isApiError,
  makeError,
  fromBackend,
  fromPlatform,
  normalize,
}
