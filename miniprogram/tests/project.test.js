// The project's shape: what WeChat DevTools opens, four-file pages and components, handlers that
// exist, one backend module, one config, pinned test tools. Drift here breaks the app silently.
const fs = require('fs')
const path = require('path')

const ROOT = path.resolve(__dirname, '..')
const project = JSON.parse(fs.readFileSync(path.join(ROOT, 'project.config.json'), 'utf8'))
const APP = path.join(ROOT, project.miniprogramRoot)
const appJson = JSON.parse(fs.readFileSync(path.join(APP, 'app.json'), 'utf8'))
const config = require('../app/config.js')

const FOUR = ['.js', '.json', '.wxml', '.wxss']

function walk(dir) {
  return fs.readdirSync(dir, {withFileTypes: true}).flatMap((d) =>
    d.isDirectory() ? walk(path.join(dir, d.name)) : [path.join(dir, d.name)])
}

/** A js file without its comments (comments may name wx.cloud; only code counts). */
function code(file) {
  return fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
}

const appFiles = walk(APP)
const jsFiles = appFiles.filter((f) => f.endsWith('.js'))
const componentDirs = fs.readdirSync(path.join(APP, 'components')).map((n) => path.join(APP, 'components', n))
const pageBases = appJson.pages.map((p) => path.join(APP, p))

test('project.config.json: mini program root and cloud functions root', () => {
  expect(fs.existsSync(path.join(APP, 'app.json'))).toBe(true)
  expect(project.cloudfunctionRoot).toBe('cloudfunctions/')
  const ignored = fs.readFileSync(path.join(ROOT, '.gitignore'), 'utf8').split('\n')
  expect(ignored).toEqual(expect.arrayContaining(['cloudfunctions/', 'node_modules/']))
})

test('every page is a folder of four files, and the tab bar points at pages', () => {
  for (const base of pageBases) {
    for (const ext of FOUR) expect(fs.existsSync(base + ext)).toBe(true)
  }
  for (const tab of appJson.tabBar.list) expect(appJson.pages).toContain(tab.pagePath)
  expect(appJson.pages[0]).toBe('pages/home/index')
})

test('every component is a folder of four files declaring component: true', () => {
  for (const dir of componentDirs) {
    for (const ext of FOUR) expect(fs.existsSync(path.join(dir, 'index' + ext))).toBe(true)
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')).component).toBe(true)
  }
})

test('every usingComponents entry resolves', () => {
  const jsons = [...pageBases.map((b) => b + '.json'), ...componentDirs.map((d) => path.join(d, 'index.json'))]
  for (const file of jsons) {
    const using = JSON.parse(fs.readFileSync(file, 'utf8')).usingComponents || {}
    for (const target of Object.values(using)) {
      const resolved = target.startsWith('/') ? path.join(APP, target) : path.resolve(path.dirname(file), target)
      expect(fs.existsSync(resolved + '.json')).toBe(true)
    }
  }
})

test('every handler bound in a template exists in its js', () => {
  const bases = [...pageBases, ...componentDirs.map((d) => path.join(d, 'index'))]
  for (const base of bases) {
    const wxml = fs.readFileSync(base + '.wxml', 'utf8')
    const js = fs.readFileSync(base + '.js', 'utf8')
    for (const [, handler] of wxml.matchAll(/\b(?:bind|catch)[a-z]+="([A-Za-z]+)"/g)) {
      expect([base, new RegExp(`\\b${handler}\\s*\\(`).test(js)]).toEqual([base, true])
    }
  }
})

test('only services/api.js calls the backend; only app.js initialises the cloud', () => {
  for (const file of jsFiles) {
    const rel = path.relative(APP, file)
    const src = code(file)
    if (rel !== path.join('services', 'api.js')) {
      expect([rel, /wx\.cloud\.(callFunction|uploadFile)|wx\.request\(|getWx\(\)\.cloud/.test(src)]).toEqual([rel, false])
    }
    if (rel !== 'app.js' && rel !== path.join('services', 'api.js')) {
      expect([rel, /\bcloud\./.test(src)]).toEqual([rel, false])
    }
  }
})

test('cloud function names live in config.js only', () => {
  for (const file of jsFiles.filter((f) => path.basename(f) !== 'config.js')) {
    const src = code(file)
    expect([file, /name:\s*['"](predict|history)['"]/.test(src)]).toEqual([file, false])
  }
  expect(config.functions).toEqual({predict: 'predict', history: 'history'})
})

test('the disclaimer is shown on the home page and in every result', () => {
  const format = require('../app/utils/format.js')
  expect(format.DISCLAIMER.zh).toBe('本产品仅作辅助诊断使用，如有不适请及时就医')
  expect(fs.readFileSync(path.join(APP, 'pages/home/index.wxml'), 'utf8')).toContain('{{disclaimer.zh}}')
  expect(fs.readFileSync(path.join(APP, 'components/result-card/index.wxml'), 'utf8')).toContain('{{view.disclaimer.zh}}')
})

test('bundled samples exist and name a served model', () => {
  const models = config.models.map((m) => m.name)
  for (const sample of config.samples) {
    expect(fs.existsSync(path.join(APP, sample.path))).toBe(true)
    expect(models).toContain(sample.model)
    expect(sample.zh).toMatch(/[\u4e00-\u9fff]/)
    expect(sample.en).toBeTruthy()
  }
})

test('the main package stays far below the 2 MB limit', () => {
  const bytes = appFiles.reduce((sum, f) => sum + fs.statSync(f).size, 0)
  expect(bytes).toBeLessThan(1.5 * 1024 * 1024)
})

test('test tools are pinned to exact versions and locked', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
  for (const version of Object.values(pkg.devDependencies)) expect(version).toMatch(/^\d+\.\d+\.\d+$/)
  expect(fs.existsSync(path.join(ROOT, 'package-lock.json'))).toBe(true)
})
