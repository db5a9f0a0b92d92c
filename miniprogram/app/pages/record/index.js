// One stored record (opened from History): the same result card, with fresh short-lived URLs
// from `history get`, and deletion with a confirmation.
const api = require('../../services/api.js')
const errors = require('../../services/errors.js')
const ui = require('../../utils/ui.js')

Page({
  data: {
    id: '',
    answer: null,
    loading: false,
    error: null,
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

  async fetch() {
    let answer = await api.getRecord(this.data.id)
    if (answer.status === 'pending') {
      this.setData({answer})
      answer = await api.pollRecord(this.data.id)
    }
    this.setData({answer})
  },

  async remove() {
    await api.deleteRecord(this.data.id)
    ui.toast('已删除 Deleted')
    wx.navigateBack()
  },
})
