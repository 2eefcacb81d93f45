// Harness for the end-to-end tests: starts the real binaries against the e2e database,
// talks to them over real sockets, and controls the local PostgreSQL.
import assert from 'node:assert/strict'
import { spawn, execFile, execFileSync } from 'node:child_process'
import net from 'node:net'
import { once } from 'node:events'
import { before, after } from 'node:test'

export const ROOT = process.env.QUILL_ROOT
export const BIN = process.env.QUILL_BIN
export const DB = process.env.QUILL_E2E_DATABASE_URL
if (!ROOT || !BIN || !DB) throw new Error('run the e2e tests through tools/quill test (QUILL_ROOT, QUILL_BIN, QUILL_E2E_DATABASE_URL)')

// The sanitizers' settings, passed on to every binary when set: with QUILL_BIN naming a build
// with -Db_sanitize=address,undefined, ASAN_OPTIONS=log_path=... keeps their reports.
const SANITIZERS = Object.fromEntries(['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS']
  .filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]))

// QUILL_E2E_SANITIZED=1: the binaries are a sanitizer build, whose shadow memory and
// quarantine of freed blocks make an RSS bound meaningless; memory-bound tests check
// everything else and leave that bound out (memoryBound).
export const SANITIZED = process.env.QUILL_E2E_SANITIZED === '1'
export function memoryBound (t, ok, msg) {
  if (SANITIZED) t.diagnostic(`not checked under the sanitizers: ${msg}`)
  else assert.ok(ok, msg)
}

export const SECRET = Buffer.alloc(32, 7).toString('base64')
export const ADMIN_TOKEN = 'e2e-admin-token-0123456789'

