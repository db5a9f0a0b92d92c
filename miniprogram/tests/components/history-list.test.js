/** @jest-environment jsdom */
// history-list: pages appended as the pager loads them, the end and empty states, and the
// open / delete / more / retry events the history page answers.
const {simulate, stubWx, load, render, texts} = require('../helpers/simulate.js')
const {createFakeCloud, makeAnswer, makeId} = require('../helpers/fake-cloud.js')
const {createApi} = require('../../app/services/api.js')
const {createPager} = require('../../app/utils/pager.js')
const errors = require('../../app/services/errors.js')

let id
beforeAll(() => {
  stubWx()
  id = load('history-list')
})

function events(comp, name) {
  const seen = []
  comp.addEventListener(name, (e) => seen.push(e.detail))
  return seen
}

test('pages from the real pager are appended in order until the end', async () => {
  const cloud = createFakeCloud()
  const seeded = cloud.seed(5).map((r) => r.id).reverse()
  const api = createApi({wx: cloud.wx})
  const pager = createPager(({cursor}) => api.listHistory({cursor, limit: 2}))
  const comp = render(id, {records: [], loading: true, hasMore: true})
  expect(texts(comp, '.status--loading')).toEqual(['加载中… Loading…'])

  let state = await pager.next()
  comp.setData({records: state.items, hasMore: state.hasMore, loading: false})
  await simulate.sleep(0)
  expect(comp.querySelectorAll('.row')).toHaveLength(2)
  expect(texts(comp, '.status--more')).toEqual(['加载更多 Load more'])

  state = await pager.next()
  state = await pager.next()
  comp.setData({records: state.items, hasMore: state.hasMore})
  await simulate.sleep(0)
  const rows = comp.querySelectorAll('.row__main')
  expect(rows).toHaveLength(5)
  expect(comp.data.items.map((x) => x.id)).toEqual(seeded)
  expect(texts(comp, '.status--end')).toEqual(['没有更多了 · No more'])
  expect(comp.querySelectorAll('.status--more')).toHaveLength(0)
})

test('each row shows the label in both languages, the confidence and the flags', () => {
  const records = [
    makeAnswer({id: makeId(3), probs: {viral: 0.77, normal: 0.23}}),
    makeAnswer({id: makeId(2), probs: {normal: 0.5, viral: 0.5}, uncertain: true, demo: false}),
    makeAnswer({id: makeId(1), probs: {normal: 1}, quality: {ok: false, reason: 'blank'}}),
  ]
  const comp = render(id, {records, hasMore: false})
  expect(texts(comp, '.row__zh')).toEqual(['病毒性肺炎', '正常', '图片未通过检查'])
  expect(texts(comp, '.row__en')).toEqual(['Viral pneumonia', 'Normal', 'Image refused'])
  const meta = texts(comp, '.row__meta')
  expect(meta[0]).toMatch(/77%.*演示 Demo/)
  expect(meta[1]).toMatch(/50%.*不确定 Uncertain/)
  expect(meta[1]).not.toMatch(/Demo/)
  expect(meta[2]).not.toMatch(/%/)
})

test('tapping a row opens it; delete carries the id', async () => {
  const records = [makeAnswer({id: makeId(9), probs: {normal: 1}}), makeAnswer({id: makeId(8), probs: {viral: 1}})]
  const comp = render(id, {records, hasMore: false})
  const opened = events(comp, 'open')
  const deleted = events(comp, 'delete')
  comp.querySelectorAll('.row__main')[1].dispatchEvent('tap')
  await simulate.sleep(0)
  comp.querySelectorAll('.row__delete')[0].dispatchEvent('tap')
  await simulate.sleep(0)
  expect(opened).toEqual([{id: makeId(8)}])
  expect(deleted).toEqual([{id: makeId(9)}])
})

test('load more asks for the next page, but not while loading', async () => {
  const comp = render(id, {records: [makeAnswer({id: makeId(1), probs: {normal: 1}})], hasMore: true})
  const more = events(comp, 'more')
  comp.querySelector('.status--more').dispatchEvent('tap')
  await simulate.sleep(0)
  expect(more).toHaveLength(1)
  comp.setData({loading: true})
  await simulate.sleep(0)
  expect(comp.querySelectorAll('.status--more')).toHaveLength(0)
  comp.instance.onMore()
  expect(more).toHaveLength(1)
})

test('empty state once the first page came back empty', () => {
  const comp = render(id, {records: [], hasMore: false, loading: false})
  expect(texts(comp, '.status--empty')[0]).toMatch(/还没有记录 · No history yet/)
  expect(comp.querySelectorAll('.row')).toHaveLength(0)
})

test('a failed page shows the error with retry, and retry bubbles up', async () => {
  const error = errors.makeError('network_error')
  const comp = render(id, {records: [], hasMore: true, error})
  expect(comp.dom.textContent).toContain(error.message.zh)
  expect(comp.dom.textContent).toContain(error.message.en)
  expect(comp.querySelectorAll('.status--empty')).toHaveLength(0)
  const retried = events(comp, 'retry')
  comp.querySelector('.list__error').querySelector('.banner__retry').dispatchEvent('tap')
  await simulate.sleep(0)
  expect(retried).toHaveLength(1)
})
