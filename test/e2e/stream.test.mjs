// Live sync streams end to end (GET /v1/teams/{teamId}/sync/stream, Server-Sent Events):
// the hello, changes in order with cursors as ids, resuming across a restart of quill-api,
// two instances on one database, revocations, the stream limit, heartbeats and SIGTERM,
// read with a real SSE client and with a raw reader (see feed.mjs).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { start, stop, http, sleep, waitFor, signup, addMember, makeKey, psqlSession, sql, PASSWORD } from './lib.mjs'
import {
  EventSource, ENV, problem, addEntry, editEntry, dropEntry, addPrompt, setRole, dropMember, dropKey,
  S, syncPage, syncAll, assertIncreasing, streamPath, openStream, openLive, endedWithin,
  eventSource, settle, fixture, lastOfEach
} from './feed.mjs'

let api
before(async () => { api = await start('quill-api', ENV) })
after(async () => { await stop(api) })

test('a stream sends the hello, then each change made after connecting, in order, with cursors as ids', async () => {
  const { owner, viewer, tid } = await fixture(api)
  const m = await signup(api)
  await addMember(api, owner.token, tid, m.email, 'viewer')
  await settle(api, owner, tid)
  const s = await openLive(api, viewer.token, tid)
  assert.match(s.headers.get('content-type'), /^text\/event-stream/)
  assert.equal(s.headers.get('x-accel-buffering'), 'no')
  assert.equal(s.headers.get('cache-control'), 'no-store')
  assert.ok(s.text.startsWith('retry: 1000\n'), JSON.stringify(s.text))
  assert.equal(s.retry, 1000)
  assert.deepEqual(s.comments.map((c) => c.text), ['connected'])
  // A quiet team: nothing but the hello.
  await sleep(1200)
  assert.deepEqual(s.events, [])
  assert.deepEqual(s.comments.map((c) => c.text), ['connected'])
  assert.equal(await endedWithin(s, 0), null)

  const { cursor } = await syncAll(api, viewer.token, tid)
  // Each write waits for its event: a stream that reads after two changes of one thing
  // sends that thing once, in its state then (as a delta page does).
  const e1 = await addEntry(api, owner.token, tid, 'one')
  assert.ok(await s.waitEvents(1))
  await editEntry(api, owner.token, tid, e1.journalEntryId, 'one, edited')
  assert.ok(await s.waitEvents(2))
  const p = await addPrompt(api, owner.token, tid, 'streamed?')
  assert.ok(await s.waitEvents(3))
  await dropEntry(api, owner.token, tid, e1.journalEntryId)
  assert.ok(await s.waitEvents(4))
  await setRole(api, owner.token, tid, m.user.userId, 'member') // (the reader's own would end its stream)
  assert.ok(await s.waitEvents(5), `got ${s.events.length} events`)
  await sleep(200)
  assert.equal(s.events.length, 5, 'each change once')
  assert.ok(s.events.every((e) => e.event === 'change'))
  assert.deepEqual(s.events.map((e) => [e.data.type, e.data.id, e.data.operation]), [
    ['journalEntry', e1.journalEntryId, 'upsert'], ['journalEntry', e1.journalEntryId, 'upsert'],
    ['prompt', p.promptId, 'upsert'], ['journalEntry', e1.journalEntryId, 'delete'],
    ['member', m.user.userId, 'upsert']])
  assertIncreasing(s.events.map((e) => e.id))
  assert.equal(s.events[3].data.data, null)
  assert.equal(s.events[4].data.data.role, 'member')
  // The ids are delta cursors: each continues exactly after its event (with each thing
  // changed since, once), and the last one where delta sync ends.
  const seen = s.events.map((e) => [e.data.type, e.data.id])
  const d = await syncAll(api, viewer.token, tid, { since: cursor })
  assert.deepEqual(d.items.map((c) => [c.type, c.id]), lastOfEach(seen))
  for (let i = 0; i < s.events.length; i++) {
    const after = await syncPage(api, viewer.token, tid, { since: s.events[i].id })
    assert.deepEqual(after.changes.map((c) => [c.type, c.id]), lastOfEach(seen.slice(i + 1)))
  }
  // Last-Event-ID resumes right after that event.
  const r = await openLive(api, viewer.token, tid, { lastEventId: s.events[1].id })
  assert.ok(await r.waitEvents(3))
  await sleep(200)
  assert.deepEqual(r.events.map((e) => e.id), s.events.slice(2).map((e) => e.id))
  // A browser cannot set Last-Event-ID on its first request: ?since= starts after a cursor
  // too (here the end of a snapshot, with changes made before the stream opened).
  const q = await openLive(api, viewer.token, tid, { since: cursor })
  assert.ok(await q.waitEvents(3))
  await sleep(200)
  assert.deepEqual(q.events.map((e) => e.id), lastOfEach(s.events, (e) => e.data.id).map((e) => e.id))
  // and the header wins over it, as on a reconnect
  const both = await openLive(api, viewer.token, tid, { since: cursor, lastEventId: s.events[3].id })
  assert.ok(await both.waitEvents(1))
  await sleep(200)
  assert.deepEqual(both.events.map((e) => e.id), [s.events[4].id])
  problem(await http(api, 'GET', `${streamPath(tid)}?since=nonsense`, { token: viewer.token }), 422, 'validation_failed')
  s.close(); r.close(); q.close(); both.close()
})

