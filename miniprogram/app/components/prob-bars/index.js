// One bar per class, highest first, with its calibrated probability.
const format = require('../../utils/format.js')

Component({
  properties: {
    // The answer's `probabilities`: [{label, label_zh, label_en, p}, …] in any order.
    items: {type: Array, value: []},
  },
  data: {
    bars: [],
  },
  observers: {
    items(items) {
      this.setData({bars: format.bars(items)})
    },
  },
})