// Start a binary and wait until it logs `ready` (a msg value); returns a handle.
export async function start (name, env = {}, ready = 'quill-api listening') {
  const proc = spawn(`${BIN}/${name}`, [], {
    env: {
      PATH: process.env.PATH,
      ...SANITIZERS,
      DATABASE_URL: DB,
      QUILL_SECRET: SECRET,
      QUILL_LISTEN: '127.0.0.1:0',
      QUILL_THREADS: '2',
      QUILL_DB_POOL: '4',
      QUILL_ADMIN_TOKEN: ADMIN_TOKEN,
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const h = { proc, lines: [], stderr: '', exited: null, url: null, port: null }
  let buf = ''
  proc.stdout.on('data', (d) => {
    buf += d
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      h.lines.push(line)
    }
  })
  proc.stderr.on('data', (d) => { h.stderr += d })
  h.exit = new Promise((resolve) => proc.on('exit', (code, signal) => { h.exited = { code, signal }; resolve(h.exited) }))
  const deadline = Date.now() + 15000
  while (Date.now() < deadline) {
    const line = h.lines.find((l) => l.includes(`"msg":"${ready}"`))
    if (line) {
      const j = JSON.parse(line)
      if (j.addr) {
        h.port = Number(j.addr.split(':').pop())
        h.url = `http://127.0.0.1:${h.port}`
      }
      return h
    }
    if (h.exited) throw new Error(`${name} exited early (${JSON.stringify(h.exited)}): ${h.stderr}`)
    await sleep(20)
  }
  proc.kill('SIGKILL')
  throw new Error(`${name} did not become ready: ${h.lines.join('\n')} ${h.stderr}`)
}

export async function stop (h, signal = 'SIGTERM') {
  if (h.exited) return h.exited
  h.proc.kill(signal)
  const t = setTimeout(() => h.proc.kill('SIGKILL'), 15000)
  const r = await h.exit
  clearTimeout(t)
  return r
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// fetch with JSON conveniences; returns {status, headers, body (parsed when JSON), text}.
// redirect: 'manual' answers a redirect itself instead of following it.
export async function http (h, method, path, { headers = {}, body, token, raw, redirect = 'follow' } = {}) {
  const hdrs = { ...headers }
  // A server started with a short idle timeout closes fetch's pooled connection while it
  // sits idle, and a request sent on it at that moment fails ("fetch failed"): such a
  // server's handle sets closeEach, and every request takes a connection of its own.
  if (h.closeEach && !Object.keys(hdrs).some((k) => k.toLowerCase() === 'connection')) hdrs.connection = 'close'
  if (token) hdrs.authorization = `Bearer ${token}`
  let payload = raw
  if (body !== undefined) {
    payload = JSON.stringify(body)
    hdrs['content-type'] = hdrs['content-type'] || 'application/json'
  }
  const res = await fetch(h.url + path, { method, headers: hdrs, body: payload, redirect })
  const text = await res.text()
  let parsed = null
  try { parsed = text ? JSON.parse(text) : null } catch {}
  return { status: res.status, headers: res.headers, body: parsed, text }
}

// Send raw bytes on a fresh connection and collect everything until the server closes it
// or `timeout` ms pass.  Returns {data, closed, ms}.
export function raw (port, chunks, { timeout = 3000, gapMs = 0 } = {}) {
  return new Promise((resolve) => {
    const started = Date.now()
    const s = net.connect(port, '127.0.0.1')
    let data = ''
    let done = false
    const finish = (closed) => {
      if (done) return
      done = true
      s.destroy()
      resolve({ data, closed, ms: Date.now() - started })
    }
    s.on('data', (d) => { data += d.toString('latin1') })
    s.on('close', () => finish(true))
    s.on('error', () => finish(true))
    s.on('connect', async () => {
      for (const c of [].concat(chunks)) {
        if (done) break
        s.write(c)
        if (gapMs) await sleep(gapMs)
      }
    })
    setTimeout(() => finish(false), timeout)
  })
}

export function responses (data) {
  return data.split(/(?=HTTP\/1\.1 \d{3})/).filter((s) => s.startsWith('HTTP/1.1'))
}

// Two quill-api on the test database for a file's tests, started before them and stopped
// after: one answering on its event loops (the default), one with QUILL_LOOP_READS=0,
// which answers everything on its pool, to compare the two.  set(loop, pool) once started.
export function loopAndPool (env, set) {
  let loop, pool
  before(async () => {
    loop = await start('quill-api', env)
    pool = await start('quill-api', { ...env, QUILL_LOOP_READS: '0' })
    set(loop, pool)
  })
  after(async () => { await stop(loop); await stop(pool) })
}

// A counter or gauge of /metrics without labels; null when the server does not have it.
export async function metric (h, name) {
  const r = await http(h, 'GET', '/metrics')
  const line = r.text.split('\n').find((l) => l.startsWith(name + ' '))
  return line === undefined ? null : Number(line.split(' ')[1])
}

export function sql (query, url = DB) {
  return execFileSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', url, '-c', query], { encoding: 'utf8' }).trim()
}

// A quill-worker's settings for tests: quick polls, heartbeats, rescues and retries, and
// the debug job kinds.
export const FAST_WORKER = {
  QUILL_WORKER_LISTEN: '127.0.0.1:0',
  QUILL_WORKER_DEBUG_JOBS: '1',
  QUILL_JOB_POLL_MS: '100',
  QUILL_JOB_HEARTBEAT_MS: '200',
  QUILL_JOB_RESCUE_AFTER_MS: '1000',
  QUILL_JOB_BACKOFF_BASE_MS: '100'
}

// Empty the job queue, and end failed the pending webhook deliveries whose jobs that
// removes: no job will attempt them any more, and the leader's hourly purge.webhooks would
// otherwise end them with a warning in whichever later test's worker runs at minute 37.
export function clearJobs () {
  sql(`DELETE FROM jobs;
    UPDATE webhook_deliveries SET state = 'failed' WHERE state = 'pending'`)
}

// Long-running psql session (for holding locks): returns {write(sql), close()}.
export function psqlSession (url = DB) {
  const p = spawn('psql', ['-X', '-q', '-At', url], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  p.stdout.on('data', (d) => { out += d })
  return {
    write: (q) => p.stdin.write(q + '\n'),
    output: () => out,
    close: async () => { p.stdin.end(); await once(p, 'exit') }
  }
}

// Requests queued behind a lock, counted by PostgreSQL (no timing): hold(query) takes the
// query's row locks in a session of its own until release(); queued(n) waits until n
// backends of the e2e database wait for a lock, and throws if they never do.
export const lockWaits = () => Number(sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))
export async function hold (query) {
  const s = psqlSession()
  s.write(`BEGIN; ${query}; SELECT 'held';`)
  if (!await waitFor(() => s.output().includes('held'))) throw new Error(`not held: ${query}`)
  return { release: async () => { s.write('COMMIT;'); await s.close() } }
}
export async function queued (n) {
  if (await waitFor(() => lockWaits() === n) !== true) throw new Error(`never ${n} waiting for a lock (${lockWaits()})`)
}

// Send requests (each a function that sends one) while query holds a row, each queued for a
// lock before the next goes, then let go: PostgreSQL serves them in the order sent. Their
// answers, in that order.
export async function inTurn (query, ...sends) {
  const lock = await hold(query)
  const answers = []
  for (const send of sends) {
    answers.push(send())
    await queued(answers.length)
  }
  await lock.release()
  return Promise.all(answers)
}
// What a team's writes queue for: its row, and its audit chain's head.
export const teamRow = (teamId) => `SELECT 1 FROM teams WHERE team_id = '${teamId}' FOR UPDATE`
export const teamChain = (teamId) => `SELECT 1 FROM audit_heads WHERE chain = 'team:${teamId}' FOR UPDATE`

export function pg (cmd) {
  return new Promise((resolve, reject) => {
    execFile(`${ROOT}/tools/quill`, ['pg', cmd], { env: process.env }, (err, stdout, stderr) => {
      if (err) reject(new Error(`tools/quill pg ${cmd}: ${stderr}`))
      else resolve(stdout)
    })
  })
}

export function run (cmd, args, env = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { PATH: process.env.PATH, ...SANITIZERS, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr })
    })
  })
}

