// Export downloads are streamed: GET /v1/me/exports/{exportId} reads a ready export's stored
// document part by part as its client takes it.  A multi-MiB document arrives whole and
// parses; several clients that stop reading cost quill-api far less than a copy of the
// document each (its peak resident memory, VmHWM); clients that go mid-download leave
// nothing in flight; one whose export goes meanwhile is cut off.  The connection goes on
// after a whole download (a pipelined request, a HEAD), an empty part changes nothing, and
// a download whose next read finds the pool full (QUILL_DB_POOL=1, QUILL_POOL_QUEUE=1, a
// held lock) reads it once there is room, or is cut off by a stopping server's shutdown
// timeout.  The export is written
// straight into its tables (as the worker writes one, in parts of 256 KiB), so a document
// of any size takes no time to make.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { get } from 'node:http'
import net from 'node:net'
import { createHash, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { start, stop, http, sql, signup, waitFor, hold, queued, ADMIN_TOKEN, memoryBound } from './lib.mjs'

const MIB = 1 << 20
const ENV = { QUILL_AUTH_IP_LIMIT: '100000', QUILL_RATE_LIMIT: '100000' }
let api, u

before(async () => {
  api = await start('quill-api', ENV)
  u = await signup(api)
})
after(async () => { await stop(api) })

// A ready export of u's whose document is {"format":"quill.export/1","pad":[...]} of about
// mib MiB, in parts of 256 KiB; its id and the document's length and md5.
function storedExport (mib) {
  const id = randomUUID()
  const n = mib * 4
  sql(`INSERT INTO exports (export_id, user_id, status, bytes, created_at, ready_at, expires_at)
       VALUES ('${id}', '${u.user.userId}', 'ready', 0, now(), now(), now() + interval '1 hour')`)
  sql(`INSERT INTO export_parts (export_id, part, data)
       SELECT '${id}', g, CASE WHEN g = 0 THEN '{"format":"quill.export/1","pad":['
                               WHEN g = ${n + 1} THEN '"end"]}'
                               ELSE '"' || repeat(chr(97 + g % 26), 262140) || '",' END
       FROM generate_series(0, ${n + 1}) g`)
  sql(`UPDATE exports SET bytes = (SELECT sum(octet_length(data)) FROM export_parts WHERE export_id = '${id}') WHERE export_id = '${id}'`)
  const [bytes, md5] = sql(`SELECT sum(octet_length(data)), md5(string_agg(data, '' ORDER BY part)) FROM export_parts WHERE export_id = '${id}'`).split('|')
  return { id, n, bytes: Number(bytes), md5 }
}

// The document inside a response's text: what follows "data": up to the closing brace.
function documentOf (text) {
  const at = text.indexOf('"data":')
  assert.ok(at > 0, 'the response has data')
  return text.slice(at + 7, -1)
}

function checkWhole (x, text) {
  const body = JSON.parse(text)
  assert.equal(body.exportId, x.id)
  assert.equal(body.status, 'ready')
  assert.equal(body.data.format, 'quill.export/1')
  assert.equal(body.data.pad.length, x.n + 1)
  assert.equal(body.data.pad[x.n], 'end')
  const doc = documentOf(text)
  assert.equal(Buffer.byteLength(doc), x.bytes)
  assert.equal(createHash('md5').update(doc).digest('hex'), x.md5)
}

function status (pid, field) {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m[1]) * 1024
}

// A download whose client reads nothing until told: resolves `opened` when the head has
// come; read() reads on and resolves the whole text; drop() goes away.
function slowDownload (path, h = api) {
  let res, req
  const opened = new Promise((resolve, reject) => {
    req = get(h.url + path, { headers: { authorization: `Bearer ${u.token}` } }, (r) => {
      res = r
      r.pause()
      resolve(r)
    })
    req.on('error', reject)
  })
  return {
    opened,
    read: () => new Promise((resolve, reject) => {
      const parts = []
      res.on('data', (d) => parts.push(d))
      res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')))
      res.on('error', reject)
      res.on('close', () => { if (!res.complete) reject(new Error('the response ended early')) })
      res.resume()
    }),
    drop: () => { req.destroy() }
  }
}

