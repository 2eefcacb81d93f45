// quill-api and quill-worker with their pools behind PgBouncer 1.18 in transaction mode
// (tools/quill pgbouncer, extra port 4 of cluster.mjs, two server connections for the e2e
// database: fewer than the API's sessions, so consecutive transactions of one session run
// on different server connections).  QUILL_DB_POOLER=pgbouncer sends unnamed statements and
// no session settings; LISTEN and the worker's engine use DATABASE_DIRECT_URL.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { start, stop, http, sleep, signup, makeTeam, waitFor, uniq, sql, DB } from './lib.mjs'
import { dataDir, destroy, exec, extraPort, psql } from './cluster.mjs'

const PORT = extraPort(4)
const dbName = new URL(DB).pathname.slice(1)
const viaBouncer = `postgresql://postgres@127.0.0.1:${PORT}/${dbName}`
let dir, env

async function tools (...args) {
  const r = await exec(`${process.env.QUILL_ROOT}/tools/quill`, args, env)
  if (r.code !== 0) throw new Error(`tools/quill ${args.join(' ')}: ${r.stderr}`)
}

before(async () => {
  dir = dataDir('pgbouncer')
  env = { QUILL_DATA_DIR: dir, QUILL_PGBOUNCER_PORT: String(PORT), QUILL_PGBOUNCER_POOL: '2' }
  await tools('pgbouncer', 'start')
})

after(async () => {
  if (env) await tools('pgbouncer', 'stop')
  await destroy(dir)
})

const POOLED = {
  DATABASE_URL: viaBouncer,
  DATABASE_DIRECT_URL: DB,
  QUILL_DB_POOLER: 'pgbouncer',
  QUILL_DB_POOL: '6',
  QUILL_RATE_LIMIT: '100000',
  QUILL_AUTH_IP_LIMIT: '100000'
}

// Transactions PgBouncer passed to the e2e database so far (no row before the first).
const xacts = async () => Number((await psql(`postgresql://postgres@127.0.0.1:${PORT}/pgbouncer`, 'SHOW STATS'))
  .split('\n').find((l) => l.startsWith(`${dbName}|`))?.split('|')[1] ?? 0)

test('configuration: QUILL_DB_POOLER=pgbouncer needs DATABASE_DIRECT_URL', async () => {
  const r = await exec(`${process.env.QUILL_BIN}/quill-api`, [], {
    DATABASE_URL: viaBouncer, QUILL_DB_POOLER: 'pgbouncer', QUILL_SECRET: Buffer.alloc(32, 7).toString('base64')
  })
  assert.equal(r.code, 2)
  assert.match(r.stderr, /DATABASE_DIRECT_URL: required with QUILL_DB_POOLER=pgbouncer/)
  const bad = await exec(`${process.env.QUILL_BIN}/quill-api`, [], { ...POOLED, QUILL_DB_POOLER: 'odyssey', QUILL_SECRET: 'x' })
  assert.match(bad.stderr, /QUILL_DB_POOLER: expected none or pgbouncer, got 'odyssey'/)
})

