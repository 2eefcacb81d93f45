// Reads on the event loop (QUILL_LOOP_READS: one entry, a page of entries, a delta page of
// sync, the caller's profile): the loop answers them on its own pipelined database session when the caller's
// principal is cached, and hands the rest to the pool.  Every answer must be the one the pool gives, revocation must reach it, and
// a database restart must only cost the loop its session for a moment.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { start, stop, http, sleep, signup, makeTeam, addMember, pg, waitFor, metric, loopAndPool } from './lib.mjs'

const ENV = { QUILL_AUTH_IP_LIMIT: '100000', QUILL_RATE_LIMIT: '100000' }
let loop, pool
loopAndPool(ENV, (l, p) => { loop = l; pool = p })

// The parts of a response that must not depend on where it was answered.
function shape (r) {
  const body = { ...(r.body || {}) }
  delete body.traceId // problem details name the request
  return { status: r.status, etag: r.headers.get('etag'), type: r.headers.get('content-type'), body }
}

test('the loop answers every case of GET one entry exactly as the pool does', async () => {
  const owner = await signup(loop)
  const viewer = await signup(loop)
  const outsider = await signup(loop)
  const team = await makeTeam(loop, owner.token)
  await addMember(loop, owner.token, team.teamId, viewer.email, 'viewer')
  const base = `/v1/teams/${team.teamId}/journal-entries`
  const made = await http(loop, 'POST', base, { token: owner.token, body: { content: 'on the loop ✓' } })
  assert.equal(made.status, 201)
  const gone = await http(loop, 'POST', base, { token: owner.token, body: { content: 'deleted' } })
  assert.equal((await http(loop, 'DELETE', `${base}/${gone.body.journalEntryId}`, { token: owner.token })).status, 204)
  const id = made.body.journalEntryId
  const etag = made.headers.get('etag')
  const cases = [
    ['a member reads it', viewer.token, `${base}/${id}`, {}],
    ['the same ETag', viewer.token, `${base}/${id}`, { 'if-none-match': etag }],
    ['another ETag', viewer.token, `${base}/${id}`, { 'if-none-match': '"99"' }],
    ['a deleted entry', viewer.token, `${base}/${gone.body.journalEntryId}`, {}],
    ['an unknown entry', viewer.token, `${base}/018f0000-0000-7000-8000-000000000000`, {}],
    ['not a member', outsider.token, `${base}/${id}`, {}],
    ['a bad id', viewer.token, `${base}/not-a-uuid`, {}],
    ['no token', null, `${base}/${id}`, {}],
    ['a wrong token', 'qs_not-a-token-at-all-000000000000000000', `${base}/${id}`, {}]
  ]
  const before = await metric(loop, 'quill_loop_reads_total')
  for (const [what, token, path, headers] of cases) {
    // twice on the loop: the first may load the principal on the pool, the second is cached
    for (let i = 0; i < 2; i++) {
      const a = await http(loop, 'GET', path, { token, headers })
      const b = await http(pool, 'GET', path, { token, headers })
      assert.deepEqual(shape(a), shape(b), what)
    }
  }
  const r = await http(loop, 'GET', `${base}/${id}`, { token: viewer.token })
  assert.equal(r.status, 200)
  assert.equal(r.body.content, 'on the loop ✓')
  assert.equal(r.headers.get('cache-control'), 'no-store')
  assert.ok(r.headers.get('ratelimit-remaining'), 'the rate limit applies on the loop too')
  const after = await metric(loop, 'quill_loop_reads_total')
  assert.ok(after - before >= 8, `reads answered on the loop: ${after - before}`)
  assert.equal(await metric(pool, 'quill_loop_reads_total'), null, 'QUILL_LOOP_READS=0 turns it off')
})