test('a stream is for viewers and keys of the team; others get the problem before any byte of a stream', async () => {
  const { owner, viewer, outsider, tid } = await fixture(api)
  const k = await makeKey(api, owner.token, tid, 'viewer')
  for (const t of [viewer.token, k.key]) {
    const s = await openStream(api, t, tid)
    assert.equal(s.status, 200)
    s.close()
  }
  // A browser's EventSource sends the session cookie (a GET needs no CSRF token).
  const cookie = await fetch(api.url + streamPath(tid), { headers: { cookie: viewer.cookie.split(';')[0] } })
  assert.equal(cookie.status, 200)
  await cookie.body.cancel()
  const checks = [
    [await openStream(api, outsider.token, tid), 404, 'not_found'],
    [await openStream(api, null, tid), 401, 'unauthenticated'],
    [await openStream(api, 'not-a-token', tid), 401, 'unauthenticated'],
    [await openStream(api, viewer.token, '00000000-0000-7000-8000-000000000000'), 404, 'not_found'],
    [await openStream(api, viewer.token, tid, { lastEventId: 'garbage' }), 422, 'validation_failed'],
    [await openStream(api, viewer.token, tid, { lastEventId: '' }), 422, 'validation_failed']
  ]
  for (const [s, status, code] of checks) {
    assert.equal(s.status, status, s.text)
    assert.match(s.headers.get('content-type'), /^application\/problem\+json/)
    assert.equal(s.body.code, code, s.text)
  }
  // The header is named as the field at fault, as Idempotency-Key is.
  for (const [s] of checks.slice(4)) assert.deepEqual(s.body.errors.map((e) => [e.field, e.code]), [['Last-Event-ID', 'invalid_cursor']])
})

test('the SSE client resumes across a restart of quill-api with Last-Event-ID: every change once, none lost', async () => {
  const { owner, viewer, tid } = await fixture(api)
  // A: the instance the client reads, restarted on its port; B writes while A is down.
  let a = await start('quill-api', ENV)
  const port = a.port
  let b, c
  try {
    b = await start('quill-api', ENV)
    c = eventSource(`http://127.0.0.1:${port}${streamPath(tid)}`, viewer.token)
    assert.ok(await c.waitOpens(1), 'the client connects')
    const { cursor } = await syncAll(b, viewer.token, tid)
    const written = []
    for (let i = 0; i < 3; i++) written.push(await addEntry(b, owner.token, tid, `before ${i}`))
    assert.ok(await c.waitEvents(3))
    const lastBefore = c.events[2].id

    assert.equal((await stop(a)).code, 0)
    for (let i = 0; i < 4; i++) written.push(await addEntry(b, owner.token, tid, `while down ${i}`))
    await editEntry(b, owner.token, tid, written[0].journalEntryId, 'edited while down')
    await dropEntry(b, owner.token, tid, written[1].journalEntryId)
    await sleep(1500) // the client tries and fails to reconnect meanwhile
    assert.equal(c.events.length, 3)
    assert.ok(c.errors.length >= 1, 'the client saw the stream end')

    a = await start('quill-api', { ...ENV, QUILL_LISTEN: `127.0.0.1:${port}` })
    assert.ok(await c.waitEvents(9), `after the restart: ${c.events.length} events`)
    written.push(await addEntry(b, owner.token, tid, 'after'))
    assert.ok(await c.waitEvents(10))
    await sleep(300)

    assert.equal(c.opens, 2, 'one reconnection')
    const resumed = c.requests.filter((r) => r.lastEventId !== null)
    assert.ok(resumed.length >= 1)
    assert.ok(resumed.every((r) => r.lastEventId === lastBefore), 'every reconnection sent the last id it saw')
    const ids = c.events.map((e) => e.id)
    assert.equal(new Set(ids).size, ids.length, 'no change twice')
    assertIncreasing(ids)
    // Nothing lost: the stream's events, each thing at its last, are what delta sync gives.
    const d = await syncAll(b, viewer.token, tid, { since: cursor })
    assert.deepEqual(lastOfEach(c.events.map((e) => [e.item.type, e.item.id])), d.items.map((x) => [x.type, x.id]), 'no change lost')
    assert.equal(c.events.length, 10)
    assert.deepEqual(c.events.slice(3, 7).map((e) => e.item.data.content), [0, 1, 2, 3].map((i) => `while down ${i}`))
    assert.equal(c.events[8].item.operation, 'delete')
    assert.equal(c.events[9].item.data.content, 'after')
  } finally {
    c?.close()
    await stop(a)
    if (b) await stop(b)
  }
})

