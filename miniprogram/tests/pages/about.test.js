// The about page: model cards from the backend, retention from config, errors with retry.
const config = require('../../app/config.js')
const {createFakeCloud} = require('../helpers/fake-cloud.js')
const {loadPage, pageWx} = require('../helpers/page.js')

let cloud
let page

beforeEach(() => {
  cloud = createFakeCloud()
  pageWx(cloud)
  page = loadPage('about')
})

afterEach(() => {
  delete global.wx
})

test('shows the served models\' cards, demo and synthetic flags included', async () => {
  await page.onLoad()
  expect(page.data.cards).toHaveLength(1)
  expect(page.data.cards[0]).toMatchObject({name: 'pneumonia', version: '1.0.0-demo', demo: true, synthetic: true})
  expect(page.data.retention).toEqual(config.retention)
  expect(page.data.loading).toBe(false)
})

test('a failure shows a retry, and retry loads the cards', async () => {
  cloud.intercept = () => Promise.reject({errMsg: 'request:fail'})
  await page.onLoad()
  expect(page.data).toMatchObject({loading: false, cards: []})
  expect(page.data.error.code).toBe('network_error')
  cloud.intercept = null
  await page.onRetry()
  expect(page.data.cards).toHaveLength(1)
  expect(page.data.error).toBeNull()
})
