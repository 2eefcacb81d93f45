// Crash drills: quill-api killed with SIGKILL under write load, PostgreSQL stopped and started
// under load, and a deployment of two quill-api and two quill-worker processes on one
// database doing every kind of work at once.  After each, nothing acknowledged is lost and
// nothing is half-written or done twice.  Every drill is bounded in time and ends by itself.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import httpMod from 'node:http'
import {
  start, stop, http, sql, pg, run, sleep, waitFor, signup, makeTeam, addMember, makeKey, clearJobs, BIN, DB
} from './lib.mjs'

const BOUND_MS = 10000 // no request may take longer than this, whatever happens to the database
const LIMITS = { QUILL_RATE_LIMIT: '100000', QUILL_AUTH_IP_LIMIT: '100000' }

before(clearJobs)

// ---- load -----------------------------------------------------------------------------------

// A client writing journal entries through `target()` (a quill-api handle) one after another,
// as fast as it can, until stopped or until `done(answer)` says so.  Every acknowledged
// entry (201) is kept with its content; every answer is counted by status.
function writer (target, token, teamId, tag, done = () => false) {
  const w = { tag, acked: new Map(), statuses: {}, answers: [], sent: [], maxMs: 0, stopped: false, finished: false }
  w.loop = (async () => {
    for (let i = 0; !w.stopped; i++) {
      const content = `${tag} entry ${i}`
      const t0 = performance.now()
      let a
      try {
        const res = await fetch(`${target().url}/v1/teams/${teamId}/journal-entries`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ content }),
          signal: AbortSignal.timeout(BOUND_MS)
        })
        const text = await res.text()
        a = { status: res.status, retryAfter: res.headers.get('retry-after'), text }
      } catch (e) {
        a = { error: e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code || e.message) }
      }
      a.ms = performance.now() - t0
      a.at = Date.now()
      w.maxMs = Math.max(w.maxMs, a.ms)
      const key = a.status ?? a.error
      w.statuses[key] = (w.statuses[key] || 0) + 1
      w.sent.push({ at: a.at - a.ms, status: key }) // when it was sent, and what came back
      if (a.status === 201) w.acked.set(JSON.parse(a.text).journalEntryId, content)
      else w.answers.push(a) // the rest, kept for the assertions
      if (done(a)) break
      if (a.status === 503 || a.error) await sleep(20)
    }
    w.finished = true
  })()
  w.stop = async () => { w.stopped = true; await w.loop; return w }
  return w
}

const ackedOf = (ws) => new Map(ws.flatMap((w) => [...w.acked]))

// Every acknowledged entry is in the database with its content, once, with its change-log
// row and its audit row; and every entry of the team, acknowledged or not, is whole: one
// entry row, one 'created' change, one 'journal_entry.create' audit row.
function assertWhole (teamId, acked) {
  const rows = sql(`WITH e AS (SELECT journal_entry_id AS id, content FROM journal_entries WHERE team_id = '${teamId}'),
      c AS (SELECT entity_id AS id, count(*) AS n FROM changes WHERE team_id = '${teamId}' AND kind = 1 AND event = 1 GROUP BY 1),
      a AS (SELECT target_id AS id, count(*) AS n FROM audit_log WHERE team_id = '${teamId}' AND action = 'journal_entry.create' GROUP BY 1)
    SELECT e.id, coalesce(c.n, 0), coalesce(a.n, 0), e.content FROM e LEFT JOIN c ON c.id = e.id LEFT JOIN a ON a.id = e.id::text`)
  const inDb = new Map()
  for (const line of rows ? rows.split('\n') : []) {
    const [id, changes, audits, ...content] = line.split('|')
    inDb.set(id, content.join('|'))
    assert.equal(changes, '1', `entry ${id} has ${changes} change rows`)
    assert.equal(audits, '1', `entry ${id} has ${audits} audit rows`)
  }
  for (const [id, content] of acked) assert.equal(inDb.get(id), content, `acknowledged entry ${id}`)
  // No change or audit row of an entry that is not there (a half-written one).
  assert.equal(sql(`SELECT count(*) FROM changes c WHERE c.team_id = '${teamId}' AND c.kind = 1
    AND NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.journal_entry_id = c.entity_id)`), '0')
  assert.equal(sql(`SELECT count(*) FROM audit_log a WHERE a.team_id = '${teamId}' AND a.action = 'journal_entry.create'
    AND NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.journal_entry_id::text = a.target_id)`), '0')
  return inDb
}

