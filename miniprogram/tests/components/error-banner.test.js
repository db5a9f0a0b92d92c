/** @jest-environment jsdom */
// error-banner: both languages; retry only when it can help; events for retry and dismiss.
const {simulate, stubWx, load, render, texts} = require('../helpers/simulate.js')
const errors = require('../../app/services/errors.js')

let id
beforeAll(() => {
  stubWx()
  id = load('error-banner')
})

function events(comp, name) {
  const seen = []
  comp.addEventListener(name, (e) => seen.push(e.detail))
  return seen
}

test('a network failure shows both languages and a retry button that fires retry', async () => {
  const error = errors.makeError('network_error')
  const comp = render(id, {error})
  expect(texts(comp, '.banner__zh')).toEqual([error.message.zh])
  expect(texts(comp, '.banner__en')).toEqual([error.message.en])
  const retried = events(comp, 'retry')
  comp.querySelector('.banner__retry').dispatchEvent('tap')
  await simulate.sleep(0)
  expect(retried).toEqual([{code: 'network_error'}])
})

test('a timeout offers retry too', () => {
  const comp = render(id, {error: errors.makeError('timeout')})
  expect(comp.querySelectorAll('.banner__retry')).toHaveLength(1)
})

test('a non-retryable error has no retry button, only close', async () => {
  const comp = render(id, {error: errors.makeError('unsupported_format')})
  expect(comp.querySelectorAll('.banner__retry')).toHaveLength(0)
  const dismissed = events(comp, 'dismiss')
  comp.querySelector('.banner__dismiss').dispatchEvent('tap')
  await simulate.sleep(0)
  expect(dismissed).toHaveLength(1)
})

test('no error, no banner', () => {
  const comp = render(id, {error: null})
  expect(comp.querySelectorAll('.banner')).toHaveLength(0)
})
