// The foundation over real sockets: service endpoints, HTTP limits and timeouts,
// pipelining, problem details, metrics, configuration errors, shutdown and readiness.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { start, stop, http, raw, responses, sleep, pg, psqlSession, run, sql, waitFor, BIN, ROOT, DB, SECRET } from './lib.mjs'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

let api
before(async () => {
  api = await start('quill-api', {
    QUILL_HEADER_TIMEOUT_MS: '600',
    QUILL_BODY_TIMEOUT_MS: '600',
    QUILL_IDLE_TIMEOUT_MS: '800'
  })
  api.closeEach = true // its 800 ms idle timeout races fetch's reuse of a pooled connection
})
after(async () => { await stop(api) })

function isProblem (r, status, code) {
  assert.equal(r.status, status)
  assert.match(r.headers.get('content-type'), /^application\/problem\+json/)
  assert.equal(r.body.status, status)
  assert.equal(r.body.code, code)
  assert.equal(typeof r.body.title, 'string')
  assert.equal(typeof r.body.detail, 'string')
  assert.match(r.body.traceId, /^[0-9a-f]{32}$/)
}

test('GET /livez answers ok with the security headers and a request id', async () => {
  const r = await http(api, 'GET', '/livez')
  assert.equal(r.status, 200)
  assert.deepEqual(r.body, { status: 'ok' })
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff')
  assert.equal(r.headers.get('referrer-policy'), 'no-referrer')
  assert.equal(r.headers.get('x-frame-options'), 'DENY')
  assert.match(r.headers.get('x-request-id'), /^[0-9a-f]{32}$/)
})

test('GET /readyz checks the database and the migrations', async () => {
  const r = await http(api, 'GET', '/readyz')
  assert.equal(r.status, 200)
  assert.deepEqual(r.body, { status: 'ok', checks: { database: 'ok', migrations: 'ok' } })
})

test('GET /readyz on a database never migrated names the migrations, not the database', async () => {
  const name = `${new URL(DB).pathname.slice(1)}_fresh`
  sql(`DROP DATABASE IF EXISTS ${name}`)
  sql(`CREATE DATABASE ${name}`)
  const url = new URL(DB)
  url.pathname = `/${name}`
  const h = await start('quill-api', { DATABASE_URL: url.toString() })
  try {
    const r = await http(h, 'GET', '/readyz')
    assert.equal(r.status, 503, r.text)
    assert.equal(r.body.code, 'unavailable')
    assert.deepEqual(r.body.checks, { database: 'ok', migrations: 'pending' })
    assert.match(r.body.detail, /quill-migrate up/)
  } finally {
    await stop(h)
    sql(`DROP DATABASE IF EXISTS ${name}`)
  }
})

test('GET /readyz when the schema version cannot be read says so, not to migrate', async () => {
  // a role that may connect but not read schema_migrations (permission denied, 42501)
  const role = `${new URL(DB).pathname.slice(1)}_noread`
  sql(`DROP ROLE IF EXISTS ${role}`)
  sql(`CREATE ROLE ${role} LOGIN`)
  const url = new URL(DB)
  url.username = role
  const h = await start('quill-api', { DATABASE_URL: url.toString() })
  try {
    const r = await http(h, 'GET', '/readyz')
    assert.equal(r.status, 503, r.text)
    assert.equal(r.body.code, 'unavailable')
    assert.deepEqual(r.body.checks, { database: 'ok', migrations: 'unknown' })
    assert.doesNotMatch(r.body.detail, /quill-migrate up/)
    assert.match(r.body.detail, /cannot be read/)
  } finally {
    await stop(h)
    sql(`DROP ROLE IF EXISTS ${role}`)
  }
})

test('GET /v1/version serves the bill of materials', async () => {
  const r = await http(api, 'GET', '/v1/version')
  assert.equal(r.status, 200)
  assert.match(r.body.version, /^\d+\.\d+\.\d+/)
  assert.match(r.body.gitSha, /^([0-9a-f]{40}|unknown)$/)
  assert.ok(!Number.isNaN(Date.parse(r.body.builtAt)))
  for (const dep of ['libuv', 'llhttp', 'libpq', 'cjson', 'libsodium', 'libcurl']) {
    assert.match(r.body.dependencies[dep], /^\d+\.\d+/, dep)
  }
})