test('the hello carries where the stream starts: a client that saw no change yet resumes from it across a restart', async () => {
  const { owner, viewer, tid } = await fixture(api)
  let a = await start('quill-api', ENV)
  const port = a.port
  try {
    const s = await openLive(a, viewer.token, tid)
    // An id line without data: a browser keeps it as the last event id (the eventsource
    // package, 4.1.0, does not), so its reconnection resumes from where the stream began.
    assert.match(s.text, /^retry: 1000\n: connected\nid: [A-Za-z0-9_-]+\n\n$/)
    const from = s.lastId
    assert.deepEqual((await syncPage(api, viewer.token, tid, { since: from })).changes, [])
    assert.equal((await stop(a)).code, 0)
    assert.equal((await s.ended).clean, true)
    const e = await addEntry(api, owner.token, tid, 'while down')
    a = await start('quill-api', { ...ENV, QUILL_LISTEN: `127.0.0.1:${port}` })
    const r = await openLive(a, viewer.token, tid, { lastEventId: from })
    assert.ok(await r.waitEvents(1), 'the entry written while the client was away arrives')
    assert.equal(r.events[0].data.id, e.journalEntryId)
    assert.ok(r.text.startsWith(`retry: 1000\n: connected\nid: ${from}\n\n`), 'a resumed stream starts where it was asked to')
    r.close()
  } finally {
    await stop(a)
  }
})

test('a change committed behind an older open transaction waits for it, then both come in log order', async () => {
  const { owner, viewer, tid } = await fixture(api)
  const { cursor } = await syncAll(api, viewer.token, tid)
  const s = await openLive(api, viewer.token, tid)
  // (The fixture's own changes may come too, when another transaction ran as they committed.)
  const entries = () => s.events.filter((x) => x.data.type === 'journalEntry')
  // An older transaction writes a change of the team and stays open; a newer one commits.
  const older = psqlSession()
  const rolledBack = psqlSession()
  try {
    older.write(`BEGIN; INSERT INTO sync_tombstones (team_id, kind, entity_id) VALUES ('${tid}', 1, gen_random_uuid()) RETURNING 'in';`)
    assert.ok(await waitFor(() => older.output().includes('in'), { every: 10 }))
    const e = await addEntry(api, owner.token, tid, 'behind')
    await sleep(500)
    assert.deepEqual(entries(), [], 'held while the older transaction runs')
    const held = await syncPage(api, viewer.token, tid, { since: cursor })
    assert.deepEqual([held.changes.filter((x) => x.type === 'journalEntry'), held.hasMore], [[], false])
    if (held.changes.length === 0) assert.equal(held.nextCursor, cursor, 'the cursor does not pass what is held')
    older.write('COMMIT;')
    assert.ok(await s.wait(() => entries().length >= 2, 3000), `both came after the commit: ${entries().length}`)
    assert.deepEqual(entries().map((x) => x.data.operation), ['delete', 'upsert'])
    assert.equal(entries()[1].data.id, e.journalEntryId)
    const d = await syncAll(api, viewer.token, tid, { since: cursor })
    assert.deepEqual(d.items.filter((x) => x.type === 'journalEntry').map((x) => x.id), entries().map((x) => x.data.id))
    // One that rolls back leaves nothing: the newer change comes alone.
    rolledBack.write(`BEGIN; INSERT INTO sync_tombstones (team_id, kind, entity_id) VALUES ('${tid}', 1, gen_random_uuid()) RETURNING 'in';`)
    assert.ok(await waitFor(() => rolledBack.output().includes('in'), { every: 10 }))
    const e2 = await addEntry(api, owner.token, tid, 'behind a rollback')
    await sleep(300)
    assert.equal(entries().length, 2)
    rolledBack.write('ROLLBACK;')
    assert.ok(await s.wait(() => entries().length >= 3, 3000))
    await sleep(300)
    assert.deepEqual(entries().slice(2).map((x) => x.data.id), [e2.journalEntryId])
    assertIncreasing(s.events.map((x) => x.id))
  } finally {
    s.close()
    await older.close(); await rolledBack.close()
  }
})

