// What the pages show of the doctor's read, a record's share links and the owner's consent
// (docs/API.md "The doctor's read"), in both languages.
const format = require('./format.js')

function labelOf(record, id) {
  const p = ((record && record.probabilities) || []).find((x) => x.label === id)
  return {zh: (p && p.label_zh) || id || '', en: (p && p.label_en) || id || ''}
}

/** The doctor's read of a record, or null when nobody has reviewed it. */
function reviewView(record) {
  const r = record && record.review
  if (!r) return null
  const label = labelOf(record, r.label)
  const verdict = {
    agree: {zh: '同意 AI 的结果', en: 'Agrees with the AI'},
    label: {zh: `医生的判断：${label.zh}`, en: `The doctor's read: ${label.en}`},
    cannot_tell: {zh: '医生无法判断', en: 'The doctor cannot tell'},
  }[r.verdict] || {zh: '', en: ''}
  return {verdict: r.verdict, zh: verdict.zh, en: verdict.en, note: r.note || '', by: r.by || '', dateText: format.dateText(r.at)}
}

/** Share links, newest first, with their state. */
function sharesView(record, now = Date.now()) {
  return ((record && record.shares) || []).slice().reverse().map((s) => {
    const expired = new Date(s.expires_at).getTime() <= now
    const state = s.revoked_at ? 'revoked' : expired ? 'expired' : 'open'
    const text = {
      revoked: '已撤回 Withdrawn',
      expired: '已过期 Expired',
      open: `${format.dateText(s.expires_at)} 到期 expires${s.claimed_name ? ` · ${s.claimed_name} 已打开 opened` : ''}`,
    }[state]
    return {id: s.id, state, text, open: state === 'open'}
  })
}

/** The labels a doctor can choose, for a picker: [{id, text}]. */
function labelChoices(labels) {
  return (labels || []).map((l) => ({id: l.id, text: `${l.zh || l.en} ${l.en || ''}`.trim()}))
}

module.exports = {reviewView, sharesView, labelChoices}