test('the loop answers every case of a page of entries exactly as the pool does', async () => {
  const owner = await signup(loop)
  const member = await signup(loop)
  const outsider = await signup(loop)
  const team = await makeTeam(loop, owner.token)
  await addMember(loop, owner.token, team.teamId, member.email, 'member')
  const base = `/v1/teams/${team.teamId}/journal-entries`
  for (let i = 0; i < 5; i++) {
    const token = i % 2 ? member.token : owner.token
    assert.equal((await http(loop, 'POST', base, { token, body: { content: `entry ${i} ✓` } })).status, 201)
  }
  const first = await http(pool, 'GET', `${base}?limit=2`, { token: owner.token })
  assert.equal(first.status, 200)
  const cursor = encodeURIComponent(first.body.nextCursor)
  const cases = [
    ['the first page', owner.token, `${base}?limit=2`],
    ['the next page', owner.token, `${base}?limit=2&cursor=${cursor}`],
    ['every entry', member.token, base],
    ['by author', owner.token, `${base}?authorUserId=${member.user.userId}`],
    ['by an unknown prompt', owner.token, `${base}?promptId=018f0000-0000-7000-8000-000000000000`],
    ['a bad author', owner.token, `${base}?authorUserId=nope`],
    ['a bad cursor', owner.token, `${base}?cursor=AAAA`],
    ['a bad limit', owner.token, `${base}?limit=0`],
    ['not a member', outsider.token, base],
    ['no token', null, base]
  ]
  const before = await metric(loop, 'quill_loop_reads_total')
  for (const [what, token, path] of cases) {
    for (let i = 0; i < 2; i++) { // the first may load the principal on the pool
      const a = await http(loop, 'GET', path, { token })
      const b = await http(pool, 'GET', path, { token })
      assert.deepEqual(shape(a), shape(b), what)
    }
  }
  const pages = await http(loop, 'GET', `${base}?limit=2&cursor=${cursor}`, { token: owner.token })
  assert.deepEqual(pages.body.items.map((e) => e.content), ['entry 2 ✓', 'entry 1 ✓'])
  const after = await metric(loop, 'quill_loop_reads_total')
  assert.ok(after - before >= 5, `pages answered on the loop: ${after - before}`)
})

test('the loop answers every case of a delta page of sync exactly as the pool does', async () => {
  const owner = await signup(loop)
  const viewer = await signup(loop)
  const outsider = await signup(loop)
  const team = await makeTeam(loop, owner.token)
  await addMember(loop, owner.token, team.teamId, viewer.email, 'viewer')
  const sync = `/v1/teams/${team.teamId}/sync`
  const base = `/v1/teams/${team.teamId}/journal-entries`
  const snap = await http(pool, 'GET', `${sync}?limit=1`, { token: owner.token })
  assert.equal(snap.status, 200)
  let since
  for (let r = snap; ; r = await http(pool, 'GET', `${sync}?since=${encodeURIComponent(r.body.nextCursor)}`, { token: owner.token })) {
    if (!r.body.hasMore) { since = encodeURIComponent(r.body.nextCursor); break }
  }
  for (let i = 0; i < 4; i++) {
    assert.equal((await http(loop, 'POST', base, { token: owner.token, body: { content: `change ${i} ✓` } })).status, 201)
  }
  const gone = await http(loop, 'POST', base, { token: owner.token, body: { content: 'deleted' } })
  assert.equal((await http(loop, 'DELETE', `${base}/${gone.body.journalEntryId}`, { token: owner.token })).status, 204)
  const two = await http(pool, 'GET', `${sync}?since=${since}&limit=2`, { token: owner.token })
  const cases = [
    ['the changes since', viewer.token, `${sync}?since=${since}`],
    ['two of them', owner.token, `${sync}?since=${since}&limit=2`],
    ['the rest', owner.token, `${sync}?since=${encodeURIComponent(two.body.nextCursor)}`],
    ['a snapshot (the pool answers it)', owner.token, `${sync}?limit=3`],
    ['a snapshot page cursor', owner.token, `${sync}?since=${encodeURIComponent(snap.body.nextCursor)}`],
    ['a bad cursor', owner.token, `${sync}?since=AAAA`],
    ['a bad limit', owner.token, `${sync}?since=${since}&limit=0`],
    ['not a member', outsider.token, `${sync}?since=${since}`],
    ['no token', null, `${sync}?since=${since}`]
  ]
  // The cursor of a page that reaches the end moves on with the database's oldest running
  // transaction, which other requests change between two reads: compare it only mid-way.
  // A snapshot's cursor carries that horizon at every page (where its deltas will start),
  // so of a snapshot only the presence of the cursor is compared.
  const same = (r, path) => {
    const s = shape(r)
    if (s.body && s.body.hasMore === false) delete s.body.nextCursor
    if (s.body && !path.includes('since=') && typeof s.body.nextCursor === 'string') s.body.nextCursor = '(a snapshot cursor)'
    return s
  }
  const before = await metric(loop, 'quill_loop_reads_total')
  for (const [what, token, path] of cases) {
    for (let i = 0; i < 2; i++) { // the first may load the principal on the pool
      const a = await http(loop, 'GET', path, { token })
      const b = await http(pool, 'GET', path, { token })
      assert.deepEqual(same(a, path), same(b, path), what)
    }
  }
  const all = await http(loop, 'GET', `${sync}?since=${since}`, { token: owner.token })
  assert.deepEqual(all.body.changes.map((c) => c.operation === 'upsert' ? c.data.content : c.operation),
    ['change 0 ✓', 'change 1 ✓', 'change 2 ✓', 'change 3 ✓', 'delete'])
  const after = await metric(loop, 'quill_loop_reads_total')
  assert.ok(after - before >= 4, `delta pages answered on the loop: ${after - before}`)
})

