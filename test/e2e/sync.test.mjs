// Delta sync end to end (GET /v1/teams/{teamId}/sync): snapshot pages, deltas with
// tombstones, a client's replica rebuilt from them, who may read, bad cursors, and the
// retention of the change log (the worker's purge.changes job) against the real quill-api,
// quill-worker and PostgreSQL.  The live streams are in stream.test.mjs.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { start, stop, http, sql, waitFor, signup, addMember, makeKey, metric } from './lib.mjs'
import {
  ENV, problem, ok, addEntry, editEntry, dropEntry, addPrompt, dropPrompt, setRole, dropMember,
  S, syncPage, syncAll, key, apply, asObject, openStream, fixture
} from './feed.mjs'

const WORKER = { QUILL_WORKER_LISTEN: '127.0.0.1:0', QUILL_JOB_POLL_MS: '100' }

let api
before(async () => { api = await start('quill-api', ENV) })
after(async () => { await stop(api) })

test('delta sync: snapshot pages, then deltas; the replica equals a fresh snapshot', async () => {
  const { owner, viewer, outsider, tid } = await fixture(api)
  const entries = []
  for (let i = 0; i < 5; i++) entries.push(await addEntry(api, owner.token, tid, `entry ${i}`))
  const prompts = [await addPrompt(api, owner.token, tid, 'first?'), await addPrompt(api, owner.token, tid, 'second?')]
  const globals = Number(sql('SELECT count(*) FROM prompts WHERE team_id IS NULL AND deleted_at IS NULL'))
  assert.ok(globals > 0)

  // The snapshot, as a viewer, 3 at a time: every page full but the last; entries (newest
  // first), then prompts (global ones too), then members.
  const snap = await syncAll(api, viewer.token, tid, { limit: 3 })
  const total = 5 + 2 + globals + 2
  assert.equal(snap.items.length, total)
  assert.equal(snap.pages.length, Math.ceil(total / 3))
  snap.pages.forEach((p, i) => {
    const last = i === snap.pages.length - 1
    assert.equal(p.hasMore, !last)
    if (!last) assert.equal(p.changes.length, 3)
  })
  assert.equal(new Set(snap.pages.map((p) => p.nextCursor)).size, snap.pages.length, 'each page moves the cursor')
  assert.deepEqual(snap.items.map((c) => c.type), [
    ...Array(5).fill('journalEntry'), ...Array(2 + globals).fill('prompt'), 'member', 'member'])
  assert.ok(snap.items.every((c) => c.operation === 'upsert'))
  assert.deepEqual(snap.items.slice(0, 5).map((c) => c.id), entries.map((e) => e.journalEntryId).reverse())
  assert.deepEqual(snap.items[0].data, entries[4], 'an entry as GET returns it')
  assert.equal(new Set(snap.items.map(key)).size, total, 'nothing twice')
  const promptIds = snap.items.filter((c) => c.type === 'prompt')
  assert.equal(promptIds.filter((c) => c.data.teamId === null).length, globals)
  assert.deepEqual(promptIds.filter((c) => c.data.teamId === tid).map((c) => c.id).sort(), prompts.map((p) => p.promptId).sort())
  const members = snap.items.filter((c) => c.type === 'member')
  assert.deepEqual(members.map((c) => c.id).sort(), [owner.user.userId, viewer.user.userId].sort())
  assert.deepEqual(members.find((c) => c.id === viewer.user.userId).data,
    (await http(api, 'GET', `/v1/teams/${tid}/members`, { token: viewer.token })).body.items.find((m) => m.userId === viewer.user.userId))
  // The whole snapshot at once is the same, and so are pages that end where a kind ends.
  for (const limit of [200, total, total - 1, 5, 7]) {
    const other = await syncAll(api, viewer.token, tid, { limit })
    assert.deepEqual(other.items, snap.items, `limit ${limit}`)
    assert.equal(other.pages.length, Math.ceil(total / limit), `limit ${limit}`)
  }
  // Nothing happened since: the delta is empty and stays so.
  const quiet = await syncPage(api, viewer.token, tid, { since: snap.cursor })
  assert.deepEqual([quiet.changes, quiet.hasMore], [[], false])
  assert.deepEqual((await syncPage(api, viewer.token, tid, { since: quiet.nextCursor })).changes, [])

  const replica = apply(new Map(), snap.items)
  // Every kind of change, one transaction each, in this order.
  const other = await signup(api)
  await editEntry(api, owner.token, tid, entries[0].journalEntryId, 'edited')
  await dropEntry(api, owner.token, tid, entries[1].journalEntryId)
  const added = await addEntry(api, owner.token, tid, 'new one')
  const p3 = await addPrompt(api, owner.token, tid, 'third?')
  await dropPrompt(api, owner.token, tid, prompts[0].promptId)
  await addMember(api, owner.token, tid, other.email, 'member')
  await setRole(api, owner.token, tid, viewer.user.userId, 'member')
  await ok(http(api, 'PATCH', '/v1/me', { token: other.token, body: { displayName: 'Renamed' } }), 200)
  await dropMember(api, owner.token, tid, other.user.userId)
  // Each thing once, at its last change, in its state now: the member added, renamed and
  // removed is one tombstone, after the viewer's new role.
  const expected = [
    ['journalEntry', entries[0].journalEntryId, 'upsert'], ['journalEntry', entries[1].journalEntryId, 'delete'],
    ['journalEntry', added.journalEntryId, 'upsert'], ['prompt', p3.promptId, 'upsert'],
    ['prompt', prompts[0].promptId, 'delete'],
    ['member', viewer.user.userId, 'upsert'],
    ['member', other.user.userId, 'delete']]

  // Deltas two at a time: full pages with hasMore until the last.
  const d = await syncAll(api, viewer.token, tid, { since: quiet.nextCursor, limit: 2 })
  assert.deepEqual(d.items.map((c) => [c.type, c.id, c.operation]), expected)
  d.pages.forEach((p, i) => {
    const last = i === d.pages.length - 1
    assert.equal(p.hasMore, !last, `page ${i}`)
    if (!last) assert.equal(p.changes.length, 2)
  })
  assert.deepEqual((await syncAll(api, viewer.token, tid, { since: quiet.nextCursor, limit: 100 })).items, d.items)
  assert.equal(d.items[0].data.content, 'edited')
  assert.equal(d.items[5].data.role, 'member')
  // Read from the end, nothing more; from the middle, the rest.
  assert.deepEqual((await syncPage(api, viewer.token, tid, { since: d.cursor })).changes, [])
  assert.deepEqual((await syncAll(api, viewer.token, tid, { since: d.pages[1].nextCursor })).items, d.items.slice(4))

  apply(replica, d.items)
  const fresh = apply(new Map(), (await syncAll(api, owner.token, tid, { limit: 7 })).items)
  assert.deepEqual(asObject(replica), asObject(fresh))
  assert.ok(!replica.has(`journalEntry:${entries[1].journalEntryId}`))
  assert.ok(!replica.has(`prompt:${prompts[0].promptId}`))
  assert.ok(!replica.has(`member:${other.user.userId}`))

  // Who may read: viewers and API keys of the team; not outsiders nor strangers.
  const vkey = await makeKey(api, owner.token, tid, 'viewer')
  assert.equal((await http(api, 'GET', `${S(tid)}?since=${d.cursor}`, { token: vkey.key })).status, 200)
  problem(await http(api, 'GET', S(tid), { token: outsider.token }), 404, 'not_found')
  problem(await http(api, 'GET', `${S(tid)}?since=${d.cursor}`, { token: outsider.token }), 404, 'not_found')
  problem(await http(api, 'GET', S(tid)), 401, 'unauthenticated')
  problem(await http(api, 'GET', S('00000000-0000-7000-8000-000000000000'), { token: owner.token }), 404, 'not_found')
  problem(await http(api, 'GET', S('not-a-uuid'), { token: owner.token }), 422, 'validation_failed')
  problem(await http(api, 'GET', `/v1/teams/${tid}/activity`, { token: outsider.token }), 404, 'not_found')
  // The removed member lost access at once.
  problem(await http(api, 'GET', S(tid), { token: other.token }), 404, 'not_found')
})