async function metric (name) {
  const r = await http(api, 'GET', '/metrics', { token: ADMIN_TOKEN })
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(r.text)
  return m ? Number(m[1]) : NaN
}

test('a multi-MiB export downloads whole, as one chunked JSON document', async () => {
  const x = storedExport(24)
  const r = await http(api, 'GET', `/v1/me/exports/${x.id}`, { token: u.token })
  assert.equal(r.status, 200)
  assert.equal(r.headers.get('content-type'), 'application/json')
  assert.equal(r.headers.get('transfer-encoding'), 'chunked')
  checkWhole(x, r.text)
  // a HEAD request gets the head alone
  const h = await fetch(`${api.url}/v1/me/exports/${x.id}`, { method: 'HEAD', headers: { authorization: `Bearer ${u.token}` } })
  assert.equal(h.status, 200)
  assert.equal((await h.text()).length, 0)
})

test('clients that stop reading cost quill-api far less than a copy of the document each', async (t) => {
  const x = storedExport(32)
  const N = 6
  const pid = api.proc.pid
  const peakBefore = status(pid, 'VmHWM')
  const rssBefore = status(pid, 'VmRSS')
  const ds = Array.from({ length: N }, () => slowDownload(`/v1/me/exports/${x.id}`))
  await Promise.all(ds.map((d) => d.opened))
  // every download has begun and no client reads: each holds what the kernel's socket
  // buffers do not (tens of MiB for a whole document), or a part (well under a MiB)
  const rssDuring = status(pid, 'VmRSS')
  const texts = await Promise.all(ds.map((d) => d.read()))
  const grown = status(pid, 'VmHWM') - peakBefore
  for (const t of texts) checkWhole(x, t)
  const whole = N * x.bytes
  memoryBound(t, grown < whole / 8, `peak memory grew by ${(grown / MIB).toFixed(1)} MiB for ${N} downloads of ${(x.bytes / MIB).toFixed(1)} MiB (RSS ${(rssBefore / MIB).toFixed(1)} -> ${(rssDuring / MIB).toFixed(1)} MiB)`)
})

test('clients that go mid-download leave nothing in flight, and the next download is whole', async () => {
  const x = storedExport(16)
  const ds = Array.from({ length: 4 }, () => slowDownload(`/v1/me/exports/${x.id}`))
  await Promise.all(ds.map((d) => d.opened))
  for (const d of ds) d.drop()
  assert.equal(await waitFor(async () => await metric('quill_http_requests_in_flight') <= 1), true, 'the downloads ended')
  assert.equal(await waitFor(async () => await metric('quill_http_connections') <= 1), true, 'their connections closed')
  const r = await http(api, 'GET', `/v1/me/exports/${x.id}`, { token: u.token })
  assert.equal(r.status, 200)
  checkWhole(x, r.text)
})

test('a download whose export is deleted meanwhile is cut off, never ended as if whole', async () => {
  const x = storedExport(32)
  const d = slowDownload(`/v1/me/exports/${x.id}`)
  await d.opened
  sql(`DELETE FROM exports WHERE export_id = '${x.id}'`)
  await assert.rejects(d.read(), /ended early|aborted|ECONNRESET/)
  assert.equal(await waitFor(async () => await metric('quill_http_requests_in_flight') <= 1), true, 'the download ended')
})

test('a stopping server finishes the downloads it has begun', async () => {
  const x = storedExport(16)
  const other = await start('quill-api', ENV)
  try {
    const d = slowDownload(`/v1/me/exports/${x.id}`, other)
    await d.opened
    const exited = stop(other)
    checkWhole(x, await d.read())
    assert.equal((await exited).code, 0)
  } finally {
    await stop(other)
  }
})