test('a delta page with prompts and members after its cursor is handed by the loop to the pool and answered the same', async () => {
  const owner = await signup(loop)
  const other = await signup(loop)
  const team = await makeTeam(loop, owner.token)
  const sync = `/v1/teams/${team.teamId}/sync`
  const base = `/v1/teams/${team.teamId}/journal-entries`
  let r = await http(pool, 'GET', `${sync}?limit=200`, { token: owner.token })
  while (r.body.hasMore) r = await http(pool, 'GET', `${sync}?since=${encodeURIComponent(r.body.nextCursor)}`, { token: owner.token })
  const since = encodeURIComponent(r.body.nextCursor)
  assert.equal((await http(loop, 'POST', base, { token: owner.token, body: { content: 'first' } })).status, 201)
  const entriesOnly = encodeURIComponent((await http(pool, 'GET', `${sync}?since=${since}`, { token: owner.token })).body.nextCursor)
  assert.equal((await http(loop, 'POST', `/v1/teams/${team.teamId}/prompts`, { token: owner.token, body: { text: 'What went well?', category: 'reflection' } })).status, 201)
  await addMember(loop, owner.token, team.teamId, other.email, 'member')
  assert.equal((await http(loop, 'POST', base, { token: owner.token, body: { content: 'second' } })).status, 201)
  const toPool = await metric(loop, 'quill_loop_reads_to_pool_total')
  for (const path of [`${sync}?since=${since}`, `${sync}?since=${since}&limit=1`, `${sync}?since=${entriesOnly}`]) {
    const a = await http(loop, 'GET', path, { token: owner.token })
    const b = await http(pool, 'GET', path, { token: owner.token })
    assert.equal(a.status, 200, JSON.stringify(a.body))
    const changes = (x) => x.body.changes.map((c) => [c.type, c.operation, c.id])
    assert.deepEqual(changes(a), changes(b), path)
  }
  const all = (await http(loop, 'GET', `${sync}?since=${since}`, { token: owner.token })).body.changes
  assert.deepEqual(all.map((c) => c.type), ['journalEntry', 'prompt', 'member', 'journalEntry'])
  assert.ok(await metric(loop, 'quill_loop_reads_to_pool_total') > toPool, 'the loop handed those pages to the pool')
})


test('the loop answers GET /v1/me exactly as the pool does, and sees writes at once', async () => {
  const owner = await signup(loop)
  const member = await signup(loop)
  const team = await makeTeam(loop, owner.token)
  const before = await metric(loop, 'quill_loop_reads_total')
  for (const [what, token] of [['owner', owner.token], ['no team yet', member.token],
    ['no token', null], ['a wrong token', 'qs_not-a-token-at-all-000000000000000000']]) {
    for (let i = 0; i < 2; i++) { // the first may load the principal on the pool
      const a = await http(loop, 'GET', '/v1/me', { token })
      const b = await http(pool, 'GET', '/v1/me', { token })
      assert.deepEqual(shape(a), shape(b), what)
    }
  }
  const after = await metric(loop, 'quill_loop_reads_total')
  assert.ok(after - before >= 2, `profiles answered on the loop: ${after - before}`)
  // a write through the pool is seen by the next read on the loop
  await addMember(loop, owner.token, team.teamId, member.email, 'member')
  assert.equal((await http(loop, 'PATCH', '/v1/me', { token: member.token, body: { displayName: 'Renamed' } })).status, 200)
  const me = await http(loop, 'GET', '/v1/me', { token: member.token })
  assert.equal(me.status, 200)
  assert.equal(me.body.displayName, 'Renamed')
  assert.deepEqual(me.body.teams.map((t) => [t.teamId, t.role]), [[team.teamId, 'member']])
})