test('unknown routes get a 404 problem and wrong methods a 405 with Allow', async () => {
  isProblem(await http(api, 'GET', '/nope'), 404, 'not_found')
  const r = await http(api, 'DELETE', '/livez')
  isProblem(r, 405, 'method_not_allowed')
  assert.equal(r.headers.get('allow'), 'GET, HEAD')
  const head = await http(api, 'HEAD', '/livez')
  assert.equal(head.status, 200)
  assert.equal(head.text, '')
})

test('a valid traceparent is continued into the problem traceId; X-Request-Id is echoed', async () => {
  const trace = '4bf92f3577b34da6a3ce929d0e0e4736'
  const r = await http(api, 'GET', '/nope', {
    headers: { traceparent: `00-${trace}-00f067aa0ba902b7-01`, 'x-request-id': 'req-abc.123' }
  })
  assert.equal(r.body.traceId, trace)
  assert.equal(r.headers.get('x-request-id'), 'req-abc.123')
  const bad = await http(api, 'GET', '/nope', { headers: { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' } })
  assert.notEqual(bad.body.traceId, '00000000000000000000000000000000')
})

test('a body over 1 MiB gets 413 and the connection closes', async () => {
  const r = await raw(api.port, 'POST /livez HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n')
  assert.match(r.data, /^HTTP\/1\.1 413 /)
  assert.match(r.data, /"code":"payload_too_large"/)
  assert.equal(r.closed, true)
  // a chunked body that grows past the limit is cut off the same way
  const chunk = 'x'.repeat(600000)
  const c = await raw(api.port, [
    'POST /livez HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
    `${chunk.length.toString(16)}\r\n${chunk}\r\n`, `${chunk.length.toString(16)}\r\n${chunk}\r\n`
  ])
  assert.match(c.data, /^HTTP\/1\.1 413 /)
})

test('a client still sending an oversize body reads the 413 (lingering close)', async () => {
  // Node's HTTP client writes the whole body before it reads; a server that closes at once
  // makes it fail with EPIPE or ECONNRESET instead of showing the 413.
  const { request } = await import('node:http')
  const body = Buffer.alloc(4 << 20, 'x')
  for (let i = 0; i < 5; i++) {
    const got = await new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port: api.port, method: 'POST', path: '/v1/auth/login',
        headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
        let text = ''
        res.on('data', (d) => { text += d })
        res.on('end', () => resolve({ status: res.statusCode, text }))
      })
      req.on('error', (e) => resolve({ error: e.code }))
      req.end(body)
    })
    assert.equal(got.status, 413, `attempt ${i}: ${JSON.stringify(got)}`)
    assert.match(got.text, /"code":"payload_too_large"/)
  }
})

test('a header block over 16 KiB gets 431', async () => {
  const r = await raw(api.port, `GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17000)}\r\n\r\n`)
  assert.match(r.data, /^HTTP\/1\.1 431 /)
  assert.equal(r.closed, true)
  const many = Array.from({ length: 100 }, (_, i) => `X-H${i}: v`).join('\r\n')
  const m = await raw(api.port, `GET /livez HTTP/1.1\r\nHost: x\r\n${many}\r\n\r\n`)
  assert.match(m.data, /^HTTP\/1\.1 431 /)
})

test('a malformed request line gets 400 and the connection closes', async () => {
  for (const bad of ['GARBAGE\r\n\r\n', 'GET /livez HTTP/9.9\r\n\r\n', 'GET  HTTP/1.1\r\n\r\n', '\x00\x01\x02\r\n\r\n']) {
    const r = await raw(api.port, bad)
    assert.match(r.data, /^HTTP\/1\.1 400 /, JSON.stringify(bad))
    assert.equal(r.closed, true)
  }
  // the server is still fine afterwards
  assert.equal((await http(api, 'GET', '/livez')).status, 200)
})

test('a slow client is cut off by the header timeout', async () => {
  const r = await raw(api.port, ['GET /livez HTTP/1.1\r\n', 'Host: x\r\n'], { timeout: 4000, gapMs: 100 })
  assert.equal(r.closed, true)
  assert.equal(r.data, '')
  assert.ok(r.ms >= 500, `closed after ${r.ms} ms, before the timeout`)
})