test('delta sync: cursors and limits Quill did not issue are 422 validation problems', async () => {
  const { viewer, tid } = await fixture(api)
  const snap = await syncAll(api, viewer.token, tid)
  const mid = (await syncPage(api, viewer.token, tid, { limit: 1 })).nextCursor // a snapshot's cursor
  const raw = Buffer.from(snap.cursor, 'base64url')
  const flip = (i, v) => { const b = Buffer.from(raw); b[i] = v; return b.toString('base64url') }
  const bad = ['garbage', '', 'AQ', snap.cursor.slice(0, -2), snap.cursor + 'AA', flip(0, 2), flip(1, 0x78),
    Buffer.concat([raw, Buffer.alloc(64)]).toString('base64url'), '%00', 'a b']
  for (const since of bad) {
    const r = await http(api, 'GET', `${S(tid)}?since=${encodeURIComponent(since)}`, { token: viewer.token })
    problem(r, 422, 'validation_failed')
    assert.deepEqual(r.body.errors.map((e) => [e.field, e.code]), [['since', 'invalid_cursor']], `since=${since}`)
  }
  for (const limit of ['0', '201', '-1', 'abc', '1.5', '1000']) {
    const r = await http(api, 'GET', `${S(tid)}?limit=${limit}`, { token: viewer.token })
    problem(r, 422, 'validation_failed')
    assert.equal(r.body.errors[0].field, 'limit')
  }
  assert.equal((await syncPage(api, viewer.token, tid, { limit: 1 })).changes.length, 1)
  assert.equal((await syncPage(api, viewer.token, tid, { limit: 200 })).changes.length, snap.items.length)
  // A snapshot's cursor is good for the next snapshot page, and not as a Last-Event-ID.
  assert.equal((await syncPage(api, viewer.token, tid, { since: mid, limit: 200 })).changes.length, snap.items.length - 1)
  const s = await openStream(api, viewer.token, tid, { lastEventId: mid })
  problem(s, 422, 'validation_failed')
  assert.deepEqual(s.body.errors.map((e) => [e.field, e.code]), [['Last-Event-ID', 'invalid_cursor']])
})

