// Read replicas: a primary of its own (extra port 5 of cluster.mjs) and a hot standby streaming
// from it (tools/quill replica, made with pg_basebackup, extra port 6); two quill-api with
// DATABASE_READ_URL.  Replay on the standby is paused so that its lag is certain: a caller
// that wrote reads its write (the primary answers, in the process that took the write, or
// anywhere with Quill-Min-Lsn), other callers are answered by the lagging replica, and a
// replica that goes away costs nothing but a fallback to the primary.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { start, stop, http, signup, makeTeam, addMember, waitFor, sleep, BIN } from './lib.mjs'
import { cluster, destroy, psql, exec, extraPort, urlOf } from './cluster.mjs'

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

// ---- failover ------------------------------------------------------------------------------

// A client writing entries one after another until stopped; keeps what was acknowledged and
// every other answer.
function writer (h, token, teamId, tag) {
  const w = { acked: new Map(), other: [], stopped: false }
  w.loop = (async () => {
    for (let i = 0; !w.stopped; i++) {
      const content = `${tag} ${i}`
      try {
        const res = await fetch(`${h.url}/v1/teams/${teamId}/journal-entries`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ content }),
          signal: AbortSignal.timeout(10000)
        })
        const text = await res.text()
        if (res.status === 201) w.acked.set(JSON.parse(text).journalEntryId, content)
        else w.other.push({ status: res.status, retryAfter: res.headers.get('retry-after'), text })
        if (res.status !== 201) await sleep(50)
      } catch (e) {
        w.other.push({ error: e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code || e.message) })
        await sleep(50)
      }
    }
  })()
  w.stop = async () => { w.stopped = true; await w.loop; return w }
  return w
}

