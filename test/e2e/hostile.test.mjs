// Hostile clients against quill-api while a normal client keeps being answered: clients that
// pipeline without reading, slowloris senders, clients that keep sending an oversize body,
// connections left idle after a large request, and thousands of idle connections.  Every
// attack is bounded in time, runs over loopback, and ends by itself.  The normal client's
// latency is reported, but only a generous bound is asserted; quill-api's resident memory
// (VmRSS) is sampled throughout.
import { test, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import httpMod from 'node:http'
import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { start, stop, http, sleep, signup, waitFor, memoryBound } from './lib.mjs'

const BOUND_MS = 3000 // every request of the normal client is answered within this
const MIB = 1 << 20

// A fresh quill-api for each attack, so one's memory (which malloc keeps for reuse) does
// not count against the next.
let api, user
const ENV = {
  QUILL_HEADER_TIMEOUT_MS: '1000',
  QUILL_BODY_TIMEOUT_MS: '1000',
  QUILL_WRITE_TIMEOUT_MS: '5000',
  QUILL_RATE_LIMIT: '100000',
  QUILL_AUTH_IP_LIMIT: '100000'
}
beforeEach(async () => {
  api = await start('quill-api', ENV)
  if (!user) user = await signup(api)
})
afterEach(async () => { await stop(api) })

// ---- measuring ----------------------------------------------------------------------------

function rssBytes (pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m[1]) * 1024
}

// Samples a process's RSS every few ms until stopped; returns {max, samples}.
function rssSampler (pid, every = 20) {
  const s = { max: 0, samples: 0, first: rssBytes(pid) }
  const t = setInterval(() => {
    try {
      const v = rssBytes(pid)
      s.max = Math.max(s.max, v)
      s.samples++
    } catch {}
  }, every)
  s.stop = () => { clearInterval(t); return s }
  return s
}

const fmt = (b) => `${(b / MIB).toFixed(1)} MiB`

function percentile (xs, p) {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]
}

// A well-behaved client on one keep-alive connection: alternately /livez (answered on the
// loop) and /v1/me (the database or the caller cache), one request at a time, every 20 ms.
// Each request gets BOUND_MS; a later answer counts as a failure.
function normalClient (h, token) {
  const agent = new httpMod.Agent({ keepAlive: true, maxSockets: 1 })
  const st = { ok: 0, failures: [], lat: [], maxBy: {} }
  let stopped = false
  const one = (path) => new Promise((resolve) => {
    const t0 = performance.now()
    let done = false
    const finish = (r) => { if (!done) { done = true; clearTimeout(timer); resolve({ ...r, ms: performance.now() - t0 }) } }
    const req = httpMod.request({ host: '127.0.0.1', port: h.port, path, agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d) => { text += d })
      res.on('end', () => finish({ status: res.statusCode, text }))
      res.on('error', (e) => finish({ error: e.code || e.message }))
    })
    const timer = setTimeout(() => { req.destroy(new Error('timeout')); finish({ error: 'timeout' }) }, BOUND_MS)
    req.on('error', (e) => finish({ error: e.code || e.message }))
    req.end()
  })
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      const path = i % 2 ? '/v1/me' : '/livez'
      const r = await one(path)
      st.maxBy[path] = Math.max(st.maxBy[path] || 0, r.ms)
      if (r.status === 200 && r.ms <= BOUND_MS) {
        st.ok++
        st.lat.push(r.ms)
      } else {
        st.failures.push({ path, status: r.status, error: r.error, ms: r.ms })
      }
      await sleep(20)
    }
  })()
  st.get = one // a request on the same connection, between the client's own
  st.stop = async () => {
    stopped = true
    await loop
    agent.destroy()
    st.p50 = percentile(st.lat, 0.5)
    st.p99 = percentile(st.lat, 0.99)
    st.max = Math.max(...st.lat)
    return st
  }
  st.summary = () => `normal client: ${st.ok} ok, ${st.failures.length} failed; latency p50 ${st.p50.toFixed(1)} ms, p99 ${st.p99.toFixed(1)} ms, max ${st.max.toFixed(1)} ms (${Object.entries(st.maxBy).map(([p, ms]) => `${p} ${ms.toFixed(0)}`).join(', ')})`
  return st
}

function assertNormal (t, st) {
  t.diagnostic(st.summary())
  assert.deepEqual(st.failures, [], 'every request of the normal client is answered within the bound')
  assert.ok(st.ok > 20, `the normal client kept going (${st.ok} requests)`)
}

