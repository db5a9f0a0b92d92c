// Home: pick a model, choose an image (album, camera or a bundled sample), upload with progress,
// and show the answer. All data comes through services/api.js; the page only keeps state.
const config = require('../../config.js')
const api = require('../../services/api.js')
const media = require('../../services/media.js')
const errors = require('../../services/errors.js')
const format = require('../../utils/format.js')

Page({
  data: {
    models: config.models,
    model: config.defaultModel,
    samples: config.samples,
    file: null, // {filePath, ext}
    phase: 'idle', // idle | uploading | predicting | done | error
    progress: 0,
    busy: false,
    answer: null,
    error: null,
    disclaimer: format.DISCLAIMER,
  },

  onModel(e) {
    const name = e.currentTarget.dataset.name
    if (this.data.busy || name === this.data.model) return
    this.setData({model: name, answer: null, error: null, phase: 'idle'})
  },

  onChoose() {
    return this.run(this.choose)
  },

  onSample(e) {
    const sample = this.data.samples[Number(e.currentTarget.dataset.index)]
    if (!sample) return undefined
    return this.run(() => this.useSample(sample))
  },

  onAnalyse() {
    return this.run(this.analyse)
  },

  onRetry() {
    return this.run(this.lastAction || this.analyse)
  },

  onDismiss() {
    this.setData({error: null})
  },

  /** Run one action with the busy flag, remembering it for the retry button. The flag always drops. */
  async run(action) {
    if (this.data.busy) return
    this.lastAction = action
    this.setData({busy: true, error: null})
    try {
      await action.call(this)
    } catch (err) {
      this.setData({error: errors.normalize(err, 'unknown_error'), phase: 'error'})
    } finally {
      this.setData({busy: false})
    }
  },

  async choose() {
    const file = await media.chooseImage()
    // A new image: a new job (request id); the retry button keeps the same one.
    if (file) {
      this.job = null
      this.setData({file, answer: null, phase: 'idle', progress: 0})
    }
  },

  async useSample(sample) {
    const file = await media.sampleFile(sample.path)
    this.job = null
    this.setData({file, model: sample.model, answer: null, phase: 'idle', progress: 0})
    await this.analyse()
  },

  async analyse() {
    const file = this.data.file
    if (!file) throw errors.makeError('empty_image')
    this.setData({answer: null, progress: 0, phase: 'uploading'})
    this.job = this.job || api.newJob()
    this.prepared = this.prepared && this.prepared.source === file.filePath ? this.prepared : {
      source: file.filePath, ...(await media.prepareImage(file)),
    }
    const answer = await api.analyse(
      {filePath: this.prepared.filePath, ext: this.prepared.ext, model: this.data.model},
      {
        job: this.job,
        onProgress: (progress) => this.setData({progress}),
        onPhase: (phase) => this.setData({phase}),
      },
    )
    this.setData({answer, phase: 'done'})
  },
})