test('a client that stalls mid-body is cut off by the body timeout', async () => {
  const r = await raw(api.port, 'POST /livez HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":', { timeout: 4000 })
  assert.equal(r.closed, true)
})

test('an idle keep-alive connection is closed after the idle timeout', async () => {
  const r = await raw(api.port, 'GET /livez HTTP/1.1\r\nHost: x\r\n\r\n', { timeout: 4000 })
  assert.match(r.data, /^HTTP\/1\.1 200 /)
  assert.equal(r.closed, true)
  assert.ok(r.ms >= 700, `closed after ${r.ms} ms, before the timeout`)
})

test('pipelined requests are answered in order, including ones that use the database', async () => {
  const reqs = 'GET /livez HTTP/1.1\r\nHost: x\r\n\r\n' +
    'GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n' +
    'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n' +
    'GET /v1/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'
  const r = await raw(api.port, reqs)
  const rs = responses(r.data)
  assert.equal(rs.length, 4)
  assert.match(rs[0], /^HTTP\/1\.1 200[\s\S]*\{"status":"ok"\}$/)
  assert.match(rs[1], /^HTTP\/1\.1 200[\s\S]*"checks"/)
  assert.match(rs[2], /^HTTP\/1\.1 404/)
  assert.match(rs[3], /^HTTP\/1\.1 200[\s\S]*Connection: close[\s\S]*"gitSha"/)
  assert.equal(r.closed, true)
  // a pipeline split at awkward places parses the same
  const bytes = reqs.split('')
  const pieces = []
  for (let i = 0; i < bytes.length; i += 7) pieces.push(bytes.slice(i, i + 7).join(''))
  const s = await raw(api.port, pieces, { gapMs: 1 })
  assert.equal(responses(s.data).length, 4)
})

test('GET /metrics is valid Prometheus text (promtool check metrics)', async () => {
  await http(api, 'GET', '/livez')
  await http(api, 'GET', '/readyz')
  const r = await http(api, 'GET', '/metrics')
  assert.equal(r.status, 200)
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  assert.match(r.text, /quill_http_requests_total\{route="\/livez",method="GET",status="200"\} \d+/)
  assert.match(r.text, /quill_http_request_duration_seconds_bucket\{route="\/readyz",method="GET",status="200",le="\+Inf"\}/)
  for (const m of ['quill_http_requests_in_flight', 'quill_db_pool_size', 'quill_db_pool_busy', 'quill_db_pool_queued', 'quill_db_errors_total']) {
    assert.match(r.text, new RegExp(`^${m} `, 'm'), m)
  }
  const dir = mkdtempSync(join(tmpdir(), 'quill-metrics-'))
  writeFileSync(join(dir, 'm.txt'), r.text)
  const check = await run('sh', ['-c', `promtool check metrics < ${join(dir, 'm.txt')}`])
  assert.equal(check.code, 0, check.stdout + check.stderr)
})

test('a configured metrics token is required', async () => {
  const h = await start('quill-api', { QUILL_METRICS_TOKEN: 'metrics-secret-token' })
  try {
    const r = await http(h, 'GET', '/metrics')
    assert.equal(r.status, 401)
    assert.equal((await http(h, 'GET', '/metrics', { token: 'wrong' })).status, 401)
    assert.equal((await http(h, 'GET', '/metrics', { token: 'metrics-secret-token' })).status, 200)
  } finally { await stop(h) }
})

test('connections past QUILL_MAX_CONNECTIONS get 503', async () => {
  const h = await start('quill-api', { QUILL_MAX_CONNECTIONS: '2', QUILL_THREADS: '1' })
  try {
    const held = [raw(h.port, 'GET /livez HTTP/1.1\r\nHost: x\r\n\r\n', { timeout: 1500 }),
      raw(h.port, 'GET /livez HTTP/1.1\r\nHost: x\r\n\r\n', { timeout: 1500 })]
    await sleep(200)
    const third = await raw(h.port, 'GET /livez HTTP/1.1\r\nHost: x\r\n\r\n', { timeout: 1500 })
    assert.match(third.data, /^HTTP\/1\.1 503 /)
    assert.match(third.data, /Retry-After: 1/)
    await Promise.all(held)
  } finally { await stop(h) }
})

