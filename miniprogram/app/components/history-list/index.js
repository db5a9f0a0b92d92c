// The caller's past predictions, newest first. Presentational: the history page owns the pager
// (utils/pager.js) and answers the events: open, delete (both with {id}), more, retry.
const format = require('../../utils/format.js')

Component({
  properties: {
    records: {type: Array, value: []},
    loading: {type: Boolean, value: false},
    hasMore: {type: Boolean, value: true},
    error: {type: Object, value: null},
  },
  data: {
    items: [],
  },
  observers: {
    records(records) {
      this.setData({items: (records || []).map(format.historyItem)})
    },
  },
  methods: {
    onOpen(e) {
      this.triggerEvent('open', {id: e.currentTarget.dataset.id})
    },
    onDelete(e) {
      this.triggerEvent('delete', {id: e.currentTarget.dataset.id})
    },
    onMore() {
      if (!this.data.loading && this.data.hasMore) this.triggerEvent('more', {})
    },
    onRetry() {
      this.triggerEvent('retry', {})
    },
  },
})