// A raw connection that reports what it received and when the server ended it.
function connect (port, { read = true } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1')
    const c = { s, data: '', closedAt: null, connectedAt: 0, error: null }
    if (read) s.on('data', (d) => { c.data += d.toString('latin1') })
    s.on('error', (e) => { c.error = e.code })
    s.on('close', () => { c.closedAt = Date.now() })
    s.once('connect', () => { c.connectedAt = Date.now(); resolve(c) })
    s.once('error', reject)
  })
}

// A metric of quill-api, read through `via` (a normal client) or a fresh connection.
async function metric (h, name, via = null) {
  const r = via ? await via.get('/metrics') : await http(h, 'GET', '/metrics')
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(r.text)
  return m ? Number(m[1]) : NaN
}

// ---- the attacks --------------------------------------------------------------------------

test('100 clients pipelining 20,000 requests each without reading: RSS stays under 80 MiB', async (t) => {
  // What is measured is the write timeout.  A client short of CPU (the machine busy) can
  // leave a head half sent for more than the 1 s header timeout, which then rightly cuts
  // it: here heads get the write timeout's 5 s too.
  await stop(api)
  api = await start('quill-api', { ...ENV, QUILL_HEADER_TIMEOUT_MS: '5000' })
  const normal = normalClient(api, user.token)
  await sleep(200)
  // The server's own count: a client that never reads notices no close (it reads nothing).
  const base = await metric(api, 'quill_http_connections', normal)
  const open = async () => await metric(api, 'quill_http_connections', normal) - base
  const rss = rssSampler(api.proc.pid)
  const one = 'GET /v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n'
  const burst = Buffer.from(one.repeat(20000))
  // Connect them all first, so that the attack starts at once on every connection.
  const clients = await Promise.all(Array.from({ length: 100 }, () => connect(api.port, { read: false })))
  for (const c of clients) {
    c.s.pause() // never read: the answers pile up in the kernel, then in quill-api
    c.s.write(burst)
  }
  await sleep(2500)
  const stillOpen = await open()
  // The write timeout (5 s here) ends connections whose answers are not read.
  const t1 = Date.now()
  const cut = await waitFor(async () => await open() <= 0, { timeout: 8000, every: 100 })
  const cutMs = Date.now() - t1 + 2500
  const left = await open()
  const answered = await metric(api, 'quill_http_requests_total\\{route="/v1/openapi.json",method="GET",status="200"\\}', normal)
  for (const c of clients) c.s.destroy()
  const r = rss.stop()
  await sleep(300)
  const st = await normal.stop()
  t.diagnostic(`RSS before ${fmt(r.first)}, max ${fmt(r.max)} over ${r.samples} samples; open after 2.5 s: ${stillOpen}/100, all closed by the server after ${cut ? cutMs : '(not)'} ms; answered ${answered} of 2,000,000`)
  assertNormal(t, st)
  // What bounds it: a connection parses no further once 64 KiB of answers wait unsent, so
  // it holds at most that plus one answer (the OpenAPI document, 112 KiB and growing with
  // the API), in its output buffer and in the one being written: about 0.5 MiB with the
  // buffers' power-of-two sizes, 50 MiB for the 100.  Unbounded, 20,000 unread answers of
  // each would be 2 GiB a connection.
  memoryBound(t, r.max < 80 * MIB, `RSS reached ${fmt(r.max)}`)
  assert.ok(stillOpen >= 100, `the attack lasted: no connection was cut before its write timeout (${stillOpen} open)`)
  assert.ok(cut, `the server closes the unread connections itself: ${left} still open`)
  assert.ok(answered < 200000, `parsing stopped while answers went unread (${answered} answered)`)
  assert.equal((await http(api, 'GET', '/livez')).status, 200)
})