async function auditVerifies () {
  const r = await run(`${BIN}/quill-admin`, ['audit-verify'], { DATABASE_URL: DB })
  assert.equal(r.code, 0, r.stdout + r.stderr)
}

// ---- the drills -----------------------------------------------------------------------------

test('quill-api killed with SIGKILL under write load: every acknowledged entry is whole in the database', async (t) => {
  let api = await start('quill-api', LIMITS)
  const u = await signup(api)
  const { teamId } = await makeTeam(api, u.token)
  await stop(api)
  const acked = new Map()
  // Three rounds: eight writers for about a second, then kill -9 with their requests in flight.
  for (let round = 0; round < 3; round++) {
    api = await start('quill-api', LIMITS)
    const ws = Array.from({ length: 8 }, (_, i) => writer(() => api, u.token, teamId, `r${round}w${i}`, (a) => a.error))
    const t0 = Date.now()
    await waitFor(() => Date.now() - t0 > 700 + 200 * round && ws.every((w) => w.acked.size >= 5), { timeout: 15000, every: 10 })
    api.proc.kill('SIGKILL')
    await api.exit
    await Promise.all(ws.map((w) => w.stop()))
    const other = ws.flatMap((w) => w.answers.filter((a) => !a.error))
    assert.deepEqual(other, [], 'only 201 until the kill')
    assert.ok(ws.every((w) => w.acked.size > 0), 'every writer wrote before the kill')
    for (const [id, content] of ackedOf(ws)) acked.set(id, content)
    const inDb = assertWhole(teamId, acked)
    t.diagnostic(`round ${round}: ${acked.size} entries acknowledged so far, ${inDb.size} in the database (${inDb.size - acked.size} committed without an answer)`)
  }
  await auditVerifies()
  // A new process serves them, and takes writes again.
  api = await start('quill-api', LIMITS)
  try {
    const list = await http(api, 'GET', `/v1/teams/${teamId}/journal-entries?limit=5`, { token: u.token })
    assert.equal(list.status, 200)
    assert.equal((await http(api, 'POST', `/v1/teams/${teamId}/journal-entries`, { token: u.token, body: { content: 'after' } })).status, 201)
  } finally { await stop(api) }
})

test('PostgreSQL stopped and started under load: 503 with Retry-After meanwhile, nothing acknowledged lost', async (t) => {
  const api = await start('quill-api', LIMITS)
  try {
    const u = await signup(api)
    const { teamId } = await makeTeam(api, u.token)
    const ws = Array.from({ length: 4 }, (_, i) => writer(() => api, u.token, teamId, `pg${i}`))
    // A reader beside them: a list and the caller, each 200 or 503.
    const reads = { statuses: {}, bad: [], maxMs: 0, stopped: false }
    const reader = (async () => {
      for (let i = 0; !reads.stopped; i++) {
        const path = i % 2 ? '/v1/me' : `/v1/teams/${teamId}/journal-entries?limit=5`
        const t0 = performance.now()
        const r = await http(api, 'GET', path, { token: u.token })
        reads.maxMs = Math.max(reads.maxMs, performance.now() - t0)
        reads.statuses[r.status] = (reads.statuses[r.status] || 0) + 1
        if (r.status !== 200 && !(r.status === 503 && r.headers.get('retry-after'))) reads.bad.push(`${path}: ${r.status} ${r.text}`)
        await sleep(20)
      }
    })()
    await sleep(1000)
    const t0 = Date.now()
    await pg('stop')
    const down = Date.now()
    await sleep(2000)
    const during = ws.flatMap((w) => w.sent.filter((a) => a.at > down)) // sent while it was down
    await pg('start')
    const up = Date.now()
    // Writes succeed again: every writer gets new 201s after the start.
    const before = ws.map((w) => w.acked.size)
    const recovered = await waitFor(() => ws.every((w, i) => w.acked.size > before[i] + 5), { timeout: 20000, every: 50 })
    const recoveredMs = Date.now() - up
    await sleep(500)
    reads.stopped = true
    await reader
    await Promise.all(ws.map((w) => w.stop()))
    const answers = ws.flatMap((w) => w.answers)
    const statuses = {}
    for (const w of ws) for (const [k, v] of Object.entries(w.statuses)) statuses[k] = (statuses[k] || 0) + v
    t.diagnostic(`writes: ${JSON.stringify(statuses)}, slowest ${Math.max(...ws.map((w) => w.maxMs)).toFixed(0)} ms; reads: ${JSON.stringify(reads.statuses)}, slowest ${reads.maxMs.toFixed(0)} ms; stop took ${down - t0} ms; writes back ${recoveredMs} ms after the start`)
    assert.ok(recovered, `writes succeed again after the start: ${JSON.stringify(statuses)}`)
    assert.ok(during.length > 0 && during.every((a) => a.status === 503), `while it is down every write is a 503: ${JSON.stringify(during.filter((a) => a.status !== 503).slice(0, 3))}`)
    for (const a of answers) {
      assert.equal(a.status, 503, `a write answered ${a.status ?? a.error} after ${a.ms.toFixed(0)} ms: ${a.text}`)
      assert.ok(Number(a.retryAfter) >= 1, `a 503 without Retry-After: ${a.text}`)
      assert.match(a.text, /"code":"unavailable"/)
    }
    assert.deepEqual(reads.bad, [])
    assertWhole(teamId, ackedOf(ws))
  } finally { await stop(api) }
})