test('through PgBouncer: concurrent writes, reads, idempotent replays, revocations and the worker all work', async (t) => {
  const before = await xacts()
  const api = await start('quill-api', POOLED)
  const worker = await start('quill-worker', { ...POOLED, QUILL_WORKER_LISTEN: '127.0.0.1:0', QUILL_JOB_POLL_MS: '100' }, 'quill-worker ready')
  try {
    const u = await signup(api)
    const { teamId } = await makeTeam(api, u.token)
    const acked = new Map()
    const bad = []
    // Eight clients, each writing (half of the writes with an Idempotency-Key, sent twice),
    // reading back, updating with If-Match, and listing.
    await Promise.all(Array.from({ length: 8 }, async (_, c) => {
      for (let i = 0; i < 12; i++) {
        const content = `c${c} ${i} ${uniq('x')}`
        const key = i % 2 ? `k-${c}-${i}` : null
        const headers = key ? { 'idempotency-key': key } : {}
        const w = await http(api, 'POST', `/v1/teams/${teamId}/journal-entries`, { token: u.token, body: { content }, headers })
        if (w.status !== 201) { bad.push(`write ${w.status} ${w.text}`); continue }
        const id = w.body.journalEntryId
        acked.set(id, content)
        if (key) {
          const again = await http(api, 'POST', `/v1/teams/${teamId}/journal-entries`, { token: u.token, body: { content }, headers })
          if (again.status !== 201 || again.body.journalEntryId !== id || again.headers.get('idempotent-replayed') !== 'true') bad.push(`replay ${again.status} ${again.text}`)
        }
        const r = await http(api, 'GET', `/v1/teams/${teamId}/journal-entries/${id}`, { token: u.token })
        if (r.status !== 200 || r.body.content !== content) bad.push(`read ${r.status} ${r.text}`)
        if (i % 3 === 0) {
          const up = await http(api, 'PATCH', `/v1/teams/${teamId}/journal-entries/${id}`, { token: u.token, body: { content: content + ' (edited)' }, headers: { 'if-match': r.headers.get('etag') } })
          if (up.status !== 200) bad.push(`update ${up.status} ${up.text}`)
          else acked.set(id, content + ' (edited)')
        }
        const l = await http(api, 'GET', `/v1/teams/${teamId}/journal-entries?limit=5`, { token: u.token })
        if (l.status !== 200) bad.push(`list ${l.status} ${l.text}`)
      }
    }))
    assert.deepEqual(bad, [])
    assert.equal(acked.size, 96)
    const rows = sql(`SELECT journal_entry_id, content FROM journal_entries WHERE team_id = '${teamId}'`).split('\n')
    assert.equal(rows.length, acked.size, 'one entry per acknowledged write: replays wrote nothing')
    for (const row of rows) {
      const [id, ...content] = row.split('|')
      assert.equal(content.join('|'), acked.get(id))
    }
    // The single-entry reads above were answered by the event loops' own sessions, which
    // connect directly (their pipelines span transactions, which PgBouncer 1.18 refuses).
    const m = await http(api, 'GET', '/metrics')
    const loopReads = Number(m.text.split('\n').find((l) => l.startsWith('quill_loop_reads_total '))?.split(' ')[1])
    assert.ok(loopReads > 0, `reads answered on the event loops: ${loopReads}`)
    const sync = await http(api, 'GET', `/v1/teams/${teamId}/sync?limit=200`, { token: u.token })
    assert.equal(sync.status, 200)
    // The worker's consumer (on its direct connection) counted every entry.
    const counted = await waitFor(async () => (await http(api, 'GET', `/v1/teams/${teamId}/activity`, { token: u.token })).body.entriesCreated === acked.size, { timeout: 15000 })
    assert.ok(counted, 'the activity consumer counted every entry')
    // A logout revokes the cached session: the NOTIFY is sent in the pooled transaction,
    // and heard on the direct LISTEN connection.
    for (let i = 0; i < 3; i++) assert.equal((await http(api, 'GET', '/v1/me', { token: u.token })).status, 200)
    const other = await signup(api)
    assert.equal((await http(api, 'GET', '/v1/me', { token: other.token })).status, 200)
    assert.equal((await http(api, 'POST', '/v1/auth/logout', { token: other.token })).status, 204)
    assert.equal((await http(api, 'GET', '/v1/me', { token: other.token })).status, 401)
    const through = (await xacts()) - before
    t.diagnostic(`${through} transactions went through PgBouncer's two server connections`)
    assert.ok(through > 2 * acked.size, `the API's transactions went through PgBouncer (${through})`)
    const warnings = [...api.lines, ...worker.lines].filter((l) => /"level":"(warn|error)"/.test(l))
    assert.deepEqual(warnings, [])
    const log = readFileSync(`${dir}/pgbouncer/pgbouncer.log`, 'utf8')
    assert.doesNotMatch(log, /when not linked|prepared statement/, 'no LISTEN and no named statement went through PgBouncer')
  } finally {
    assert.equal((await stop(worker)).code, 0)
    assert.equal((await stop(api)).code, 0)
  }
  await sleep(0)
})