test('slowloris: connections trickling their head or body are closed by the timeouts', async (t) => {
  const normal = normalClient(api, user.token)
  await sleep(200)
  const rss = rssSampler(api.proc.pid)
  const head = 'GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Padding: ' + 'a'.repeat(200)
  const bodyHead = 'POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n'
  const conns = []
  const t0 = Date.now()
  for (let i = 0; i < 300; i++) {
    const c = await connect(api.port)
    c.kind = i % 3 === 2 ? 'body' : 'head'
    c.sent = 0
    if (c.kind === 'body') c.s.write(bodyHead)
    conns.push(c)
  }
  // One byte every 300 ms on every connection, until the server closes it (or 6 s pass).
  const drip = setInterval(() => {
    for (const c of conns) {
      if (c.closedAt !== null || c.s.destroyed) continue
      c.s.write(c.kind === 'head' ? head[c.sent % head.length] : 'x')
      c.sent++
    }
  }, 300)
  const allClosed = await waitFor(() => conns.every((c) => c.closedAt !== null), { timeout: 6000, every: 100 })
  clearInterval(drip)
  const r = rss.stop()
  const st = await normal.stop()
  for (const c of conns) c.s.destroy()
  const lasted = conns.filter((c) => c.closedAt).map((c) => c.closedAt - c.connectedAt)
  t.diagnostic(`closed ${lasted.length}/300 after ${Math.min(...lasted)} to ${Math.max(...lasted)} ms (connecting took ${conns.at(-1).connectedAt - t0} ms); RSS max ${fmt(r.max)}`)
  assertNormal(t, st)
  assert.ok(allClosed, `${conns.filter((c) => c.closedAt === null).length} slow connections still open`)
  for (const c of conns) {
    assert.equal(c.data, '', 'a timed-out connection gets no answer')
    // The header timeout runs from the first byte (1 s), plus the 250 ms sweep.
    assert.ok(c.closedAt - c.connectedAt < 3000, `${c.kind} connection lived ${c.closedAt - c.connectedAt} ms`)
    assert.ok(c.sent >= 2, `${c.kind} connection was cut after ${c.sent} bytes`)
  }
})

// Sends an oversize body on a fresh connection as fast as the socket takes it, for at most
// 6 s or until the server ends the connection; returns the connection with what it read.
// Like any HTTP client it reads while it writes (a turn of the event loop after each write),
// but it does not stop sending when the 413 comes.
async function oversize (port, chunked) {
  const head = 'POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
    (chunked ? 'Transfer-Encoding: chunked\r\n\r\n' : 'Content-Length: 1073741824\r\n\r\n')
  const chunk = Buffer.alloc(64 * 1024, 'x')
  const framed = chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk
  const c = await connect(port)
  c.chunked = chunked
  c.sentBytes = 0
  c.s.write(head)
  const until = Date.now() + 6000
  while (c.closedAt === null && !c.s.destroyed && Date.now() < until) {
    c.sentBytes += framed.length
    if (c.s.write(framed)) {
      await new Promise(setImmediate)
    } else {
      await new Promise((resolve) => {
        const t = setTimeout(done, 200)
        function done () { clearTimeout(t); c.s.off('drain', done); c.s.off('close', done); resolve() }
        c.s.once('drain', done)
        c.s.once('close', done)
      })
    }
  }
  c.lasted = (c.closedAt ?? Date.now()) - c.connectedAt
  c.s.destroy()
  return c
}

test('clients that keep sending an oversize body read the 413, then the connection ends', async (t) => {
  const normal = normalClient(api, user.token)
  await sleep(200)
  const rss = rssSampler(api.proc.pid)
  // Ten senders at a time, each sending body after body for two seconds.
  const until = Date.now() + 2000
  const done = []
  await Promise.all(Array.from({ length: 10 }, async (_, i) => {
    while (Date.now() < until) done.push(await oversize(api.port, i % 2 === 1))
  }))
  const r = rss.stop()
  const st = await normal.stop()
  const sent = done.reduce((a, c) => a + c.sentBytes, 0)
  t.diagnostic(`${done.length} oversize bodies, ${(sent / MIB).toFixed(0)} MiB sent; a connection lasted ${Math.min(...done.map((c) => c.lasted))} to ${Math.max(...done.map((c) => c.lasted))} ms; RSS max ${fmt(r.max)}`)
  assertNormal(t, st)
  for (const c of done) {
    assert.match(c.data, /^HTTP\/1\.1 413 /, `${c.chunked ? 'chunked' : 'sized'} body: ${JSON.stringify(c.data.slice(0, 80))} (${c.error})`)
    assert.match(c.data, /"code":"payload_too_large"/)
    assert.match(c.data, /Connection: close/)
    // The server lingers for 2 s or 8 MiB, then closes: the client is not kept forever.
    assert.ok(c.closedAt !== null && c.lasted < 4000, `the connection lasted ${c.lasted} ms`)
  }
  memoryBound(t, r.max < 64 * MIB, `RSS reached ${fmt(r.max)}`)
})