test('a download whose client stops reading for good ends at the write timeout', async () => {
  const x = storedExport(32)
  const other = await start('quill-api', { ...ENV, QUILL_WRITE_TIMEOUT_MS: '500' })
  try {
    const d = slowDownload(`/v1/me/exports/${x.id}`, other)
    await d.opened
    // the client never reads on: the server closes its connection, and the download ends
    const gauge = async (name) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec((await http(other, 'GET', '/metrics', { token: ADMIN_TOKEN })).text)[1])
    assert.equal(await waitFor(async () => await gauge('quill_http_connections') <= 1), true, 'the connection was closed')
    assert.ok(await gauge('quill_http_requests_in_flight') <= 1) // the metrics request itself
    d.drop()
  } finally {
    await stop(other)
  }
})

// A request's bytes for a download (or another path) on a raw connection.
const request = (method, path, close = false) =>
  `${method} ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${u.token}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`

// Decode a chunked body that starts at text[at]: {body, end} (end: just past the last chunk),
// or null while it is incomplete.
function unchunk (buf, at) {
  const parts = []
  for (;;) {
    const eol = buf.indexOf('\r\n', at)
    if (eol < 0) return null
    const n = parseInt(buf.toString('latin1', at, eol), 16)
    if (Number.isNaN(n)) throw new Error(`bad chunk size at ${at}: ${buf.toString('latin1', at, eol + 2)}`)
    if (buf.length < eol + 2 + n + 2) return null
    if (buf.toString('latin1', eol + 2 + n, eol + 4 + n) !== '\r\n') throw new Error(`chunk of ${n} not ended by CRLF`)
    if (n === 0) return { body: Buffer.concat(parts).toString('utf8'), end: eol + 4 }
    parts.push(buf.subarray(eol + 2, eol + 2 + n))
    at = eol + 4 + n
  }
}

// The responses on one connection, parsed as they come: [{status, headers, body}] once
// `count` have come whole (a HEAD's has no body), and whether the server closed it.
function converse (port, sends, count, heads = []) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1')
    let buf = Buffer.alloc(0)
    const got = []
    let sent = 0
    const parse = () => {
      for (;;) {
        const he = buf.indexOf('\r\n\r\n')
        if (he < 0) return
        const head = buf.toString('latin1', 0, he).split('\r\n')
        const headers = Object.fromEntries(head.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
        const status = Number(head[0].split(' ')[1])
        let body = ''
        let end = he + 4
        if (heads.includes(got.length)) {
          // no body
        } else if (headers['transfer-encoding'] === 'chunked') {
          const c = unchunk(buf, he + 4)
          if (c === null) return
          body = c.body
          end = c.end
        } else {
          const n = Number(headers['content-length'] || 0)
          if (buf.length < he + 4 + n) return
          body = buf.toString('utf8', he + 4, he + 4 + n)
          end = he + 4 + n
        }
        got.push({ status, headers, body })
        buf = buf.subarray(end)
        if (got.length === count) { s.destroy(); resolve({ responses: got, rest: buf.length }); return }
        if (sent < sends.length) s.write(sends[sent++]) // the next one once this one is whole
      }
    }
    s.on('data', (d) => { buf = Buffer.concat([buf, d]); try { parse() } catch (e) { s.destroy(); reject(e) } })
    s.on('close', () => reject(new Error(`closed after ${got.length} of ${count} responses (${buf.length} bytes left)`)))
    s.on('error', reject)
    s.on('connect', () => { s.write(sends[sent++]) })
  })
}

test('after a whole download the same connection answers the next request', async () => {
  const x = storedExport(2)
  const path = `/v1/me/exports/${x.id}`
  // one after another: the second is sent once the first download has come whole
  const { responses: [a, b, c] } = await converse(api.port, [request('GET', path), request('GET', '/v1/me'), request('GET', path)], 3)
  assert.equal(a.status, 200)
  assert.equal(a.headers['transfer-encoding'], 'chunked')
  checkWhole(x, a.body)
  assert.equal(b.status, 200)
  assert.ok(b.body.includes(u.user.userId), b.body)
  checkWhole(x, c.body)
})

