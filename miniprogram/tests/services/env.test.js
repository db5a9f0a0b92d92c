// The CloudBase environment is required on the client: wx.cloud.init gets config.envId and nothing
// else (DYNAMIC_CURRENT_ENV is a cloud-function constant), and with no envId no cloud call is made.
const fs = require('fs')
const path = require('path')
const {createApi} = require('../../app/services/api.js')
const config = require('../../app/config.js')
const {createFakeCloud} = require('../helpers/fake-cloud.js')

const APP_JS = path.resolve(__dirname, '../../app/app.js')

function launch(envId) {
  const inits = []
  let definition = null
  global.wx = {cloud: {init: (options) => inits.push(options)}}
  global.App = (d) => { definition = d }
  jest.isolateModules(() => {
    jest.doMock('../../app/config.js', () => ({...config, envId}))
    require(APP_JS)
  })
  definition.onLaunch()
  delete global.App
  return inits
}

afterEach(() => {
  jest.dontMock('../../app/config.js')
  delete global.wx
})

test('wx.cloud.init gets the configured env, never DYNAMIC_CURRENT_ENV', () => {
  expect(launch('xiaofei-prod-1a2b')).toEqual([{env: 'xiaofei-prod-1a2b', traceUser: false}])
  const code = fs.readFileSync(APP_JS, 'utf8').replace(/\/\/.*$/gm, '')
  expect(code).not.toMatch(/DYNAMIC_CURRENT_ENV/)
})

test('with no envId the app does not initialise the cloud, and every call says env_missing', async () => {
  const said = jest.spyOn(console, 'error').mockImplementation(() => {})
  expect(launch('')).toEqual([])
  expect(said.mock.calls[0][0]).toMatch(/envId/)
  said.mockRestore()
  const cloud = createFakeCloud()
  const api = createApi({wx: cloud.wx, config: {...config, envId: ''}, sleep: async () => {}})
  await expect(api.listModels()).rejects.toMatchObject({code: 'env_missing', retryable: false})
  await expect(api.analyse({filePath: 'wxfile://a.jpg', ext: 'jpg'})).rejects.toMatchObject({code: 'env_missing'})
  expect(cloud.calls).toEqual([])
})
