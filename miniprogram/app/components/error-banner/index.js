// A normalised error ({code, message: {zh, en}, retryable}) in both languages, with a retry button
// when trying again can help (network failures, timeouts, 503s).
Component({
  properties: {
    error: {type: Object, value: null},
  },
  methods: {
    onRetry() {
      this.triggerEvent('retry', {code: this.data.error ? this.data.error.code : ''})
    },
    onDismiss() {
      this.triggerEvent('dismiss', {})
    },
  },
})
