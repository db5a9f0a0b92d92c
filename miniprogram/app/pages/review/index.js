// The doctor's page: a patient's share card opens /pages/review/index?share=<token>. A doctor on the
// site's reviewer list sees that one record (film, heat layer, the AI's answer) and records a read:
// agree / their own label / cannot tell, with a note. Anyone else is told their reviewer code, to give
// the site's operator (`xiaofei reviewer add CODE --name …`).
const api = require('../../services/api.js')
const errors = require('../../services/errors.js')
const review = require('../../utils/review.js')
const ui = require('../../utils/ui.js')

Page({
  data: {
    token: '',
    answer: null,
    labels: [],
    verdict: '',
    labelIndex: 0,
    note: '',
    canAgree: false,
    loading: false,
    saving: false,
    error: null,
    code: '',
    saved: null,
  },

  onLoad(query) {
    let token = (query && query.share) || ''
    try {
      token = decodeURIComponent(token)
    } catch (e) {
      token = ''
    }
    this.setData({token})
    return this.open()
  },

  async open() {
    this.setData({loading: true, error: null, code: ''})
    try {
      const body = await api.openShare(this.data.token)
      const labels = review.labelChoices(body.labels)
      const current = body.record.review || {}
      const index = labels.findIndex((l) => l.id === current.label)
      this.setData({
        answer: body.record,
        labels,
        canAgree: Boolean(body.record.label),
        verdict: current.verdict || '',
        labelIndex: index >= 0 ? index : 0,
        note: current.note || '',
        saved: review.reviewView(body.record),
      })
    } catch (err) {
      const error = errors.normalize(err, 'unknown_error')
      const code = error.code === 'not_reviewer' && error.details ? error.details.reviewer_code || '' : ''
      this.setData({error, code})
    } finally {
      this.setData({loading: false})
    }
  },

  onRetry() {
    return this.open()
  },

  onDismiss() {
    this.setData({error: null})
  },

  onVerdict(e) {
    this.setData({verdict: e.detail.value})
  },

  onLabel(e) {
    this.setData({labelIndex: Number(e.detail.value) || 0, verdict: 'label'})
  },

  onNote(e) {
    this.setData({note: e.detail.value})
  },

  onCopyCode() {
    wx.setClipboardData({data: this.data.code})
  },

  async onSave() {
    if (this.data.saving) return
    const label = this.data.labels[this.data.labelIndex]
    this.setData({saving: true, error: null})
    try {
      const saved = await api.reviewShare(this.data.token, {
        verdict: this.data.verdict,
        label: label ? label.id : null,
        note: this.data.note,
      })
      const answer = {...this.data.answer, review: saved}
      this.setData({answer, saved: review.reviewView(answer)})
      ui.toast('已保存 Saved')
    } catch (err) {
      this.setData({error: errors.normalize(err, 'unknown_error')})
    } finally {
      this.setData({saving: false})
    }
  },
})