test('each loop opens its session at start: the first read already runs on the loop', async () => {
  const h = await start('quill-api', ENV)
  try {
    const u = await signup(h)
    const team = await makeTeam(h, u.token)
    const made = await http(h, 'POST', `/v1/teams/${team.teamId}/journal-entries`, { token: u.token, body: { content: 'first' } })
    const tried = async () => (await metric(h, 'quill_loop_reads_total')) + (await metric(h, 'quill_loop_reads_to_pool_total'))
    assert.equal(await tried(), 0)
    const r = await http(h, 'GET', `/v1/teams/${team.teamId}/journal-entries/${made.body.journalEntryId}`, { token: u.token })
    assert.equal(r.status, 200)
    assert.equal(await tried(), 1, 'the first read was tried on the loop')
  } finally { await stop(h) }
})

test('a revoked session or membership stops reads on the loop at once, on every instance', async () => {
  const owner = await signup(loop)
  const m = await signup(loop)
  const team = await makeTeam(loop, owner.token)
  await addMember(loop, owner.token, team.teamId, m.email, 'member')
  const made = await http(loop, 'POST', `/v1/teams/${team.teamId}/journal-entries`, { token: owner.token, body: { content: 'x' } })
  const path = `/v1/teams/${team.teamId}/journal-entries/${made.body.journalEntryId}`
  for (let i = 0; i < 3; i++) assert.equal((await http(loop, 'GET', path, { token: m.token })).status, 200)
  // removed through the other instance: the loop's cached principal is evicted
  assert.equal((await http(pool, 'DELETE', `/v1/teams/${team.teamId}/members/${m.user.userId}`, { token: owner.token })).status, 204)
  assert.ok(await waitFor(async () => (await http(loop, 'GET', path, { token: m.token })).status === 404, { timeout: 1000, every: 10 }))
  for (let i = 0; i < 3; i++) assert.equal((await http(loop, 'GET', path, { token: owner.token })).status, 200)
  assert.equal((await http(loop, 'POST', '/v1/auth/logout', { token: owner.token })).status, 204)
  assert.equal((await http(loop, 'GET', path, { token: owner.token })).status, 401)
})

test('a database restart: reads fail over to the pool, then the loop reconnects', async () => {
  const owner = await signup(loop)
  const team = await makeTeam(loop, owner.token)
  const made = await http(loop, 'POST', `/v1/teams/${team.teamId}/journal-entries`, { token: owner.token, body: { content: 'durable' } })
  const path = `/v1/teams/${team.teamId}/journal-entries/${made.body.journalEntryId}`
  for (let i = 0; i < 3; i++) assert.equal((await http(loop, 'GET', path, { token: owner.token })).status, 200)
  try {
    await pg('stop')
    const down = await waitFor(async () => { const r = await http(loop, 'GET', path, { token: owner.token }); return r.status !== 200 && r }, { timeout: 10000 })
    assert.ok(down, 'reads fail while the database is down')
    assert.ok([401, 503].includes(down.status), `${down.status} ${down.text}`)
    if (down.status === 503) assert.equal(down.body.code, 'unavailable')
  } finally {
    await pg('start')
  }
  const up = await waitFor(async () => (await http(loop, 'GET', path, { token: owner.token })).status === 200, { timeout: 15000 })
  assert.ok(up, 'reads work again')
  await sleep(1200) // the loop retries its session once a second
  const before = await metric(loop, 'quill_loop_reads_total')
  for (let i = 0; i < 20; i++) {
    const r = await http(loop, 'GET', path, { token: owner.token })
    assert.equal(r.status, 200)
    assert.equal(r.body.content, 'durable')
  }
  const after = await metric(loop, 'quill_loop_reads_total')
  assert.ok(after - before >= 15, `the loop answers again after the restart: ${after - before} of 20`)
})
