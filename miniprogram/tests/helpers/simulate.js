// miniprogram-simulate helpers. simulate merges a pre-set global.wx over its own mock (our stubs win),
// and it mocks no wx.cloud, so one is defined by hand before anything is loaded.
const path = require('path')
const simulate = require('miniprogram-simulate')

const APP = path.resolve(__dirname, '../../app')

function stubWx(extra = {}) {
  global.wx = {
    cloud: {callFunction: jest.fn(), uploadFile: jest.fn(), init: jest.fn()},
    ...extra,
  }
  return global.wx
}

/**
 * Load a component once per test file (simulate runs its js through require, and jest caches modules,
 * so a second load of the same file would not register it again).
 */
function load(name) {
  return simulate.load(path.join(APP, 'components', name, 'index'), name, {rootPath: APP})
}

function render(id, props) {
  const comp = simulate.render(id, props)
  comp.attach(document.createElement('parent-wrapper'))
  return comp
}

/** Text of every node matching a selector (simulate's querySelectorAll works inside one component). */
function texts(comp, selector) {
  return comp.querySelectorAll(selector).map((node) => node.dom.textContent.trim())
}

module.exports = {simulate, stubWx, load, render, texts, APP}
