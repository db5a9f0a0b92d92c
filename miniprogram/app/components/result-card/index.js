// The answer of one prediction: label (zh + en), confidence, a bar per class, the heatmap over the
// image with a toggle, and the uncertain / refused / demo states. Always shows the disclaimer.
const format = require('../../utils/format.js')

Component({
  properties: {
    // A prediction exactly as services/api.js returns it (docs/API.md "A prediction").
    answer: {type: Object, value: null},
    // The local preview path, shown until (or instead of) the stored image's URL.
    imageSrc: {type: String, value: ''},
  },
  data: {
    view: {state: 'empty'},
    showHeatmap: true,
  },
  observers: {
    answer(answer) {
      this.setData({view: format.resultView(answer), showHeatmap: true})
    },
  },
  methods: {
    onToggleHeatmap(e) {
      const value = e && e.detail && typeof e.detail.value === 'boolean' ? e.detail.value : !this.data.showHeatmap
      this.setData({showHeatmap: value})
    },
  },
})