test('a request pipelined behind a download is answered after it, on the same connection', async () => {
  const x = storedExport(2)
  const path = `/v1/me/exports/${x.id}`
  const { responses: [a, b], rest } = await converse(api.port, [request('GET', path) + request('GET', '/v1/me')], 2)
  checkWhole(x, a.body)
  assert.equal(b.status, 200)
  assert.ok(b.body.includes(u.user.userId), b.body)
  assert.equal(rest, 0)
})

test('HEAD on a ready export gets the head alone, and the connection goes on', async () => {
  const x = storedExport(1)
  const path = `/v1/me/exports/${x.id}`
  const { responses: [h, a], rest } = await converse(api.port, [request('HEAD', path), request('GET', path)], 2, [0])
  assert.equal(h.status, 200)
  checkWhole(x, a.body)
  assert.equal(rest, 0, 'nothing after the HEAD response but the next answer')
})

test('an empty stored part neither ends the body early nor cuts the download off', async () => {
  const x = storedExport(1)
  // parts 0..n+1: an empty one between the pad's items, and an empty last one
  sql(`UPDATE export_parts SET part = part * 2 + 10000 WHERE export_id = '${x.id}'`)
  sql(`UPDATE export_parts SET part = part - 10000 WHERE export_id = '${x.id}'`)
  sql(`INSERT INTO export_parts (export_id, part, data) VALUES ('${x.id}', 3, ''), ('${x.id}', 1000, '')`)
  const r = await http(api, 'GET', `/v1/me/exports/${x.id}`, { token: u.token })
  assert.equal(r.status, 200)
  checkWhole(x, r.text)
})

// A ready export of u's in two parts: a first of about mib MiB, more than the socket buffers
// between quill-api and a client hold, ending in p", and a last one; as storedExport's.
function twoParts (mib) {
  const id = randomUUID()
  sql(`INSERT INTO exports (export_id, user_id, status, bytes, created_at, ready_at, expires_at)
       VALUES ('${id}', '${u.user.userId}', 'ready', 0, now(), now(), now() + interval '1 hour')`)
  sql(`INSERT INTO export_parts (export_id, part, data) VALUES
       ('${id}', 0, '{"format":"quill.export/1","pad":["' || repeat('p', ${mib} * 1048576) || '",'),
       ('${id}', 1, '"end"]}')`)
  sql(`UPDATE exports SET bytes = (SELECT sum(octet_length(data)) FROM export_parts WHERE export_id = '${id}') WHERE export_id = '${id}'`)
  const [bytes, md5] = sql(`SELECT sum(octet_length(data)), md5(string_agg(data, '' ORDER BY part)) FROM export_parts WHERE export_id = '${id}'`).split('|')
  return { id, n: 1, bytes: Number(bytes), md5 }
}

// A download on a raw connection that stops reading once the document's first bytes have
// come (so its first part was read: the rest of it waits for the client): started resolves
// then; wait(text) resolves once text (shorter than a packet) has come, read() reads on,
// buf() is all of it so far, drop() goes away.
function rawDownload (h, path) {
  const s = net.connect(h.port, '127.0.0.1')
  const chunks = []
  let tail = Buffer.alloc(0) // the last bytes, for a text split between two packets
  let waiting = []
  let pausing = true
  let onStart, onRefused
  const started = new Promise((resolve, reject) => { onStart = resolve; onRefused = reject })
  const seen = (text) => waiting.filter((w) => { if (w.text === text) w.resolve(); return w.text !== text })
  s.on('data', (d) => {
    chunks.push(d)
    if (chunks.length === 1 && !d.toString('latin1', 0, 12).startsWith('HTTP/1.1 200')) onRefused(new Error(d.toString('latin1', 0, 200)))
    const look = Buffer.concat([tail, d])
    tail = look.subarray(Math.max(0, look.length - 64))
    if (pausing && look.includes('{"format"')) {
      s.pause()
      onStart()
    }
    for (const w of waiting) if (look.includes(w.text)) waiting = seen(w.text)
  })
  s.on('connect', () => s.write(request('GET', path, true)))
  const closed = new Promise((resolve) => s.on('close', resolve))
  s.on('error', () => {})
  return {
    started,
    wait: (text) => new Promise((resolve) => {
      if (Buffer.concat(chunks).includes(text)) resolve()
      else waiting.push({ text, resolve })
    }),
    read: () => { pausing = false; s.resume() },
    closed,
    buf: () => Buffer.concat(chunks),
    drop: () => s.destroy()
  }
}