// With one event loop, every stream of a team shares its topic: one read of the log at a time.
const waitingOnLocks = () => sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")

test('a stream that joins from further back while its team\'s read runs gets every change after its id', async () => {
  const one = await start('quill-api', { ...ENV, QUILL_THREADS: '1' })
  const locker = psqlSession()
  const open = []
  try {
    const { owner, viewer, tid } = await fixture(one)
    const { cursor: p0 } = await syncAll(one, viewer.token, tid)
    const c1 = await addEntry(one, owner.token, tid, 'c1')
    const c2 = await addEntry(one, owner.token, tid, 'c2')
    const { cursor: p2 } = await syncAll(one, viewer.token, tid, { since: p0 })
    const a = await openLive(one, viewer.token, tid, { since: p2 })
    open.push(a)
    // The topic's next read (from a's position) waits on a lock that writing an entry,
    // opening a stream and reading the log's bounds do not take.
    locker.write("BEGIN; LOCK TABLE team_sync_others IN ACCESS EXCLUSIVE MODE; SELECT 'locked';")
    assert.ok(await waitFor(() => locker.output().includes('locked'), { every: 10 }))
    const c3 = await addEntry(one, owner.token, tid, 'c3')
    assert.ok(await waitFor(() => waitingOnLocks() === '1', { every: 20 }), 'the read waits')
    const b = await openLive(one, viewer.token, tid, { lastEventId: p0 }) // joins during the read
    open.push(b)
    locker.write('COMMIT;')
    assert.ok(await a.waitEvents(1))
    assert.ok(await b.waitEvents(3), `b got ${b.events.map((e) => e.data.data?.content)}`)
    await sleep(200)
    assert.deepEqual(b.events.map((e) => e.data.id), [c1, c2, c3].map((e) => e.journalEntryId))
    assert.deepEqual(a.events.map((e) => e.data.id), [c3.journalEntryId])
    assertIncreasing(b.events.map((e) => e.id))
  } finally {
    open.forEach((s) => s.close())
    await locker.close()
    await stop(one)
  }
})

test('a stream whose position the log no longer holds ends, and the team\'s other streams go on', async () => {
  const one = await start('quill-api', { ...ENV, QUILL_THREADS: '1' })
  const floor = sql("SELECT txid || ' ' || seq FROM change_floor").split(' ')
  const open = []
  try {
    const { owner, viewer, tid } = await fixture(one)
    const old = await openLive(one, viewer.token, tid) // read once, at the log's end then
    open.push(old)
    await sleep(300)
    for (let i = 0; i < 3; i++) sql('SELECT pg_current_xact_id()') // the log's end moves on
    // Compaction raises the floor past the first stream's position (as purge.changes does).
    sql('UPDATE change_floor SET txid = pg_snapshot_xmin(pg_current_snapshot()), seq = 0')
    const { cursor } = await syncAll(one, viewer.token, tid)
    const fresh = await openLive(one, viewer.token, tid, { since: cursor }) // the topic reads from the old one's
    open.push(fresh)
    assert.ok(await endedWithin(old, 3000), 'the expired stream ended')
    const e = await addEntry(one, owner.token, tid, 'after the floor')
    assert.ok(await fresh.waitEvents(1, 3000), 'the other stream goes on')
    assert.equal(fresh.events[0].data.id, e.journalEntryId)
    assert.equal(await endedWithin(fresh, 0), null)
  } finally {
    open.forEach((s) => s.close())
    sql(`UPDATE change_floor SET txid = '${floor[0]}', seq = ${floor[1]}`)
    await stop(one)
  }
})