test('failover: the primary dies, the replica is promoted, quill-api and quill-worker carry on with nothing acknowledged lost', async (t) => {
  await c.tools('replica', 'start')
  const primary = c.url()
  // Synchronous replication: a commit is acknowledged once the standby has it, so losing
  // the primary loses nothing acknowledged.  (Set after the standby was copied: the
  // standby's own configuration must not wait for a standby of its own once promoted.)
  await psql(primary, "ALTER SYSTEM SET synchronous_standby_names = '*'")
  await psql(primary, 'SELECT pg_reload_conf()')
  assert.ok(await waitFor(async () => (await psql(primary, "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")) === '1'), 'the standby is synchronous')

  // Every client lists both servers and wants the one that takes writes.
  const url = `postgresql://postgres@127.0.0.1:${c.port},127.0.0.1:${REPLICA_PORT}/quill?target_session_attrs=read-write`
  const env = { DATABASE_URL: url, QUILL_RATE_LIMIT: '100000', QUILL_AUTH_IP_LIMIT: '100000' }
  const api = await start('quill-api', env)
  const worker = await start('quill-worker', {
    ...env, QUILL_WORKER_LISTEN: '127.0.0.1:0', QUILL_JOB_POLL_MS: '100', QUILL_JOB_HEARTBEAT_MS: '200', QUILL_JOB_RESCUE_AFTER_MS: '2000'
  }, 'quill-worker ready')
  const wurl = 'http://' + JSON.parse(worker.lines.find((l) => l.includes('"msg":"quill-worker starting"'))).metrics
  let ws = []
  try {
    const u = await signup(api)
    const { teamId } = await makeTeam(api, u.token)
    const jobs = await psql(primary, "WITH j AS (INSERT INTO jobs (kind, payload, max_attempts) SELECT 'noop', '{}', 5 FROM generate_series(1, 200) RETURNING job_id) SELECT string_agg(job_id::text, ',') FROM j")
    await psql(primary, "SELECT pg_notify('quill_jobs', 'default')")
    ws = Array.from({ length: 4 }, (_, i) => writer(api, u.token, teamId, `w${i}`))
    await waitFor(() => ws.every((w) => w.acked.size >= 5), { timeout: 15000, every: 20 })

    // The primary dies (no shutdown: a crash), and the standby is promoted.
    const t0 = Date.now()
    const stopped = await exec('sh', ['-c', `${process.getuid() === 0 ? 'runuser -u postgres -- ' : ''}/usr/lib/postgresql/15/bin/pg_ctl -D "${c.dir}/pg" -m immediate -w stop`])
    assert.equal(stopped.code, 0, stopped.stderr)
    const down = ws.map((w) => w.acked.size)
    await sleep(1000)
    await c.tools('replica', 'promote')
    const before = ws.map((w) => w.acked.size)
    assert.ok(await waitFor(() => ws.every((w, i) => w.acked.size > before[i] + 5), { timeout: 30000, every: 50 }), 'writes succeed again')
    const backMs = Date.now() - t0
    await Promise.all(ws.map((w) => w.stop()))
    const newPrimary = replicaUrl
    t.diagnostic(`writes back ${backMs} ms after the primary died; acknowledged: ${ws.map((w) => w.acked.size)} (${down} before it died)`)
    t.diagnostic(`other answers: ${JSON.stringify(ws.flatMap((w) => w.other).reduce((m, a) => { const k = a.status ?? a.error; m[k] = (m[k] || 0) + 1; return m }, {}))}`)

    // In between, every write was answered 503 with Retry-After: no 500, no hang.
    for (const a of ws.flatMap((w) => w.other)) {
      assert.equal(a.status, 503, JSON.stringify(a))
      assert.ok(Number(a.retryAfter) >= 1, `a 503 without Retry-After: ${a.text}`)
    }
    // Every acknowledged entry is on the new primary, whole.
    const rows = await psql(newPrimary, `SELECT journal_entry_id, content FROM journal_entries WHERE team_id = '${teamId}'`)
    const inDb = new Map(rows.split('\n').map((r) => r.split('|')))
    for (const w of ws) for (const [id, content] of w.acked) assert.equal(inDb.get(id), content, `acknowledged entry ${id}`)
    assert.equal(await psql(newPrimary, `SELECT count(*) FROM journal_entries e WHERE team_id = '${teamId}' AND NOT EXISTS (SELECT 1 FROM changes c WHERE c.entity_id = e.journal_entry_id)`), '0')
    // The jobs: every one succeeded (those cut off mid-attempt were rescued and ran again).
    assert.ok(await waitFor(async () => (await psql(newPrimary, `SELECT count(*) FROM jobs WHERE job_id IN (${jobs}) AND state = 'succeeded'`)) === '200', { timeout: 30000, every: 200 }),
      await psql(newPrimary, `SELECT state, count(*) FROM jobs WHERE job_id IN (${jobs}) GROUP BY 1`))
    // Both processes are up and ready, the worker leads again, the cache still hears
    // revocations (the notification connection moved too).
    assert.equal((await http(api, 'GET', '/readyz')).status, 200)
    assert.ok(await waitFor(async () => /^quill_worker_leader 1/m.test(await (await fetch(wurl + '/metrics')).text()), { timeout: 15000 }), 'the worker leads on the new primary')
    const other = await signup(api)
    assert.equal((await http(api, 'GET', '/v1/me', { token: other.token })).status, 200)
    const out = await http(api, 'POST', '/v1/auth/logout', { token: other.token })
    assert.equal(out.status, 204, out.text + api.lines.filter((l) => /warn|error/.test(l)).slice(-5).join('\n'))
    assert.equal((await http(api, 'GET', '/v1/me', { token: other.token })).status, 401)
    const audit = await exec(`${BIN}/quill-admin`, ['audit-verify'], { DATABASE_URL: newPrimary })
    assert.equal(audit.code, 0, audit.stdout + audit.stderr)
  } finally {
    await Promise.all(ws.map((w) => w.stop()))
    assert.equal((await stop(worker)).code, 0)
    assert.equal((await stop(api)).code, 0)
  }
})
