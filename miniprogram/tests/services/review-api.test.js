// services/review-api.js through services/api.js: what each call sends, and what it refuses before
// calling the backend at all.
const {createApi} = require('../../app/services/api.js')
const {createFakeCloud} = require('../helpers/fake-cloud.js')

let cloud
let api

beforeEach(() => {
  cloud = createFakeCloud()
  api = createApi({wx: cloud.wx, sleep: async () => {}})
})

test('each action goes to the history function with the documented fields', async () => {
  const [r] = cloud.seed(1)
  const link = await api.shareRecord(r.id, 168)
  await api.setConsent(r.id, true)
  await api.revokeShare(r.id, link.share.id)
  await api.whoami()
  expect(cloud.calls.map((c) => [c.name, c.data])).toEqual([
    ['history', {action: 'share', id: r.id, expires_in_hours: 168}],
    ['history', {action: 'consent', id: r.id, export: true}],
    ['history', {action: 'unshare', id: r.id, share_id: link.share.id}],
    ['history', {action: 'reviewer'}],
  ])
  await api.shareRecord(r.id, 5) // not offered by the page: the default lifetime
  expect(cloud.calls[4].data.expires_in_hours).toBe(72)
})

test('bad arguments are refused without a call', async () => {
  const [r] = cloud.seed(1)
  await expect(api.shareRecord('../x')).rejects.toMatchObject({code: 'bad_request'})
  await expect(api.revokeShare(r.id, 'nope')).rejects.toMatchObject({code: 'bad_request'})
  await expect(api.setConsent(r.id, 'yes')).rejects.toMatchObject({code: 'bad_request'})
  await expect(api.openShare('')).rejects.toMatchObject({code: 'invalid_share'})
  await expect(api.openShare('x'.repeat(2000))).rejects.toMatchObject({code: 'invalid_share'})
  await expect(api.reviewShare('tok', {verdict: 'maybe'})).rejects.toMatchObject({code: 'bad_request'})
  expect(cloud.calls).toHaveLength(0)
})

test('a read sends its label only with the verdict "label"', async () => {
  const [r] = cloud.seed(1)
  cloud.reviewer = true
  const {token} = await api.shareRecord(r.id)
  await api.reviewShare(token, {verdict: 'agree', label: 'viral', note: 'ok'})
  expect(cloud.calls[1].data).toEqual({action: 'review', share: token, verdict: 'agree', note: 'ok'})
  const saved = await api.reviewShare(token, {verdict: 'label', label: 'viral'})
  expect(saved).toMatchObject({verdict: 'label', label: 'viral'})
})