test('entries written side by side (one group commit) each come once in the delta', async () => {
  const { owner, viewer, tid } = await fixture(api)
  const { cursor } = await syncAll(api, viewer.token, tid)
  const made = await Promise.all(Array.from({ length: 24 }, (_, i) => addEntry(api, owner.token, tid, `burst ${i}`)))
  const d = await syncAll(api, viewer.token, tid, { since: cursor, limit: 5 })
  assert.equal(d.items.length, 24)
  // Many share a millisecond: the snapshot pages through them without a gap or a repeat.
  const snap = await syncAll(api, viewer.token, tid, { limit: 5 })
  const ids = snap.items.filter((c) => c.type === 'journalEntry').map((c) => c.id)
  assert.deepEqual([...ids].sort(), made.map((e) => e.journalEntryId).sort())
  assert.deepEqual(d.items.map((c) => c.id).sort(), made.map((e) => e.journalEntryId).sort())
  assert.ok(d.items.every((c) => c.type === 'journalEntry' && c.operation === 'upsert'))
})


test('pages of the largest entries are answered whole, three to a page (1 MiB): a list, a snapshot and a delta', async () => {
  const { owner, viewer, tid } = await fixture(api)
  const { cursor } = await syncAll(api, viewer.token, tid)
  // 100,000 characters of four bytes each (400,000 bytes): as large as an entry gets.
  const big = Array.from({ length: 8 }, (_, i) => String.fromCodePoint(0x1f600 + i).repeat(100000))
  const made = []
  for (const content of big) made.push(await addEntry(api, owner.token, tid, content))
  const newest = made.map((e) => e.journalEntryId).reverse()
  const items = []
  const sizes = []
  for (let c = null, first = true; first || c; first = false) {
    const list = await http(api, 'GET', `/v1/teams/${tid}/journal-entries${c ? `?cursor=${encodeURIComponent(c)}` : ''}`, { token: viewer.token })
    assert.equal(list.status, 200, list.text.slice(0, 500))
    items.push(...list.body.items)
    sizes.push(list.body.items.length)
    c = list.body.nextCursor
  }
  assert.deepEqual(sizes, [3, 3, 2])
  assert.deepEqual(items.map((e) => e.journalEntryId), newest)
  assert.ok(items.every((e, i) => e.content === big[big.length - 1 - i]), 'every entry whole')
  const snap = await syncAll(api, viewer.token, tid)
  assert.equal(snap.pages[0].changes.length, 3)
  const entries = snap.items.filter((c) => c.type === 'journalEntry')
  assert.deepEqual(entries.map((c) => c.id), newest)
  assert.ok(entries.every((c, i) => c.data.content === big[big.length - 1 - i]), 'every entry whole')
  const delta = await syncAll(api, viewer.token, tid, { since: cursor })
  assert.deepEqual(delta.items.map((c) => c.id), made.map((e) => e.journalEntryId))
  assert.ok(delta.items.every((c, i) => c.data.content === big[i]), 'every entry whole')
})

