// utils/pager.js: cursor paging without duplicates, one load at a time, reset and local removal.
const {createPager} = require('../../app/utils/pager.js')

function pagesOf(ids, size) {
  const calls = []
  const fetchPage = jest.fn(async ({cursor}) => {
    calls.push(cursor)
    const start = cursor ? ids.indexOf(cursor) + 1 : 0
    const items = ids.slice(start, start + size).map((id) => ({id}))
    const more = start + size < ids.length
    return {items, nextCursor: more ? items[items.length - 1].id : null}
  })
  return {fetchPage, calls}
}

const IDS = Array.from({length: 7}, (_, i) => `r${i}`)

test('loads pages in order until the end, then stops calling', async () => {
  const {fetchPage, calls} = pagesOf(IDS, 3)
  const pager = createPager(fetchPage)
  expect((await pager.next()).items.map((x) => x.id)).toEqual(['r0', 'r1', 'r2'])
  expect((await pager.next()).hasMore).toBe(true)
  const last = await pager.next()
  expect(last.items).toHaveLength(7)
  expect(last.hasMore).toBe(false)
  await pager.next()
  expect(calls).toEqual([null, 'r2', 'r5'])
})

test('two next() calls at once share one request', async () => {
  const {fetchPage} = pagesOf(IDS, 3)
  const pager = createPager(fetchPage)
  const [a, b] = await Promise.all([pager.next(), pager.next()])
  expect(fetchPage).toHaveBeenCalledTimes(1)
  expect(a.items).toEqual(b.items)
})

test('an item seen twice (inserted meanwhile) is kept once', async () => {
  const fetchPage = jest.fn()
    .mockResolvedValueOnce({items: [{id: 'a'}, {id: 'b'}], nextCursor: 'b'})
    .mockResolvedValueOnce({items: [{id: 'b'}, {id: 'c'}], nextCursor: null})
  const pager = createPager(fetchPage)
  await pager.next()
  expect((await pager.next()).items.map((x) => x.id)).toEqual(['a', 'b', 'c'])
})

test('a failed page can be retried from the same cursor', async () => {
  const fetchPage = jest.fn()
    .mockResolvedValueOnce({items: [{id: 'a'}], nextCursor: 'a'})
    .mockRejectedValueOnce(new Error('network'))
    .mockResolvedValueOnce({items: [{id: 'b'}], nextCursor: null})
  const pager = createPager(fetchPage)
  await pager.next()
  await expect(pager.next()).rejects.toThrow('network')
  expect((await pager.next()).items.map((x) => x.id)).toEqual(['a', 'b'])
  expect(fetchPage.mock.calls.map((c) => c[0].cursor)).toEqual([null, 'a', 'a'])
})

test('reset starts over and drops a page that was still loading', async () => {
  let release
  const fetchPage = jest.fn()
    .mockImplementationOnce(() => new Promise((resolve) => (release = resolve)))
    .mockResolvedValueOnce({items: [{id: 'new'}], nextCursor: null})
  const pager = createPager(fetchPage)
  const stale = pager.next()
  const fresh = await pager.reset()
  release({items: [{id: 'old'}], nextCursor: 'old'})
  await stale
  expect(fresh.items.map((x) => x.id)).toEqual(['new'])
  expect(pager.state().items.map((x) => x.id)).toEqual(['new'])
})

test('remove and clear work locally', async () => {
  const {fetchPage} = pagesOf(IDS, 3)
  const pager = createPager(fetchPage)
  await pager.next()
  expect(pager.remove('r1').items.map((x) => x.id)).toEqual(['r0', 'r2'])
  expect(pager.clear()).toEqual({items: [], hasMore: false})
  await pager.next()
  expect(fetchPage).toHaveBeenCalledTimes(1)
})
