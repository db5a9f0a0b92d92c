// Cloud development starts here, once, with the environment from config.js.
const config = require('./config.js')

App({
  onLaunch() {
    if (!wx.cloud) {
      // Base library < 2.2.3: there is no cloud API at all; services/api.js will report cloud_call_failed.
      console.error('wx.cloud is missing: base library 2.2.3 or later is required')
      return
    }
    if (!config.envId) {
      // No fallback: DYNAMIC_CURRENT_ENV is for cloud functions. services/api.js answers env_missing.
      console.error('config.envId is empty: set the CloudBase environment id in app/config.js')
      return
    }
    wx.cloud.init({
      env: config.envId,
      traceUser: false,
    })
  },
})
