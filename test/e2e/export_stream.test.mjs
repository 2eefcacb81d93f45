// Export downloads are streamed: GET /v1/me/exports/{exportId} reads a ready export's stored
// document part by part as its client takes it.  A multi-MiB document arrives whole and
// parses; several clients that stop reading cost quill-api far less than a copy of the
// document each (its peak resident memory, VmHWM); clients that go mid-download leave
// nothing in flight; one whose export goes meanwhile is cut off.  The export is written
// straight into its tables (as the worker writes one, in parts of 256 KiB), so a document
// of any size takes no time to make.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { get } from 'node:http'
import { createHash, randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { start, stop, http, sql, signup, waitFor, ADMIN_TOKEN } from './lib.mjs'

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

test('clients that stop reading cost quill-api far less than a copy of the document each', async () => {
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
  assert.ok(grown < whole / 8, `peak memory grew by ${(grown / MIB).toFixed(1)} MiB for ${N} downloads of ${(x.bytes / MIB).toFixed(1)} MiB (RSS ${(rssBefore / MIB).toFixed(1)} -> ${(rssDuring / MIB).toFixed(1)} MiB)`)
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