test('bad configuration exits 2 with one line per variable', async () => {
  const r = await run(`${BIN}/quill-api`, [], { DATABASE_URL: DB, QUILL_SECRET: 'c2hvcnQ=', QUILL_DB_POOL: 'lots', QUILL_LISTEN: 'nowhere' })
  assert.equal(r.code, 2)
  assert.match(r.stderr, /QUILL_SECRET: decodes to 5 bytes/)
  assert.match(r.stderr, /QUILL_DB_POOL: expected an integer/)
  assert.match(r.stderr, /QUILL_LISTEN: expected host:port/)
  const none = await run(`${BIN}/quill-api`, [], {})
  assert.equal(none.code, 2)
  assert.match(none.stderr, /DATABASE_URL: required but not set/)
  const w = await run(`${BIN}/quill-worker`, [], { DATABASE_URL: DB, QUILL_WORKER_CONCURRENCY: '0' })
  assert.equal(w.code, 2)
  assert.match(w.stderr, /QUILL_WORKER_CONCURRENCY/)
})

test('SIGTERM drains an in-flight request, refuses new connections and exits 0', async () => {
  const h = await start('quill-api')
  const locker = psqlSession()
  try {
    locker.write('BEGIN; LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE; SELECT \'locked\';')
    await waitFor(() => locker.output().includes('locked'))
    const inflight = http(h, 'GET', '/readyz') // blocks on the lock
    await sleep(300)
    h.proc.kill('SIGTERM')
    await sleep(300)
    assert.equal(h.exited, null, 'still running while a request is in flight')
    const refused = await raw(h.port, 'GET /livez HTTP/1.1\r\nHost: x\r\n\r\n', { timeout: 1000 })
    assert.equal(refused.data, '')
    locker.write('COMMIT;')
    const r = await inflight
    assert.equal(r.status, 200)
    assert.equal(r.headers.get('connection'), 'close')
    const exit = await h.exit
    assert.deepEqual(exit, { code: 0, signal: null })
    assert.ok(h.lines.some((l) => l.includes('"msg":"quill-api stopped"')))
  } finally { await locker.close(); await stop(h) }
})

test('the worker logs readiness and stops cleanly on SIGTERM', async () => {
  const w = await start('quill-worker', {}, 'quill-worker ready')
  assert.deepEqual(await stop(w), { code: 0, signal: null })
  assert.ok(w.lines.some((l) => l.includes('"msg":"quill-worker stopped"')))
})

test('/readyz turns 503 while PostgreSQL is stopped and 200 when it returns', async () => {
  const h = await start('quill-api')
  try {
    assert.equal((await http(h, 'GET', '/readyz')).status, 200)
    await pg('stop')
    const down = await waitFor(async () => { const r = await http(h, 'GET', '/readyz'); return r.status === 503 && r }, { timeout: 10000 })
    assert.ok(down, 'readyz reported 503')
    assert.equal(down.body.code, 'unavailable')
    assert.equal(down.body.checks.database, 'failing')
    assert.equal((await http(h, 'GET', '/livez')).status, 200, 'livez is unaffected')
    await pg('start')
    const up = await waitFor(async () => (await http(h, 'GET', '/readyz')).status === 200, { timeout: 15000 })
    assert.ok(up, 'readyz recovered')
    // every pool session recovers, not only one (a session that failed while the server
    // was away waits out its 250 ms retry floor before connecting again)
    await sleep(400)
    for (let i = 0; i < 20; i++) assert.equal((await http(h, 'GET', '/readyz')).status, 200)
  } finally { await pg('start'); await stop(h) }
})

test('quill-migrate status lists every migration as applied; bad arguments exit 2', async () => {
  const r = await run(`${BIN}/quill-migrate`, ['status'], { DATABASE_URL: DB, QUILL_MIGRATIONS_DIR: `${ROOT}/migrations` })
  assert.equal(r.code, 0, r.stderr)
  assert.doesNotMatch(r.stdout, /pending|MODIFIED/)
  assert.equal((await run(`${BIN}/quill-migrate`, ['sideways'], {})).code, 2)
  assert.equal((await run(`${BIN}/quill-migrate`, ['up', '-3'], { DATABASE_URL: DB })).code, 2)
  void SECRET
})