// ---- the deployment drill -------------------------------------------------------------------

const WORKER = {
  QUILL_WORKER_LISTEN: '127.0.0.1:0',
  QUILL_WORKER_DEBUG_JOBS: '1',
  QUILL_JOB_POLL_MS: '100',
  QUILL_JOB_HEARTBEAT_MS: '200',
  QUILL_JOB_RESCUE_AFTER_MS: '30000', // nothing crashes here: no job should need rescuing
  QUILL_LOG_LEVEL: 'debug' // each consumer batch is logged: the activity check explains itself
}

// The activity consumer's batches as both workers logged them, in order of position, each with
// the team's entry creations the log holds in its range: when a count is off, this says
// whether batches overlapped (a range read twice) or one range was applied twice.
function activityTrail (workers, teamId) {
  const pos = (p) => { const [t, s] = p.split(':'); return `'${t}'::xid8, ${s}::int8` }
  const batches = workers.flatMap((w, i) => w.lines.filter((l) => l.includes('"msg":"consumer applied a batch"'))
    .map((l) => ({ w: i, ...JSON.parse(l) })).filter((b) => b.consumer === 'activity'))
  if (batches.length === 0) return 'no batch logged'
  const rows = batches.map((b, i) => `(${i}, ${pos(b.after)}, ${pos(b.through)})`).join(', ')
  const counts = sql(`SELECT b.i, (SELECT count(*) FROM changes c WHERE c.team_id = '${teamId}' AND c.kind = 1
      AND c.event = 1 AND (c.txid, c.seq) > (b.at, b.aseq) AND (c.txid, c.seq) <= (b.tt, b.tseq))
    FROM (VALUES ${rows}) AS b (i, at, aseq, tt, tseq) ORDER BY b.i`).split('\n').map((r) => Number(r.split('|')[1]))
  const order = batches.map((b, i) => ({ ...b, n: counts[i] })).sort((x, y) => {
    const [xt, xs] = x.after.split(':').map(BigInt); const [yt, ys] = y.after.split(':').map(BigInt)
    return xt === yt ? (xs < ys ? -1 : xs > ys ? 1 : 0) : (xt < yt ? -1 : 1)
  })
  const odd = order.filter((b, i) => i > 0 && b.after !== order[i - 1].through)
  const total = order.reduce((a, b) => a + b.n, 0)
  return `${order.length} batches counting ${total} of the team's creations; ` +
    `not starting where the one before ended: ${JSON.stringify(odd.slice(0, 5))}; ` +
    `with the team's: ${order.filter((b) => b.n > 0).map((b) => `w${b.w} ${b.after}..${b.through}=${b.n}/${b.changes}`).join(' ').slice(0, 3000)}`
}

async function worker () {
  const w = await start('quill-worker', WORKER, 'quill-worker ready')
  const line = JSON.parse(w.lines.find((l) => l.includes('"msg":"quill-worker starting"')))
  w.id = line.worker
  w.url = `http://${line.metrics}`
  return w
}

const leads = (w) => w.lines.some((l) => l.includes('"msg":"quill-worker is the leader"'))

async function workerMetric (w, pattern) {
  const text = await (await fetch(w.url + '/metrics')).text()
  const m = new RegExp(`^${pattern} (\\d+)`, 'm').exec(text)
  return m ? Number(m[1]) : 0
}