test('retention: a cursor older than the log keeps is 410 cursor_expired; a new snapshot goes on', async () => {
  const { owner, viewer, tid } = await fixture(api)
  const quiet = await fixture(api)
  const snap = await syncAll(api, viewer.token, tid)
  const mid = (await syncPage(api, viewer.token, tid, { limit: 1 })).nextCursor
  const quietCursor = (await syncAll(api, quiet.viewer.token, quiet.tid)).cursor
  const e1 = await addEntry(api, owner.token, tid, 'to be compacted')
  const e2 = await addEntry(api, owner.token, tid, 'kept')
  const before = await syncAll(api, viewer.token, tid, { since: snap.cursor })
  assert.deepEqual(before.items.map((c) => c.id), [e1.journalEntryId, e2.journalEntryId])
  const afterE1 = (await syncPage(api, viewer.token, tid, { since: snap.cursor, limit: 1 })).nextCursor

  // Run a worker until the activity consumer is past both writes, then mark the log's end as
  // 30 days old and run the compaction.
  const w = await start('quill-worker', WORKER, 'quill-worker ready')
  try {
    const past = () => sql(`SELECT bool_and((c.txid, c.seq) <= (p.txid, p.seq)) FROM changes c, change_consumers p
      WHERE p.name = 'activity' AND c.team_id = '${tid}'`) === 't'
    assert.ok(await waitFor(past, { timeout: 10000 }), 'the activity consumer passed the writes')
    // A client of a quiet team polls: nothing new, and its cursor keeps up with the log.
    const polled = await syncPage(api, quiet.viewer.token, quiet.tid, { since: quietCursor })
    assert.deepEqual(polled.changes, [])
    sql(`INSERT INTO change_marks VALUES (now() - interval '30 days', pg_snapshot_xmin(pg_current_snapshot()), 0)`)
    const job = sql(`INSERT INTO jobs (kind, payload) VALUES ('purge.changes', '{}') RETURNING job_id`)
    sql(`SELECT pg_notify('quill_jobs', 'default')`)
    assert.ok(await waitFor(() => sql(`SELECT state FROM jobs WHERE job_id = ${job}`) === 'succeeded', { timeout: 10000 }),
      sql(`SELECT state, errors FROM jobs WHERE job_id = ${job}`))
    assert.equal(sql(`SELECT count(*) FROM changes WHERE entity_id = '${e1.journalEntryId}'`), '0', 'compacted')

    for (const since of [snap.cursor, mid, afterE1]) {
      const r = await http(api, 'GET', `${S(tid)}?since=${since}`, { token: viewer.token })
      problem(r, 410, 'cursor_expired')
      assert.equal(r.body.status, 410)
    }
    const s = await openStream(api, viewer.token, tid, { lastEventId: afterE1 })
    assert.equal(s.status, 410)
    assert.equal(s.body.code, 'cursor_expired')
    // The rule is the same for everyone: a bad cursor is still 422, an outsider still 404.
    problem(await http(api, 'GET', `${S(tid)}?since=garbage`, { token: viewer.token }), 422, 'validation_failed')
    problem(await http(api, 'GET', `${S(tid)}?since=${snap.cursor}`, { token: quiet.outsider.token }), 404, 'not_found')

    // A new snapshot sees the state, and its cursor and the newer ones work.
    const fresh = await syncAll(api, viewer.token, tid, { limit: 4 })
    assert.ok(fresh.items.some((c) => c.id === e1.journalEntryId) && fresh.items.some((c) => c.id === e2.journalEntryId))
    assert.deepEqual((await syncPage(api, viewer.token, tid, { since: fresh.cursor })).changes, [])
    assert.deepEqual((await syncPage(api, viewer.token, tid, { since: before.cursor })).changes, [])
    const e3 = await addEntry(api, owner.token, tid, 'after the compaction')
    assert.deepEqual((await syncPage(api, viewer.token, tid, { since: fresh.cursor })).changes.map((c) => c.id), [e3.journalEntryId])
    const r = await openStream(api, viewer.token, tid, { lastEventId: before.cursor })
    assert.equal(r.status, 200)
    assert.ok(await r.waitEvents(1))
    assert.equal(r.events[0].data.id, e3.journalEntryId)
    r.close()
    // The quiet team's client polled just before: it is up to date, its cursor not expired.
    assert.deepEqual((await syncPage(api, quiet.viewer.token, quiet.tid, { since: polled.nextCursor })).changes, [])
  } finally {
    assert.equal((await stop(w)).code, 0)
  }
})

