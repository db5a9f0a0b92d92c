// About: what Xiaofei is and is not, the served models' cards (fetched, so they match what
// answers), and privacy: what is kept, for how long, and how to erase it.
const config = require('../../config.js')
const api = require('../../services/api.js')
const errors = require('../../services/errors.js')
const format = require('../../utils/format.js')

Page({
  data: {
    retention: config.retention,
    disclaimer: format.DISCLAIMER,
    cards: [],
    loading: false,
    error: null,
  },

  onLoad() {
    return this.loadCards()
  },

  onRetry() {
    return this.loadCards()
  },

  onDismiss() {
    this.setData({error: null})
  },

  async loadCards() {
    this.setData({loading: true, error: null})
    try {
      const {models} = await api.listModels()
      this.setData({cards: models.map(format.modelCard)})
    } catch (err) {
      this.setData({error: errors.normalize(err, 'unknown_error')})
    } finally {
      this.setData({loading: false})
    }
  },

  onGoHistory() {
    wx.switchTab({url: '/pages/history/index'})
  },
})