test('100 keep-alive connections idle after a 1 MiB body each: RSS stays under 64 MiB', async (t) => {
  const normal = normalClient(api, user.token)
  await sleep(200)
  const rss = rssSampler(api.proc.pid)
  // A body just under QUILL_MAX_BODY: read whole, refused (422), and the connection stays.
  const body = JSON.stringify({ email: 'a'.repeat(1000000), password: 'x' })
  const req = Buffer.from(`POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
  const conns = []
  try {
    for (let i = 0; i < 100; i += 10) {
      const batch = await Promise.all(Array.from({ length: 10 }, async () => {
        const c = await connect(api.port)
        c.s.write(req)
        await waitFor(() => /\r\n\r\n\{/.test(c.data) || c.closedAt !== null, { timeout: 5000, every: 10 })
        return c
      }))
      conns.push(...batch)
    }
    await sleep(500)
    const idle = rssBytes(api.proc.pid)
    const r = rss.stop()
    const st = await normal.stop()
    t.diagnostic(`RSS before ${fmt(r.first)}, max ${fmt(r.max)}, idle afterwards ${fmt(idle)}`)
    assertNormal(t, st)
    for (const c of conns) {
      assert.match(c.data, /^HTTP\/1\.1 4\d\d /)
      assert.equal(c.closedAt, null, 'the connection stays open')
    }
    // An idle connection keeps nothing of its last request (the body, its parse).
    memoryBound(t, idle < 64 * MIB, `RSS with the idle connections: ${fmt(idle)}`)
  } finally {
    for (const c of conns) c.s.destroy()
  }
})

// The fd limit of this process, raised when it is too low and we may (CI runs as root).
function fdLimit (want) {
  const soft = () => Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))[1])
  if (soft() < want) {
    try { execFileSync('prlimit', [`--pid=${process.pid}`, `--nofile=${want}:${want}`]) } catch {}
  }
  return soft()
}

test('5,000 idle connections are held; one more gets 503 and the normal client is still answered', async (t) => {
  let n = 5000
  const limit = fdLimit(n + 500) // the client's sockets live in this process; quill-api inherits the limit
  if (limit < n + 500) {
    n = Math.max(100, limit - 500)
    t.diagnostic(`open-files limit ${limit} (could not raise it): holding ${n} idle connections instead of 5,000`)
  }
  // A quill-api of its own: QUILL_MAX_CONNECTIONS counts the normal client's connection too,
  // and the header timeout (10 s by default, not 1 s) is what closes idle connections.
  const h = await start('quill-api', {
    QUILL_MAX_CONNECTIONS: String(n + 1),
    QUILL_RATE_LIMIT: '100000'
  })
  const conns = []
  try {
    const normal = normalClient(h, user.token)
    await waitFor(() => normal.ok > 0)
    const rss = rssSampler(h.proc.pid)
    const t0 = Date.now()
    for (let i = 0; i < n; i += 250) { // in steps, so the listen backlog never overflows
      const batch = await Promise.all(Array.from({ length: Math.min(250, n - i) }, () => connect(h.port)))
      conns.push(...batch)
    }
    const openMs = Date.now() - t0
    await sleep(500)
    const refused = conns.filter((c) => c.data !== '' || c.closedAt !== null)
    assert.equal(refused.length, 0, `idle connections answered or closed: ${refused.slice(0, 3).map((c) => c.data.slice(0, 40))}`)
    assert.equal(await metric(h, 'quill_http_connections', normal), n + 1)
    // One more is refused with a 503 at once.
    const extra = await connect(h.port)
    const closed = await waitFor(() => extra.closedAt !== null, { timeout: 2000, every: 20 })
    assert.ok(closed, 'the extra connection is closed')
    assert.match(extra.data, /^HTTP\/1\.1 503 /)
    assert.match(extra.data, /Retry-After: 1/)
    assert.match(extra.data, /"code":"unavailable"/)
    await sleep(1000)
    const r = rss.stop()
    const st = await normal.stop()
    t.diagnostic(`${n} idle connections opened in ${openMs} ms; RSS before ${fmt(r.first)}, max ${fmt(r.max)}`)
    assertNormal(t, st)
    assert.equal(conns.filter((c) => c.closedAt !== null).length, 0, 'the idle connections are still held')
  } finally {
    for (const c of conns) c.s.destroy()
    await stop(h)
  }
})