test('two instances on one database: a write through one reaches a stream on the other within 1 s', async () => {
  const { owner, viewer, tid } = await fixture(api)
  const b = await start('quill-api', ENV)
  try {
    const s = await openLive(api, viewer.token, tid)
    const c = eventSource(`${b.url}${streamPath(tid)}`, viewer.token)
    assert.ok(await c.waitOpens(1))
    for (let i = 0; i < 5; i++) {
      // alternately written through b (read on api) and through api (read on b)
      const [via, n] = i % 2 ? [api, i + 1] : [b, i + 1]
      const e = await addEntry(via, owner.token, tid, `hop ${i}`)
      const t0 = Date.now()
      const arrived = await waitFor(() => s.events.length >= n && c.events.length >= n, { timeout: 1000, every: 5 })
      assert.ok(arrived, `write ${i} did not reach both streams within 1 s (${Date.now() - t0} ms)`)
      assert.equal(s.events[n - 1].data.id, e.journalEntryId)
      assert.equal(c.events[n - 1].item.id, e.journalEntryId)
    }
    assert.deepEqual(s.events.map((e) => e.id), c.events.map((e) => e.id), 'both instances give the same ids')
    s.close(); c.close()
  } finally {
    await stop(b)
  }
})

test('revocation ends streams within 1 s: logout, a member removed, an API key deleted; the reconnect is refused', async () => {
  const { owner, viewer, tid } = await fixture(api)
  const b = await start('quill-api', ENV)
  try {
    const m = await signup(api)
    await addMember(api, owner.token, tid, m.email, 'member')
    await settle(api, owner, tid)
    const k = await makeKey(api, owner.token, tid, 'viewer')
    const k2 = await makeKey(api, owner.token, tid, 'viewer')
    const ownerStream = await openLive(api, owner.token, tid)
    const open = (token, h = api) => openLive(h, token, tid)
    const endsWithin = async (s, t0, what) => {
      const end = await endedWithin(s, 1000)
      assert.ok(end, `${what}: the stream still runs after 1 s`)
      assert.ok(s.endedAt - t0 < 1000, `${what}: ended after ${s.endedAt - t0} ms`)
    }

    // Logout through the same instance, and through the other one.
    const v2 = (await http(api, 'POST', '/v1/auth/login', { body: { email: viewer.email, password: PASSWORD } })).body.session.token
    const sv = await open(viewer.token)
    const sv2 = await open(v2, b)
    const sv2here = await open(v2)
    let t0 = Date.now()
    assert.equal((await http(api, 'POST', '/v1/auth/logout', { token: viewer.token })).status, 204)
    await endsWithin(sv, t0, 'logout')
    assert.equal(await endedWithin(sv2, 300), null, 'the same user\'s other session keeps its stream')
    t0 = Date.now()
    assert.equal((await http(api, 'POST', '/v1/auth/logout', { token: v2 })).status, 204)
    await endsWithin(sv2, t0, 'logout on another instance')
    await endsWithin(sv2here, t0, 'logout')
    problem(await http(api, 'GET', S(tid), { token: viewer.token }), 401, 'unauthenticated')
    problem(await openStream(api, viewer.token, tid), 401, 'unauthenticated')

    // A member removed (through the other instance).
    const sm = await open(m.token)
    t0 = Date.now()
    await dropMember(b, owner.token, tid, m.user.userId)
    await endsWithin(sm, t0, 'member removed')
    problem(await openStream(api, m.token, tid), 404, 'not_found')

    // An API key deleted; the team's other key keeps its stream.
    const sk = await open(k.key)
    const sk2 = await open(k2.key)
    t0 = Date.now()
    await dropKey(api, owner.token, tid, k.apiKeyId)
    await endsWithin(sk, t0, 'API key deleted')
    assert.equal((await openStream(api, k.key, tid)).status, 401)
    assert.equal(await endedWithin(sk2, 300), null, 'the other key\'s stream goes on')

    // The owner's stream went on through all of it and saw the member leave.
    assert.equal(await endedWithin(ownerStream, 10), null)
    assert.ok(await ownerStream.wait(() => ownerStream.events.some((e) => e.data.type === 'member' && e.data.id === m.user.userId && e.data.operation === 'delete')))
    ownerStream.close(); sk2.close()
  } finally {
    await stop(b)
  }
})

