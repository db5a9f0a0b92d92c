/** @jest-environment jsdom */
// Every page and component template compiles with the official WXML compiler (the wcc binary that
// miniprogram-compiler ships), so a template error fails here, not in WeChat DevTools.
const fs = require('fs')
const path = require('path')
const compiler = require('miniprogram-compiler')
const {APP} = require('../helpers/simulate.js')

function wxmlFiles(dir) {
  return fs.readdirSync(dir, {withFileTypes: true}).flatMap((d) => {
    const full = path.join(dir, d.name)
    if (d.isDirectory()) return wxmlFiles(full)
    return full.endsWith('.wxml') ? [path.relative(APP, full)] : []
  })
}

test('every template compiles', () => {
  window.__webview_engine_version__ = 0.02
  // eslint-disable-next-line no-new-func
  const gwx = new Function(compiler.wxmlToJs(APP))()
  const templates = wxmlFiles(APP)
  const appJson = JSON.parse(fs.readFileSync(path.join(APP, 'app.json'), 'utf8'))
  for (const page of appJson.pages) expect(templates).toContain(`${page}.wxml`)
  for (const rel of templates) expect([rel, typeof gwx(rel)]).toEqual([rel, 'function'])
})
