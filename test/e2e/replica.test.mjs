// Read replicas: a primary of its own (port QUILL_PG_PORT + 5) and a hot standby streaming
// from it (tools/quill replica, made with pg_basebackup, port + 6); two quill-api with
// DATABASE_READ_URL.  Replay on the standby is paused so that its lag is certain: a caller
// that wrote reads its write (the primary answers, in the process that took the write, or
// anywhere with Quill-Min-Lsn), other callers are answered by the lagging replica, and a
// replica that goes away costs nothing but a fallback to the primary.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { start, stop, http, signup, makeTeam, addMember, waitFor } from './lib.mjs'
import { cluster, destroy, psql, extraPort, urlOf } from './cluster.mjs'

const REPLICA_PORT = extraPort(6)
const replicaUrl = urlOf(REPLICA_PORT)
let c, a, b

const metric = async (h, name) => {
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(await (await fetch(h.url + '/metrics')).text())
  return m ? Number(m[1]) : null
}

before(async () => {
  c = await cluster('replica', 5).create()
  c.env.QUILL_REPLICA_PORT = String(REPLICA_PORT)
  await c.tools('replica', 'start')
  const env = {
    DATABASE_URL: c.url(),
    DATABASE_READ_URL: replicaUrl,
    QUILL_LOOP_READS: '0', // single-entry reads on the pool too (the loops read the primary)
    QUILL_READ_AFTER_WRITE_MS: '600000', // the whole drill is "lately"
    QUILL_RATE_LIMIT: '100000',
    QUILL_AUTH_IP_LIMIT: '100000'
  }
  a = await start('quill-api', env)
  b = await start('quill-api', env)
})

after(async () => {
  for (const h of [a, b]) if (h) await stop(h)
  await destroy(c?.dir)
})

test('reads go to a lagging replica, except a caller\'s reads of its own writes; a replica that goes away costs nothing', async (t) => {
  const owner = await signup(a)
  const { teamId } = await makeTeam(a, owner.token)
  const member = await signup(a)
  await addMember(a, owner.token, teamId, member.email, 'member')
  const first = await http(a, 'POST', `/v1/teams/${teamId}/journal-entries`, { token: owner.token, body: { content: 'before the pause' } })
  assert.equal(first.status, 201)
  const ids = (r) => r.body.items.map((e) => e.journalEntryId)
  const list = (h, who, headers = {}) => http(h, 'GET', `/v1/teams/${teamId}/journal-entries?limit=50`, { token: who.token, headers })
  // The standby has everything so far; then its replay stops.
  assert.ok(await waitFor(async () => (await psql(replicaUrl, `SELECT count(*) FROM journal_entries WHERE team_id = '${teamId}'`)) === '1'), 'the replica caught up')
  assert.equal(await psql(replicaUrl, 'SELECT pg_is_in_recovery()'), 't')
  await psql(replicaUrl, 'SELECT pg_wal_replay_pause()')

  const w = await http(a, 'POST', `/v1/teams/${teamId}/journal-entries`, { token: owner.token, body: { content: 'during the pause' } })
  assert.equal(w.status, 201)
  const lsn = w.headers.get('quill-lsn')
  assert.match(lsn ?? '', /^[0-9A-F]+\/[0-9A-F]+$/, 'a write answers with its WAL position')
  const id = w.body.journalEntryId

  // The writer reads its write on the instance that took it (the primary answers) ...
  const own = await list(a, owner)
  assert.equal(own.status, 200)
  assert.ok(ids(own).includes(id), 'the writer reads its own write')
  assert.equal((await http(a, 'GET', `/v1/teams/${teamId}/journal-entries/${id}`, { token: owner.token })).status, 200)
  // ... another caller is answered by the replica, which has not replayed it ...
  const other = await list(a, member)
  assert.equal(other.status, 200)
  assert.deepEqual(ids(other), [first.body.journalEntryId], 'the replica answers other callers, lagging')
  assert.equal((await http(a, 'GET', `/v1/teams/${teamId}/journal-entries/${id}`, { token: member.token })).status, 404)
  // ... and on another instance, the writer reads its write when it sends the position back.
  assert.ok(!ids(await list(b, owner)).includes(id), 'without Quill-Min-Lsn the other instance reads the replica')
  const carried = await list(b, owner, { 'quill-min-lsn': lsn })
  assert.equal(carried.status, 200)
  assert.ok(ids(carried).includes(id), 'with Quill-Min-Lsn it reads its write')
  const [readsA, readsB, fallbacksB, afterA] = [await metric(a, 'quill_db_replica_reads_total'),
    await metric(b, 'quill_db_replica_reads_total'), await metric(b, 'quill_db_replica_fallbacks_total'),
    await metric(a, 'quill_db_reads_after_write_total')]
  t.diagnostic(`replica reads: a ${readsA}, b ${readsB}; fallbacks on b ${fallbacksB}; reads after a write on a ${afterA}`)
  assert.ok(readsA > 0 && readsB > 0 && fallbacksB > 0 && afterA > 0)

  // Replay resumes: everyone sees the write, from the replica.
  await psql(replicaUrl, 'SELECT pg_wal_replay_resume()')
  assert.ok(await waitFor(async () => ids(await list(a, member)).includes(id)), 'the replica caught up')
  assert.ok(ids(await list(b, owner, { 'quill-min-lsn': lsn })).includes(id))

  // The replica goes away: reads fall back to the primary, nothing fails.
  await c.tools('replica', 'stop')
  const before = await metric(a, 'quill_db_replica_fallbacks_total')
  for (let i = 0; i < 3; i++) {
    const r = await list(a, member)
    assert.equal(r.status, 200, r.text)
    assert.ok(ids(r).includes(id))
  }
  assert.ok(await metric(a, 'quill_db_replica_fallbacks_total') > before, 'the primary answered instead')
  assert.equal((await http(a, 'POST', `/v1/teams/${teamId}/journal-entries`, { token: member.token, body: { content: 'after' } })).status, 201)
})
