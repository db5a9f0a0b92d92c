// The error table: complete against the backend's codes, bilingual everywhere, and the platform
// failures classified by what wx.cloud says.
const fs = require('fs')
const path = require('path')
const errors = require('../../app/services/errors.js')

const REPO = path.resolve(__dirname, '../../..')
const CJK = /[\u4e00-\u9fff]/

/** The codes of the error table in docs/API.md (first column, in backticks). */
function apiDocCodes() {
  const text = fs.readFileSync(path.join(REPO, 'docs/API.md'), 'utf8')
  const section = text.split('## Errors')[1].split('\n## ')[0]
  return [...section.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1])
}

test('docs/API.md lists codes, and every one has a message here', () => {
  const codes = apiDocCodes()
  expect(codes.length).toBeGreaterThanOrEqual(14)
  const missing = codes.filter((c) => !errors.MESSAGES[c] || !errors.BACKEND_CODES.includes(c))
  expect(missing).toEqual([])
})

// Codes that exist only in xiaofei/ and not in docs/API.md (operator-side ones among them) are not
// required here: an unknown code is shown with the backend's own bilingual message (api.test.js).

test.each(Object.keys(errors.MESSAGES))('%s has a Chinese and an English message', (code) => {
  const entry = errors.MESSAGES[code]
  expect(entry.zh).toMatch(CJK)
  expect(entry.en).toMatch(/^[A-Z].*\.$/)
  expect(typeof entry.retryable).toBe('boolean')
})

test('retry is offered for transient failures only', () => {
  const retryable = Object.keys(errors.MESSAGES).filter((c) => errors.MESSAGES[c].retryable)
  for (const code of ['network_error', 'timeout', 'model_unavailable', 'storage_unavailable', 'upload_failed']) {
    expect(retryable).toContain(code)
  }
  for (const code of ['unsupported_format', 'corrupt_image', 'not_found', 'payload_too_large', 'unauthorized']) {
    expect(retryable).not.toContain(code)
  }
})

test('fromBackend keeps status, request id and details', () => {
  const err = errors.fromBackend({error: {code: 'image_too_large', status: 413, request_id: 'abc', details: {max: 1}}})
  expect(err).toMatchObject({code: 'image_too_large', status: 413, requestId: 'abc', details: {max: 1}, retryable: false})
  expect(err.message).toEqual({zh: errors.MESSAGES.image_too_large.zh, en: errors.MESSAGES.image_too_large.en})
})

test('an unknown code with a one-language message is bad_response', () => {
  expect(errors.fromBackend({error: {code: 'x', message: {en: 'only english'}}}).code).toBe('bad_response')
})

test.each([
  ['cloud.callFunction:fail request:fail', 'network_error'],
  ['uploadFile:fail ERR_CONNECTION_RESET', 'network_error'],
  ['网络异常', 'network_error'],
  ['request timeout', 'timeout'],
  ['Invoking task timed out after 20 seconds', 'timeout'],
  ['cloud.callFunction:fail -501000 [ResourceNotFound.FunctionName] FunctionName parameter could not be found', 'function_not_found'],
  ['function not found', 'function_not_found'],
  ['something else', 'cloud_call_failed'],
])('platform message %p → %s', (errMsg, code) => {
  expect(errors.fromPlatform({errMsg}).code).toBe(code)
})

test('the fallback code is used when the text says nothing specific', () => {
  expect(errors.fromPlatform({errMsg: 'storage said no'}, 'upload_failed').code).toBe('upload_failed')
  expect(errors.normalize(undefined, 'upload_failed').code).toBe('upload_failed')
})

test('normalize passes ApiErrors through and reads error bodies', () => {
  const err = errors.makeError('timeout')
  expect(errors.normalize(err)).toBe(err)
  expect(errors.normalize({error: {code: 'forbidden', status: 403}}).code).toBe('forbidden')
})

test('makeError with an unknown code is unknown_error', () => {
  expect(errors.makeError('no_such_code').code).toBe('unknown_error')
})