test('the SSE client whose session is revoked stops: its reconnect gets 401 and it gives up', async () => {
  const { owner, viewer, tid } = await fixture(api)
  const c = eventSource(`${api.url}${streamPath(tid)}`, viewer.token)
  try {
    assert.ok(await c.waitOpens(1))
    await addEntry(api, owner.token, tid, 'seen')
    assert.ok(await c.waitEvents(1))
    assert.equal((await http(api, 'POST', '/v1/auth/logout', { token: viewer.token })).status, 204)
    assert.ok(await waitFor(() => c.es.readyState === EventSource.CLOSED, { timeout: 5000, every: 10 }), 'the client closed')
    assert.equal(c.errors.at(-1).code, 401)
    assert.equal(c.requests.at(-1).lastEventId, c.events[0].id)
  } finally {
    c.close()
  }
})

test('a role change ends the member\'s stream; the SSE client reconnects with Last-Event-ID and goes on', async () => {
  const { owner, viewer, tid } = await fixture(api)
  const c = eventSource(`${api.url}${streamPath(tid)}`, viewer.token)
  try {
    assert.ok(await c.waitOpens(1))
    await addEntry(api, owner.token, tid, 'before')
    assert.ok(await c.waitEvents(1))
    await setRole(api, owner.token, tid, viewer.user.userId, 'member')
    assert.ok(await c.waitOpens(2), 'the stream ended and the client reconnected')
    assert.equal(c.requests[1].lastEventId, c.events[0].id)
    // The new stream is not ended again by the change it already reflects.
    const e = await addEntry(api, owner.token, tid, 'after')
    assert.ok(await c.waitEvents(3), `events: ${JSON.stringify(c.events.map((x) => x.item.type))}`)
    await sleep(1500)
    assert.equal(c.opens, 2, 'one reconnection')
    assert.deepEqual(c.events.map((x) => [x.item.type, x.item.id]), [
      ['journalEntry', c.events[0].item.id], ['member', viewer.user.userId], ['journalEntry', e.journalEntryId]])
    assert.equal(c.events[1].item.data.role, 'member')
    assertIncreasing(c.events.map((x) => x.id))
  } finally {
    c.close()
  }
})

test('deleting the team ends its streams; the reconnect gets 404', async () => {
  const { owner, viewer, tid } = await fixture(api)
  const s = await openLive(api, viewer.token, tid)
  const t0 = Date.now()
  assert.equal((await http(api, 'DELETE', `/v1/teams/${tid}`, { token: owner.token })).status, 204)
  assert.ok(await endedWithin(s, 1000), 'the stream ended')
  assert.ok(s.endedAt - t0 < 1000)
  assert.equal((await openStream(api, viewer.token, tid)).status, 404)
  problem(await http(api, 'GET', S(tid), { token: owner.token }), 404, 'not_found')
})

test('QUILL_MAX_STREAMS=1: a second stream is 503 with Retry-After; after the first ends a new one is accepted', async () => {
  const h = await start('quill-api', { ...ENV, QUILL_MAX_STREAMS: '1' })
  try {
    const { viewer, owner, tid } = await fixture(h)
    const first = await openLive(h, viewer.token, tid)
    for (let i = 0; i < 5; i++) {
      const second = await openStream(h, owner.token, tid)
      assert.equal(second.status, 503)
      assert.match(second.headers.get('retry-after') ?? '', /^\d+$/)
      assert.equal(second.body.code, 'unavailable')
    }
    // Refused for other reasons, a stream takes no place either.
    assert.equal((await openStream(h, viewer.token, tid, { lastEventId: 'x' })).status, 422)
    // Plain requests are not streams.
    assert.equal((await http(h, 'GET', S(tid), { token: owner.token })).status, 200)
    first.close()
    const next = await waitFor(async () => {
      const s = await openStream(h, owner.token, tid)
      if (s.status === 200) return s
      assert.equal(s.status, 503)
      return null
    }, { timeout: 3000, every: 50 })
    assert.ok(next, 'a stream is accepted once the first is gone')
    assert.equal((await openStream(h, viewer.token, tid)).status, 503, 'and the limit holds again')
    // A stream ended by the server (a logout) frees its place too.
    const t0 = Date.now()
    assert.equal((await http(h, 'POST', '/v1/auth/logout', { token: owner.token })).status, 204)
    assert.ok(await endedWithin(next, 1000))
    const third = await waitFor(async () => {
      const s = await openStream(h, viewer.token, tid)
      return s.status === 200 ? s : null
    }, { timeout: 3000, every: 50 })
    assert.ok(third, `accepted ${Date.now() - t0} ms after the logout`)
    third.close()
  } finally {
    await stop(h)
  }
})

