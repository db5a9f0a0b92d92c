// Pages cannot be loaded by miniprogram-simulate (Components only), so a page's definition is
// captured from Page() and driven directly: data, setData and its handlers, with wx stubbed.
const path = require('path')

const APP = path.resolve(__dirname, '../../app')

const definitions = new Map() // jest caches the module, so Page() runs once per test file

function loadPage(name) {
  if (!definitions.has(name)) {
    global.Page = (def) => definitions.set(name, def)
    require(path.join(APP, 'pages', name, 'index.js'))
    delete global.Page
  }
  const definition = definitions.get(name)
  const page = {...definition}
  page.data = JSON.parse(JSON.stringify(definition.data))
  page.updates = []
  page.setData = (patch) => {
    page.updates.push(patch)
    Object.assign(page.data, patch)
  }
  return page
}

/** The wx of the fake cloud plus the interaction APIs pages use, all recorded. */
function pageWx(cloud, {confirm = true} = {}) {
  const wx = cloud.wx
  wx.modalAnswer = confirm
  wx.showModal = jest.fn((opts) => setTimeout(() => opts.success({confirm: wx.modalAnswer, cancel: !wx.modalAnswer}), 0))
  wx.showToast = jest.fn()
  wx.showLoading = jest.fn()
  wx.hideLoading = jest.fn()
  wx.navigateTo = jest.fn()
  wx.navigateBack = jest.fn()
  wx.switchTab = jest.fn()
  wx.stopPullDownRefresh = jest.fn()
  global.wx = wx
  return wx
}

module.exports = {loadPage, pageWx}