export async function waitFor (fn, { timeout = 10000, every = 100 } = {}) {
  const deadline = Date.now() + timeout
  let last
  while (Date.now() < deadline) {
    last = await fn()
    if (last) return last
    await sleep(every)
  }
  return last
}

export function uniq (prefix = 'u') {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
}

// ---- identity helpers ----------------------------------------------------------------------

export const PASSWORD = 'correct horse battery staple'

export async function signup (h, email = `${uniq('user')}@example.com`, extra = {}) {
  const r = await http(h, 'POST', '/v1/auth/signup', { body: { email, password: PASSWORD, displayName: 'Test User', ...extra } })
  if (r.status !== 201) throw new Error(`signup ${email}: ${r.status} ${r.text}`)
  return { email, token: r.body.session.token, csrf: r.body.session.csrfToken, user: r.body.user, cookie: r.headers.get('set-cookie') }
}

export async function makeTeam (h, token, name = 'Team ' + uniq('t')) {
  const r = await http(h, 'POST', '/v1/teams', { token, body: { name } })
  if (r.status !== 201) throw new Error(`team: ${r.status} ${r.text}`)
  return r.body
}

export async function addMember (h, token, teamId, email, role) {
  const r = await http(h, 'POST', `/v1/teams/${teamId}/members`, { token, body: { email, role } })
  if (r.status !== 201) throw new Error(`add member: ${r.status} ${r.text}`)
  return r.body
}

export async function makeKey (h, token, teamId, role = 'member') {
  const r = await http(h, 'POST', `/v1/teams/${teamId}/api-keys`, { token, body: { name: 'key ' + role, role } })
  if (r.status !== 201) throw new Error(`key: ${r.status} ${r.text}`)
  return r.body
}