test('QUILL_SSE_HEARTBEAT_MS=1000: a quiet stream gets a keep-alive comment within 1.5 s, and keeps getting them', async () => {
  const h = await start('quill-api', { ...ENV, QUILL_SSE_HEARTBEAT_MS: '1000' })
  try {
    const { viewer, tid } = await fixture(h)
    const other = await fixture(h)
    const s = await openLive(h, viewer.token, tid)
    const t0 = s.comments[0].at
    assert.ok(await s.wait(() => s.comments.length >= 2, 1500), 'a keep-alive within 1.5 s')
    assert.equal(s.comments[1].text, 'keep-alive')
    assert.ok(s.comments[1].at - t0 <= 1500, `after ${s.comments[1].at - t0} ms`)
    assert.ok(await s.wait(() => s.comments.length >= 4, 3500), 'and again')
    assert.ok(s.comments.slice(1).every((c) => c.text === 'keep-alive'))
    assert.deepEqual(s.events, [])
    // each carries the stream's position as an id without data (a client keeps it as its
    // Last-Event-ID), and a quiet team's position moves on with the log
    assert.match(s.text, /: keep-alive\nid: [A-Za-z0-9_-]+\n\n$/)
    const ids = [...s.text.matchAll(/\nid: ([A-Za-z0-9_-]+)\n/g)].map((m) => m[1])
    assert.ok(ids.length >= 4)
    await http(h, 'POST', `/v1/teams/${other.tid}/journal-entries`, { token: other.owner.token, body: { content: 'elsewhere' } })
    const before = ids[ids.length - 1]
    assert.ok(await s.wait(() => !s.text.endsWith(`id: ${before}\n\n`) && s.text.endsWith('\n\n'), 3500), 'the position moved')
    assert.deepEqual(s.events, [])
    s.close()
  } finally {
    await stop(h)
  }
  // The setting has a floor of 1000 ms: less is refused at start.
  await assert.rejects(start('quill-api', { ...ENV, QUILL_SSE_HEARTBEAT_MS: '10' }), /QUILL_SSE_HEARTBEAT_MS/)
})

test('SIGTERM with open streams: each ends cleanly and the process exits 0 within the shutdown timeout', async () => {
  const h = await start('quill-api', { ...ENV, QUILL_SHUTDOWN_TIMEOUT_MS: '5000' })
  let c
  try {
    const { owner, viewer, tid } = await fixture(h)
    const streams = [await openLive(h, viewer.token, tid), await openLive(h, owner.token, tid)]
    c = eventSource(`${h.url}${streamPath(tid)}`, viewer.token)
    assert.ok(await c.waitOpens(1))
    await addEntry(h, owner.token, tid, 'last words')
    for (const s of streams) assert.ok(await s.waitEvents(1))
    const t0 = Date.now()
    h.proc.kill('SIGTERM')
    for (const s of streams) {
      const end = await endedWithin(s, 5000)
      assert.ok(end, 'the stream ended')
      assert.equal(end.clean, true, `the chunked body was terminated: ${end.error}`)
      assert.ok(s.text.endsWith('\n\n'), 'on an event boundary')
    }
    const exit = await Promise.race([h.exit, sleep(7000).then(() => null)])
    assert.ok(exit, 'the process exited')
    assert.deepEqual(exit, { code: 0, signal: null })
    assert.ok(Date.now() - t0 < 6000, `exited after ${Date.now() - t0} ms`)
    assert.ok(await waitFor(() => c.errors.length >= 1, { every: 10 }), 'the SSE client saw the end and will reconnect')
    assert.equal(c.es.readyState, EventSource.CONNECTING)
  } finally {
    c?.close()
    await stop(h)
  }
})

