// Cloud development starts here, once, with the environment from config.js.
const config = require('./config.js')

App({
  onLaunch() {
    if (!wx.cloud) {
      // Base library < 2.2.3: there is no cloud API at all; services/api.js will report cloud_call_failed.
      console.error('wx.cloud is missing: base library 2.2.3 or later is required')
      return
    }
    wx.cloud.init({
      env: config.envId || wx.cloud.DYNAMIC_CURRENT_ENV,
      traceUser: false,
    })
  },
})
