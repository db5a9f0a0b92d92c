// The doctor's read (docs/API.md "The doctor's read"): share a record, withdraw a link, consent to
// training, and — for a doctor on the site's reviewer list — open a shared record and record a read.
// Built by services/api.js on its own `call`, so api.js stays the only module that reaches the cloud.

const errors = require('./errors.js')

const VERDICTS = ['agree', 'label', 'cannot_tell']
const SHARE_HOURS = [24, 72, 168]

function createReviewApi({call, checkId, historyName}) {
  function checkToken(token) {
    if (typeof token !== 'string' || !token || token.length > 1024) throw errors.makeError('invalid_share')
  }

  /** A link for one doctor to open this one record: {share: {id, expires_at}, token, mp_path, url}. */
  async function shareRecord(id, hours) {
    checkId(id)
    const body = await call(historyName, {action: 'share', id, expires_in_hours: SHARE_HOURS.includes(hours) ? hours : 72})
    if (typeof body.token !== 'string' || typeof body.mp_path !== 'string') throw errors.makeError('bad_response')
    return body
  }

  async function revokeShare(id, shareId) {
    checkId(id)
    checkId(shareId)
    return call(historyName, {action: 'unshare', id, share_id: shareId})
  }

  /** The owner's explicit yes (true) or no (false) to training on this film: {id, consent}. */
  async function setConsent(id, exportOk) {
    checkId(id)
    if (typeof exportOk !== 'boolean') throw errors.makeError('bad_request', {details: {field: 'export'}})
    return call(historyName, {action: 'consent', id, export: exportOk})
  }

  /** {code, reviewer, name}: the caller's reviewer code, to give the site's operator. */
  function whoami() {
    return call(historyName, {action: 'reviewer'})
  }

  /** A reviewer opens a shared record: {record, labels, share, verdicts}. */
  async function openShare(token) {
    checkToken(token)
    const body = await call(historyName, {action: 'shared', share: token})
    if (!body.record || !Array.isArray(body.labels)) throw errors.makeError('bad_response')
    return body
  }

  async function reviewShare(token, {verdict, label, note}) {
    checkToken(token)
    if (!VERDICTS.includes(verdict)) throw errors.makeError('bad_request', {details: {field: 'verdict'}})
    const data = {action: 'review', share: token, verdict, note: note || ''}
    if (verdict === 'label') data.label = label
    const body = await call(historyName, data)
    if (!body.review) throw errors.makeError('bad_response')
    return body.review
  }

  return {shareRecord, revokeShare, setConsent, whoami, openShare, reviewShare}
}

module.exports = {createReviewApi, VERDICTS, SHARE_HOURS}
