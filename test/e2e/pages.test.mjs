// Pages of entries are bounded by bytes as well as by count: a list, a sync snapshot, a delta
// page and a live stream over entries of 100,000 characters each end a page once its content
// reaches 1 MiB (QL_PAGE_CONTENT_MAX), with hasMore and a cursor that continues right after
// the last item given, so a client that follows the cursors sees every entry once.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { start, stop, http, waitFor } from './lib.mjs'
import { ENV, addEntry, addPrompt, syncPage, syncAll, fixture, openLive } from './feed.mjs'

const BUDGET = 1048576
const BIG = 100000
let api, owner, viewer, tid, ids, deltaFrom, promptId
before(async () => {
  api = await start('quill-api', ENV)
  ;({ owner, viewer, tid } = await fixture(api))
  deltaFrom = (await syncAll(api, viewer.token, tid)).cursor
  ids = []
  for (let i = 0; i < 25; i++) {
    // a prompt among them: the first delta page merges it with the entries (changes_page)
    if (i === 5) promptId = (await addPrompt(api, owner.token, tid, 'among the large ones')).promptId
    const e = await addEntry(api, owner.token, tid, `${i}:`.padEnd(BIG, 'x'))
    ids.push(e.journalEntryId)
  }
  ids.reverse() // newest first, as lists give them
})

// Until every write is past the log's horizon: a long transaction anywhere in the cluster
// (another database's) holds deltas back, and the pages below must be what bytes make them.
async function logged () {
  const all = async () => (await syncAll(api, viewer.token, tid, { since: deltaFrom, limit: 200 })).items.length === 26
  assert.ok(await waitFor(all, { timeout: 300000, every: 500 }), 'the writes reached the log')
}
after(async () => { await stop(api) })

// Each page but the last ends once its content reached the budget: what it holds before its
// last entry is under it, and it holds at least one entry.
function assertBounded (sizes) {
  for (const [i, s] of sizes.entries()) {
    assert.ok(s.length >= 1, `page ${i} moves on`)
    const before = s.slice(0, -1).reduce((a, b) => a + b, 0)
    assert.ok(before < BUDGET, `page ${i}: ${before} bytes before its last entry`)
    if (i < sizes.length - 1) assert.ok(before + s[s.length - 1] >= BUDGET || s.length === 200, `page ${i} is full`)
  }
}

test('a page of large entries ends at 1 MiB of content; its cursors give every entry once', async () => {
  const seen = []
  const sizes = []
  let cursor = null
  for (;;) {
    const q = cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''
    const r = await http(api, 'GET', `/v1/teams/${tid}/journal-entries?limit=200${q}`, { token: viewer.token })
    assert.equal(r.status, 200, r.text)
    seen.push(...r.body.items.map((e) => e.journalEntryId))
    sizes.push(r.body.items.map((e) => Buffer.byteLength(e.content)))
    cursor = r.body.nextCursor
    if (cursor === null) break
    assert.ok(sizes.length < 30, 'the pages end')
  }
  assert.deepEqual(seen, ids)
  assert.ok(sizes[0].length < 25, `the first page held ${sizes[0].length} entries of 100,000 characters`)
  assert.deepEqual(sizes.map((s) => s.length), [11, 11, 3])
  assertBounded(sizes)
})

test('a sync snapshot and a delta page end at 1 MiB of content, with hasMore, and miss nothing', async () => {
  await logged()
  const first = await syncPage(api, viewer.token, tid, { limit: 200 })
  assert.equal(first.hasMore, true)
  assert.equal(first.changes.length, 11)
  const snap = await syncAll(api, viewer.token, tid, { limit: 200 })
  const entries = (items) => items.filter((c) => c.type === 'journalEntry').map((c) => c.id)
  assert.deepEqual(entries(snap.items), ids)
  assertBounded(snap.pages.map((p) => p.changes.filter((c) => c.data?.content).map((c) => Buffer.byteLength(c.data.content))))

  const delta = await syncAll(api, viewer.token, tid, { since: deltaFrom, limit: 200 })
  assert.equal(delta.pages[0].hasMore, true)
  assert.deepEqual(delta.pages.map((p) => p.changes.length), [12, 11, 3])
  assert.equal(delta.pages[0].changes[5].id, promptId)
  assert.deepEqual(entries(delta.items), [...ids].reverse(), 'the deltas: oldest first, each once')
  assertBounded(delta.pages.map((p) => p.changes.filter((c) => c.type === 'journalEntry').map((c) => Buffer.byteLength(c.data.content))))
})

test('a live stream from before the writes sends every large entry once, in order, and its topic lets go of them', async () => {
  await logged()
  const s = await openLive(api, viewer.token, tid, { lastEventId: deltaFrom })
  try {
    await s.waitEvents(26, 20000)
    assert.deepEqual(s.events.map((e) => e.data.id).filter((id) => id !== promptId), [...ids].reverse())
    // What went out is let go: between reads a topic holds one small chunk, not its last page
    // (the last one here carried three entries: 300 KB of content and as much JSON).
    const metrics = await (await fetch(api.url + '/metrics')).text()
    const held = Number(metrics.match(/^quill_sse_topic_bytes (\S+)$/m)?.[1])
    assert.ok(held > 0 && held <= 64 * 1024, `the topics hold ${held} bytes`)
  } finally {
    s.close()
  }
})
