// One stored record (opened from History): the same result card, with fresh short-lived URLs
// from `history get`, and deletion with a confirmation. Below it, the doctor's read: whether a doctor
// reviewed it, the owner's consent to training, and share cards for a doctor (one link each).
const api = require('../../services/api.js')
const errors = require('../../services/errors.js')
const review = require('../../utils/review.js')
const ui = require('../../utils/ui.js')

const HOURS = [24, 72, 168]

Page({
  data: {
    id: '',
    answer: null,
    loading: false,
    error: null,
    review: null,
    consent: false,
    shares: [],
    hoursOptions: ['1 天 1 day', '3 天 3 days', '7 天 7 days'],
    hoursIndex: 1,
    sharePath: '',
  },

  onLoad(query) {
    this.setData({id: (query && query.id) || ''})
    return this.run(this.fetch)
  },

  onRetry() {
    return this.run(this.lastAction || this.fetch)
  },

  onDismiss() {
    this.setData({error: null})
  },

  async onDelete() {
    const ok = await ui.confirm({
      title: '删除这条记录？Delete this record?',
      content: '图片、热力图和结果将被永久删除。The image, heatmap and result will be deleted for good.',
    })
    if (ok) await this.run(this.remove)
  },

  async run(action) {
    this.lastAction = action
    this.setData({loading: true, error: null})
    try {
      await action.call(this)
    } catch (err) {
      this.setData({error: errors.normalize(err, 'unknown_error')})
    } finally {
      this.setData({loading: false})
    }
  },

  show(answer) {
    this.setData({
      answer,
      review: review.reviewView(answer),
      consent: Boolean(answer.consent && answer.consent.export),
      shares: review.sharesView(answer),
    })
  },

  async fetch() {
    let answer = await api.getRecord(this.data.id)
    if (answer.status === 'pending') {
      this.setData({answer})
      answer = await api.pollRecord(this.data.id)
    }
    this.show(answer)
  },

  async remove() {
    await api.deleteRecord(this.data.id)
    ui.toast('已删除 Deleted')
    wx.navigateBack()
  },

  onConsent(e) {
    const want = Boolean(e.detail.value)
    return this.run(async function consent() {
      const body = await api.setConsent(this.data.id, want)
      this.show({...this.data.answer, consent: body.consent})
    })
  },

  onHours(e) {
    this.setData({hoursIndex: Number(e.detail.value) || 0})
  },

  /** Make the link first; the "send" button (open-type share) then carries it in the share card. */
  onPrepareShare() {
    return this.run(async function prepare() {
      const body = await api.shareRecord(this.data.id, HOURS[this.data.hoursIndex])
      const share = {id: body.share.id, expires_at: body.share.expires_at, revoked_at: null}
      this.setData({sharePath: body.mp_path})
      this.show({...this.data.answer, shares: [...(this.data.answer.shares || []), share]})
    })
  },

  onRevoke(e) {
    const shareId = e.currentTarget.dataset.id
    return this.run(async function revoke() {
      await api.revokeShare(this.data.id, shareId)
      const now = new Date().toISOString()
      const shares = (this.data.answer.shares || []).map((s) => (s.id === shareId ? {...s, revoked_at: now} : s))
      if (this.data.sharePath.indexOf(shareId) >= 0) this.setData({sharePath: ''})
      this.show({...this.data.answer, shares})
      ui.toast('已撤回 Withdrawn')
    })
  },

  /** The share card: the prepared link when the "send" button was used; the home page otherwise. */
  onShareAppMessage(res) {
    if (res && res.from === 'button' && this.data.sharePath) {
      return {title: '小肺：请医生帮我看看这条记录 Please review this record', path: this.data.sharePath}
    }
    return {title: '小肺 Xiaofei', path: '/pages/home/index'}
  },
})