// Insert n noop jobs with SQL and wake the workers; returns their ids.  (A noop touches
// nothing, so only a second claim could run one twice: a slow database cannot time it out.)
function enqueue (n) {
  const ids = sql(`WITH j AS (INSERT INTO jobs (kind, payload, max_attempts)
    SELECT 'noop', '{}'::jsonb, 3 FROM generate_series(1, ${n}) RETURNING job_id)
    SELECT job_id FROM j ORDER BY job_id`)
  sql("SELECT pg_notify('quill_jobs', 'default')")
  return ids.split('\n').map(Number)
}

// A live sync stream of a team that resumes with Last-Event-ID whenever it ends; keeps every
// change it is sent.
function liveStream (h, token, teamId) {
  const s = { changes: [], opened: 0, ends: 0, refused: [], stopped: false, connected: false, lastId: null, req: null }
  const open = () => {
    if (s.stopped) return
    let ended = false
    const end = () => {
      if (ended) return
      ended = true
      s.ends++
      if (!s.stopped) setTimeout(open, 100)
    }
    const headers = { authorization: `Bearer ${token}` }
    if (s.lastId) headers['last-event-id'] = s.lastId
    const req = httpMod.request({ host: '127.0.0.1', port: h.port, path: `/v1/teams/${teamId}/sync/stream`, headers }, (res) => {
      res.on('end', end)
      res.on('close', end)
      res.on('error', end)
      if (res.statusCode !== 200) {
        s.refused.push(res.statusCode)
        res.resume()
        return
      }
      s.opened++
      res.setEncoding('utf8')
      let buf = ''
      res.on('data', (d) => {
        buf += d
        let k
        while ((k = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, k)
          buf = buf.slice(k + 2)
          const f = {}
          for (const line of block.split('\n')) {
            if (line === ': connected') s.connected = true
            const m = /^(\w+): ?(.*)$/.exec(line)
            if (m) f[m[1]] = m[2]
          }
          if (f.event === 'change') {
            s.changes.push(JSON.parse(f.data))
            s.lastId = f.id
          }
        }
      })
    })
    req.on('error', end)
    req.end()
    s.req = req
  }
  open()
  s.stop = () => { s.stopped = true; s.req?.destroy() }
  s.entries = () => s.changes.filter((c) => c.type === 'journalEntry').map((c) => c.id)
  return s
}

// Polls every instance until fn(h) answers `want` on all of them (until then each answers
// 200), for at most ms; returns how long each took (null: never).  Afterwards it stays so.
async function revokedOnAll (hs, fn, want, ms = 5000) {
  const t0 = Date.now()
  const took = hs.map(() => null)
  while (Date.now() - t0 < ms && took.includes(null)) {
    await Promise.all(hs.map(async (h, i) => {
      if (took[i] !== null) return
      const r = await fn(h)
      if (r.status === want) took[i] = Date.now() - t0
      else assert.equal(r.status, 200, `before the revocation arrives: ${r.text}`)
    }))
    await sleep(10)
  }
  for (const h of hs) assert.equal((await fn(h)).status, want, 'the revocation holds')
  return took
}

