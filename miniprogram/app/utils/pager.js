// Cursor pagination for the history list: one load at a time, no duplicate ids, a clear end.
// `fetchPage({cursor})` resolves {items, nextCursor}; the pager holds what has been loaded so far.

function createPager(fetchPage) {
  let items = []
  let cursor = null
  let done = false
  let loading = null
  let generation = 0

  const state = () => ({items: items.slice(), hasMore: !done})

  /** Load the next page (no-op at the end or while a load is running). Resolves the new state. */
  function next() {
    if (done) return Promise.resolve(state())
    if (loading) return loading
    const mine = generation
    loading = fetchPage({cursor})
      .then((page) => {
        if (mine !== generation) return state() // a reset() happened meanwhile: drop this page
        const seen = new Set(items.map((x) => x.id))
        items = items.concat(page.items.filter((x) => x && !seen.has(x.id)))
        cursor = page.nextCursor || null
        done = !cursor
        return state()
      })
      .finally(() => {
        if (mine === generation) loading = null
      })
    return loading
  }

  /** Forget everything and load the first page again. */
  function reset() {
    generation += 1
    items = []
    cursor = null
    done = false
    loading = null
    return next()
  }

  /** Drop one id locally (after a successful delete). */
  function remove(id) {
    items = items.filter((x) => x.id !== id)
    return state()
  }

  /** Forget everything locally without loading (after delete all). */
  function clear() {
    generation += 1
    items = []
    cursor = null
    done = true
    loading = null
    return state()
  }

  return {next, reset, remove, clear, state}
}

module.exports = {createPager}
