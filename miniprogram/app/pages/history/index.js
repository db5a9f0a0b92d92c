// History: the caller's records, newest first, with infinite scroll, open, delete and delete all.
// The pager (utils/pager.js) holds the pages; services/api.js does every call.
const api = require('../../services/api.js')
const errors = require('../../services/errors.js')
const {createPager} = require('../../utils/pager.js')
const ui = require('../../utils/ui.js')

Page({
  data: {
    records: [],
    hasMore: true,
    loading: false,
    error: null, // a failed list load: shown inside the list, with retry
    actionError: null, // a failed delete
  },

  onLoad() {
    this.pager = createPager(({cursor}) => api.listHistory({cursor}))
  },

  onShow() {
    // A new analysis may have been added since the last visit.
    return this.load(() => this.pager.reset())
  },

  onPullDownRefresh() {
    return this.load(() => this.pager.reset()).finally(() => wx.stopPullDownRefresh())
  },

  onReachBottom() {
    if (this.data.loading || !this.data.hasMore || this.data.error) return undefined
    return this.load(() => this.pager.next())
  },

  onMore() {
    return this.onReachBottom()
  },

  onRetry() {
    return this.load(this.lastLoad || (() => this.pager.next()))
  },

  /** One page load; `loading` always drops, a failure stays on screen with a retry. */
  async load(step) {
    this.lastLoad = step
    this.setData({loading: true, error: null})
    try {
      const state = await step()
      this.setData({records: state.items, hasMore: state.hasMore})
    } catch (err) {
      this.setData({error: errors.normalize(err, 'unknown_error')})
    } finally {
      this.setData({loading: false})
    }
  },

  onOpen(e) {
    wx.navigateTo({url: `/pages/record/index?id=${e.detail.id}`})
  },

  async onDelete(e) {
    const id = e.detail.id
    const ok = await ui.confirm({
      title: '删除这条记录？Delete this record?',
      content: '图片、热力图和结果将被永久删除。The image, heatmap and result will be deleted for good.',
    })
    if (!ok) return
    await this.act(async () => {
      await api.deleteRecord(id)
      const state = this.pager.remove(id)
      this.setData({records: state.items})
      ui.toast('已删除 Deleted')
    })
  },

  async onDeleteAll() {
    const ok = await ui.confirm({
      title: '删除全部记录？Delete everything?',
      content: '你的所有图片、热力图和结果都将被永久删除。All your images, heatmaps and results will be deleted for good.',
      confirmText: '全部删除',
    })
    if (!ok) return
    await this.act(async () => {
      const {deleted} = await api.deleteAll()
      const state = this.pager.clear()
      this.setData({records: state.items, hasMore: state.hasMore})
      ui.toast(`已删除 ${deleted} 条 · ${deleted} deleted`)
    })
  },

  onDismissAction() {
    this.setData({actionError: null})
  },

  onRetryAction() {
    return this.lastAct ? this.act(this.lastAct) : undefined
  },

  async act(fn) {
    this.lastAct = fn
    this.setData({actionError: null})
    wx.showLoading({title: '请稍候 Please wait', mask: true})
    try {
      await fn()
    } catch (err) {
      this.setData({actionError: errors.normalize(err, 'unknown_error')})
    } finally {
      wx.hideLoading()
    }
  },
})