test('two quill-api and two quill-worker on one database doing everything at once: nothing lost, nothing done twice', async (t) => {
  clearJobs()
  const a = await start('quill-api', LIMITS)
  const b = await start('quill-api', LIMITS)
  const hs = [a, b]
  const w1 = await worker()
  assert.ok(await waitFor(() => leads(w1)), 'the first worker leads')
  const w2 = await worker()
  const streams = []
  let ws = []
  try {
    const owner = await signup(a)
    const { teamId } = await makeTeam(a, owner.token)
    const member = await signup(b)
    await addMember(a, owner.token, teamId, member.email, 'member')
    const key = await makeKey(b, owner.token, teamId, 'member')
    const leaver = await signup(b)
    for (const h of hs) { // every credential is in both caches
      assert.equal((await http(h, 'GET', '/v1/me', { token: leaver.token })).status, 200)
      assert.equal((await http(h, 'GET', `/v1/teams/${teamId}`, { token: key.key })).status, 200)
      assert.equal((await http(h, 'GET', `/v1/teams/${teamId}`, { token: member.token })).status, 200)
    }
    streams.push(liveStream(a, owner.token, teamId), liveStream(b, owner.token, teamId))
    assert.ok(await waitFor(() => streams.every((s) => s.connected)), 'both streams are open')
    const t0 = Date.now()
    ws = [
      writer(() => a, owner.token, teamId, 'owner@a'),
      writer(() => b, owner.token, teamId, 'owner@b'),
      writer(() => a, key.key, teamId, 'key@a', (x) => x.status === 401),
      writer(() => b, member.token, teamId, 'member@b', (x) => x.status === 404)
    ]
    const jobs = enqueue(100)
    await sleep(1500)
    // A logout on a; a key deleted on b; a member removed on a: each holds on both at once.
    assert.equal((await http(a, 'POST', '/v1/auth/logout', { token: leaver.token })).status, 204)
    const logoutMs = await revokedOnAll(hs, (h) => http(h, 'GET', '/v1/me', { token: leaver.token }), 401)
    jobs.push(...enqueue(100))
    await sleep(1500)
    assert.equal((await http(b, 'DELETE', `/v1/teams/${teamId}/api-keys/${key.apiKeyId}`, { token: owner.token })).status, 204)
    const keyMs = await revokedOnAll(hs, (h) => http(h, 'GET', `/v1/teams/${teamId}`, { token: key.key }), 401)
    jobs.push(...enqueue(100))
    await sleep(1500)
    assert.equal((await http(a, 'DELETE', `/v1/teams/${teamId}/members/${member.user.userId}`, { token: owner.token })).status, 204)
    const memberMs = await revokedOnAll(hs, (h) => http(h, 'GET', `/v1/teams/${teamId}`, { token: member.token }), 404)
    jobs.push(...enqueue(100))
    await sleep(Math.max(0, 10000 - (Date.now() - t0)))
    // The key's and the member's writers end by themselves on their 401 and 404.
    const ended = await waitFor(() => ws[2].finished && ws[3].finished, { timeout: 2 * BOUND_MS })
    await Promise.all(ws.map((w) => w.stop()))
    const acked = ackedOf(ws)
    t.diagnostic(`revoked on a, b after: logout ${logoutMs} ms, key ${keyMs} ms, member ${memberMs} ms`)
    t.diagnostic(`writes: ${ws.map((w) => `${w.tag} ${w.acked.size} (slowest ${w.maxMs.toFixed(0)} ms)`).join(', ')}`)
    for (const x of [logoutMs, keyMs, memberMs]) assert.ok(!x.includes(null), 'revoked on both instances within 5 s')
    assert.ok(ended, 'the revoked writers were refused')

    // Writes: the owner's all succeeded; the key's and the member's until their revocation.
    assert.deepEqual(ws[0].answers, [])
    assert.deepEqual(ws[1].answers, [])
    assert.deepEqual(ws[2].answers.map((x) => x.status), [401])
    assert.deepEqual(ws[3].answers.map((x) => x.status), [404])
    assert.ok(ws.every((w) => w.acked.size > 0), 'every writer wrote')
    // Every acknowledged entry exists once, whole; nothing else was written (no crash here).
    const inDb = assertWhole(teamId, acked)
    assert.equal(inDb.size, acked.size)

    // Both live streams delivered every entry exactly once.
    const delivered = await waitFor(() => streams.every((s) => [...acked.keys()].every((id) => s.entries().includes(id))), { timeout: 10000 })
    for (const s of streams) s.stop()
    t.diagnostic(`streams: ${streams.map((s) => `${s.entries().length} entries, ${s.changes.length} changes, opened ${s.opened} times, refused ${JSON.stringify(s.refused)}`).join('; ')}`)
    assert.ok(delivered, `the streams delivered every entry: ${streams.map((s) => s.entries().length)} of ${acked.size}`)
    for (const s of streams) {
      const ids = s.entries()
      assert.equal(new Set(ids).size, ids.length, 'no entry twice on a stream')
      assert.equal(ids.length, acked.size)
    }

    // The activity counts, kept by the workers' consumer, count each change once.
    const want = { entriesCreated: acked.size, entriesUpdated: 0, entriesDeleted: 0, membersAdded: 2, membersRemoved: 1 }
    const counts = async (h) => {
      const r = await http(h, 'GET', `/v1/teams/${teamId}/activity`, { token: owner.token })
      const { teamId: _, lastActivityAt, ...c } = r.body
      return c
    }
    const caught = await waitFor(async () => JSON.stringify(await counts(a)) === JSON.stringify(want), { timeout: 15000, every: 100 })
    // The consumers' row lock keeps a second run out; should it ever fail, the position's
    // compare-and-set refuses the second application, and the worker says so.  What the
    // workers said about consumers and the database goes with a failure.
    const said = [w1, w2].flatMap((w) => w.lines.filter((l) => /consumer|database|warn|error/i.test(l)))
    t.diagnostic(`activity batches: ${activityTrail([w1, w2], teamId).slice(0, 300)}`)
    t.diagnostic(`consumer batches refused because another run had moved the position: ${said.filter((l) => l.includes('was moved by another run')).length}`)
    if (!caught) { // every line of the four processes, for a look afterwards
      const dir = `${process.env.QUILL_ROOT}/build/test-results`
      fs.mkdirSync(dir, { recursive: true })
      for (const [name, h] of Object.entries({ a, b, w1, w2 })) fs.writeFileSync(`${dir}/drill-${name}.log`, h.lines.join('\n') + '\n' + h.stderr)
      fs.writeFileSync(`${dir}/drill-team.txt`, teamId)
    }
    assert.ok(caught, `activity ${JSON.stringify(await counts(a))}, want ${JSON.stringify(want)}; ` +
      `the workers said: ${said.filter((l) => !l.includes('consumer applied a batch')).slice(0, 8).join(' | ')}; ` +
      `the batches: ${activityTrail([w1, w2], teamId)}`)
    await sleep(500)
    for (const h of hs) assert.deepEqual(await counts(h), want, 'nothing counted twice')

    // Every job ran exactly once: succeeded at its first attempt, by one worker.
    const count = (where) => Number(sql(`SELECT count(*) FROM jobs WHERE ${where}`))
    const mine = `job_id = ANY ('{${jobs}}')`
    assert.ok(await waitFor(() => count(`${mine} AND state = 'succeeded'`) === jobs.length, { timeout: 15000 }),
      sql(`SELECT state, attempts, count(*) FROM jobs WHERE ${mine} GROUP BY 1, 2`))
    assert.equal(count(`${mine} AND attempts <> 1`), 0,
      `jobs that ran more than once: ${sql(`SELECT job_id, attempts, errors FROM jobs WHERE ${mine} AND attempts <> 1 LIMIT 5`)}`)
    // The workers' own counts of the attempts they ran agree (the per-minute ticks are noops too).
    let ran, noops
    for (let i = 0; i < 3; i++) { // a tick may land between the two reads: read again
      noops = count("kind = 'noop' AND state = 'succeeded'")
      ran = await Promise.all([w1, w2].map((w) => workerMetric(w, 'quill_job_attempts_total\\{kind="noop",outcome="succeeded"\\}')))
      if (ran[0] + ran[1] === noops) break
      await sleep(500)
    }
    assert.equal(ran[0] + ran[1], noops, `attempts by worker: ${ran}`)
    for (const w of [w1, w2]) assert.equal(await workerMetric(w, 'quill_job_attempts_total\\{kind="noop",outcome="failed"\\}'), 0)
    // Cron: the leader enqueued every tick since its lookback once, and each ran once.
    assert.ok(await waitFor(() => count("queue = 'cron' AND state <> 'succeeded'") === 0, { timeout: 15000 }),
      sql("SELECT unique_key, state, attempts FROM jobs WHERE queue = 'cron' AND state <> 'succeeded'"))
    const ticks = sql("SELECT unique_key, attempts FROM jobs WHERE unique_key LIKE 'cron:debug-tick:%' ORDER BY unique_key").split('\n').map((r) => r.split('|'))
    const minutes = ticks.map(([k]) => Number(k.split(':')[2])).sort((x, y) => x - y)
    assert.ok(minutes.length >= 5, `ticks: ${ticks}`)
    for (let i = 1; i < minutes.length; i++) assert.equal(minutes[i] - minutes[i - 1], 60000, 'one tick a minute, none missing')
    assert.equal(count("queue = 'cron' AND attempts <> 1"), 0,
      `cron jobs that ran more than once: ${sql("SELECT unique_key, attempts, errors FROM jobs WHERE queue = 'cron' AND attempts <> 1")}`)
    const leaders = await Promise.all([w1, w2].map((w) => workerMetric(w, 'quill_worker_leader')))
    assert.equal(leaders[0] + leaders[1], 1, `one leader: ${leaders}`)
    t.diagnostic(`jobs: ${jobs.length} enqueued, ${noops} noops with the ticks run by the workers ${ran.join(' + ')}; ${count("queue = 'cron'")} cron jobs (${minutes.length} per-minute ticks)`)
    await auditVerifies()
  } finally {
    for (const s of streams) s.stop()
    await Promise.all(ws.map((w) => w.stop()))
    assert.equal((await stop(w1)).code, 0)
    assert.equal((await stop(w2)).code, 0)
    await stop(a)
    await stop(b)
  }
})