test('a download whose next read finds the pool full reads it once the pool has room', async () => {
  // one pool thread and room for one task in its queue
  const one = await start('quill-api', { ...ENV, QUILL_THREADS: '1', QUILL_DB_POOL: '1', QUILL_POOL_QUEUE: '1' })
  try {
    const x = twoParts(24)
    const path = `/v1/me/exports/${x.id}`
    const gauge = async (name) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec((await http(one, 'GET', '/metrics', { token: ADMIN_TOKEN })).text)[1])
    // the first part was read: its first bytes came, and the rest waits for the client
    const a = rawDownload(one, path)
    await a.started // a's part waits for its client: a reads nothing more meanwhile
    const b = rawDownload(one, path)
    await b.started
    // the pool's thread waits for a lock with one request, another fills the queue
    const lock = await hold('LOCK TABLE exports IN ACCESS EXCLUSIVE MODE')
    const c = http(one, 'GET', path, { token: u.token })
    await queued(1)
    const d = http(one, 'GET', path, { token: u.token })
    assert.equal(await waitFor(async () => await gauge('quill_db_pool_queued') === 1), true, 'a request waits in the queue')
    // the clients take the first part: each download's next read finds the pool full
    a.read()
    b.read()
    await a.wait('p",\r\n') // the end of the first part's last chunk
    await b.wait('p",\r\n')
    b.drop() // one goes while its read waits for room
    await lock.release()
    const [rc, rd] = await Promise.all([c, d])
    assert.equal(rc.status, 200)
    assert.equal(rd.status, 200)
    await a.closed
    const text = a.buf().toString('utf8')
    const body = unchunk(a.buf(), text.indexOf('\r\n\r\n') + 4)
    assert.ok(body, 'the download came whole')
    checkWhole(x, body.body)
    assert.equal(await waitFor(async () => await gauge('quill_http_requests_in_flight') <= 1), true, 'nothing left in flight')
  } finally {
    await stop(one)
  }
})

test('a stopping server cuts off at its shutdown timeout a download that waits for the pool', async () => {
  const one = await start('quill-api', { ...ENV, QUILL_THREADS: '1', QUILL_DB_POOL: '1', QUILL_POOL_QUEUE: '1', QUILL_SHUTDOWN_TIMEOUT_MS: '200' })
  let lock
  try {
    const x = twoParts(24)
    const path = `/v1/me/exports/${x.id}`
    const a = rawDownload(one, path)
    await a.started
    lock = await hold('LOCK TABLE exports IN ACCESS EXCLUSIVE MODE')
    const c = http(one, 'GET', path, { token: u.token }).catch((e) => e)
    await queued(1)
    const d = http(one, 'GET', path, { token: u.token }).catch((e) => e)
    assert.equal(await waitFor(async () => Number(/^quill_db_pool_queued (\d+)/m.exec((await http(one, 'GET', '/metrics', { token: ADMIN_TOKEN })).text)[1]) === 1), true)
    a.read()
    await a.wait('p",\r\n') // its next read found the pool full
    const exited = stop(one)
    await a.closed // cut off at the shutdown timeout, not ended as if whole
    assert.ok(!a.buf().includes('\r\n0\r\n\r\n'), 'the download was not ended as if whole')
    await lock.release()
    lock = null
    await Promise.all([c, d])
    assert.equal((await exited).code, 0)
  } finally {
    if (lock) await lock.release()
    await stop(one)
  }
})