test('a delta page read again is answered from memory while its team is unchanged, on any instance', async () => {
  const { owner, viewer, tid } = await fixture(api)
  const other = await start('quill-api', ENV) // a second instance over the same database
  try {
    const { cursor } = await syncAll(api, viewer.token, tid)
    const made = []
    for (let i = 0; i < 6; i++) made.push(await addEntry(api, owner.token, tid, `kept ${i}`))
    const hits = () => metric(other, 'quill_sync_page_cache_hits_total')
    const first = await syncPage(other, viewer.token, tid, { since: cursor, limit: 3 })
    assert.deepEqual(first.changes.map((c) => c.id), made.slice(0, 3).map((e) => e.journalEntryId))
    assert.equal(first.hasMore, true)
    // Read again until one is counted a hit (a page read while a transaction ran is not kept).
    const before = await hits()
    await waitFor(async () => {
      assert.deepEqual(await syncPage(other, viewer.token, tid, { since: cursor, limit: 3 }), first)
      return (await hits()) > before
    })
    // A write through the first instance changes the page the second one kept.
    await editEntry(api, owner.token, tid, made[1].journalEntryId, 'edited')
    const edited = await syncPage(other, viewer.token, tid, { since: cursor, limit: 3 })
    assert.deepEqual(edited.changes.map((c) => c.id), [0, 2, 3].map((i) => made[i].journalEntryId))
    const rest = await syncAll(other, viewer.token, tid, { since: edited.nextCursor, limit: 3 })
    assert.deepEqual(rest.items.map((c) => c.id), [4, 5, 1].map((i) => made[i].journalEntryId))
    assert.equal(rest.items[2].data.content, 'edited')
    await dropEntry(api, owner.token, tid, made[0].journalEntryId)
    const dropped = await syncPage(other, viewer.token, tid, { since: cursor, limit: 3 })
    assert.deepEqual(dropped.changes.map((c) => [c.id, c.operation]),
      [[made[2].journalEntryId, 'upsert'], [made[3].journalEntryId, 'upsert'], [made[4].journalEntryId, 'upsert']])
    const misses = await metric(other, 'quill_sync_page_cache_misses_total')
    assert.ok(misses >= 3, `misses ${misses}`)
    assert.ok(await metric(other, 'quill_sync_page_cache_bytes') > 0)
  } finally {
    await stop(other)
  }
  const off = await start('quill-api', { ...ENV, QUILL_SYNC_CACHE_MB: '0' })
  try {
    assert.equal(await metric(off, 'quill_sync_page_cache_hits_total'), null, 'no cache, no counters')
  } finally {
    await stop(off)
  }
})
