// Tracing end to end: quill-api and quill-worker export spans over OTLP/HTTP (JSON) to a
// small OTLP receiver this test runs on loopback.  A request is a server span with its
// route and status, its database work child spans in its trace; a given traceparent is
// continued; a write's webhook delivery is a job span in quill-worker continuing the
// request's trace, whose post carries the trace on; and with the collector down or hanging,
// requests still answer and the dropped-span counter grows (counters, never timings).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { start, stop, http, waitFor, signup, makeTeam, sql, run, BIN, DB, SECRET } from './lib.mjs'

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const PARENT = '00f067aa0ba902b7'
const LIMITS = { QUILL_AUTH_IP_LIMIT: '100000', QUILL_RATE_LIMIT: '100000' }

// An OTLP receiver: POST /v1/traces with an ExportTraceServiceRequest in JSON.  `mode` is
// 'ok' (collect and answer {}), or 'hang' (read the body and never answer).
function receiver () {
  const r = { spans: [], posts: 0, bad: [], mode: 'ok', held: [] }
  r.server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => { body += d })
    req.on('end', () => {
      r.posts++
      if (req.method !== 'POST' || req.url !== '/v1/traces' ||
          !String(req.headers['content-type']).startsWith('application/json')) {
        r.bad.push(`${req.method} ${req.url} ${req.headers['content-type']}`)
      }
      if (r.mode === 'hang') { r.held.push(res); return }
      try {
        const doc = JSON.parse(body)
        for (const rs of doc.resourceSpans) {
          const service = rs.resource.attributes.find((a) => a.key === 'service.name').value.stringValue
          for (const ss of rs.scopeSpans) {
            for (const s of ss.spans) {
              const attrs = {}
              for (const a of s.attributes) attrs[a.key] = a.value.stringValue ?? a.value.intValue ?? a.value.boolValue
              r.spans.push({ ...s, service, scope: ss.scope.name, attrs })
            }
          }
        }
      } catch (e) { r.bad.push(`unreadable body: ${e.message}`) }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{}')
    })
  })
  r.listen = (port = 0) => new Promise((resolve) => r.server.listen(port, '127.0.0.1', () => {
    r.port = r.server.address().port
    r.url = `http://127.0.0.1:${r.port}`
    resolve(r)
  }))
  r.close = () => {
    for (const res of r.held) res.destroy()
    r.server.closeAllConnections()
    return new Promise((resolve) => r.server.close(resolve))
  }
  return r
}

// A webhook target that records what it gets.
function target () {
  const t = { got: [] }
  t.server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => { body += d })
    req.on('end', () => { t.got.push({ headers: req.headers, body }); res.writeHead(204); res.end() })
  })
  t.listen = () => new Promise((resolve) => t.server.listen(0, '127.0.0.1', () => {
    t.url = `http://127.0.0.1:${t.server.address().port}/in`
    resolve(t)
  }))
  t.close = () => { t.server.closeAllConnections(); return new Promise((resolve) => t.server.close(resolve)) }
  return t
}

const otel = (rx, extra = {}) => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
  OTEL_BSP_SCHEDULE_DELAY: '100',
  ...extra
})

async function metric (url, name) {
  const text = await (await fetch(url + '/metrics')).text()
  let sum = 0
  for (const line of text.split('\n')) {
    if (line.startsWith(name + ' ') || line.startsWith(name + '{')) sum += Number(line.split(' ').pop())
  }
  return sum
}

let rx, api, worker, owner, team
before(async () => {
  rx = await receiver().listen()
  api = await start('quill-api', { ...LIMITS, ...otel(rx), QUILL_WEBHOOK_ALLOW_PRIVATE: '1' })
  worker = await start('quill-worker', {
    ...LIMITS,
    ...otel(rx),
    QUILL_WEBHOOK_ALLOW_PRIVATE: '1',
    QUILL_JOB_POLL_MS: '100',
    QUILL_WORKER_LISTEN: '127.0.0.1:0'
  }, 'quill-worker ready')
  const line = JSON.parse(worker.lines.find((l) => l.includes('"msg":"quill-worker starting"')))
  worker.url = `http://${line.metrics}`
  owner = await signup(api)
  team = await makeTeam(api, owner.token)
})
after(async () => {
  await stop(worker)
  await stop(api)
  await rx.close()
})

const spansOf = (trace) => rx.spans.filter((s) => s.traceId === trace)
const serverSpan = (trace, route) =>
  rx.spans.find((s) => s.traceId === trace && s.kind === 2 && s.attrs['http.route'] === route)

test('a request is a server span with its route and status; its database work are child spans of its trace', async () => {
  const entries = `/v1/teams/${team.teamId}/journal-entries`
  const r = await http(api, 'POST', entries, { token: owner.token, body: { content: 'traced' } })
  assert.equal(r.status, 201, r.text)
  const route = '/v1/teams/{teamId}/journal-entries'
  const server = await waitFor(() => rx.spans.find((s) => s.kind === 2 && s.attrs['http.route'] === route &&
    s.attrs['http.request.method'] === 'POST' && s.attrs['http.response.status_code'] === '201'))
  assert.ok(server, 'a server span for the POST')
  assert.equal(server.service, 'quill-api')
  assert.equal(server.scope, 'quill')
  assert.equal(server.name, `POST ${route}`)
  assert.match(server.traceId, /^[0-9a-f]{32}$/)
  assert.match(server.spanId, /^[0-9a-f]{16}$/)
  assert.equal(server.parentSpanId, undefined, 'no traceparent came: a root span')
  assert.equal(server.attrs['url.path'], entries)
  assert.match(server.startTimeUnixNano, /^\d{19}$/)
  assert.ok(BigInt(server.endTimeUnixNano) >= BigInt(server.startTimeUnixNano))
  assert.deepEqual(server.status, {})
  // its database work: client spans in the same trace, children of the server span
  const db = await waitFor(() => {
    const got = spansOf(server.traceId).filter((s) => s.kind === 3 && s.attrs['db.system.name'] === 'postgresql')
    return got.some((s) => s.name.startsWith('BEGIN ')) && got
  })
  assert.ok(db, `database spans in ${JSON.stringify(spansOf(server.traceId).map((s) => s.name))}`)
  for (const s of db) assert.equal(s.parentSpanId, server.spanId, `${s.name} is a child of the request`)
  const tx = db.find((s) => s.name.startsWith('BEGIN '))
  assert.match(tx.attrs['db.query.summary'], /^BEGIN .*entry_insert.* COMMIT$/)
  assert.ok(Number(tx.attrs['db.operation.batch.size']) >= 2)
  assert.equal(tx.attrs['db.transaction.outcome'], 'commit')
  assert.ok(BigInt(tx.startTimeUnixNano) >= BigInt(server.startTimeUnixNano))
  assert.ok(BigInt(tx.endTimeUnixNano) <= BigInt(server.endTimeUnixNano))
  assert.deepEqual(rx.bad, [])
})

test('a given traceparent is continued; a caller that did not sample is not recorded', async () => {
  const r = await http(api, 'GET', '/v1/me', {
    token: owner.token, headers: { traceparent: `00-${TRACE}-${PARENT}-01` }
  })
  assert.equal(r.status, 200)
  const server = await waitFor(() => serverSpan(TRACE, '/v1/me'))
  assert.ok(server)
  assert.equal(server.parentSpanId, PARENT)
  // its profile read (pipelined on the event loop, or on the pool) is a child span
  assert.ok(await waitFor(() => spansOf(TRACE).some((s) => s.kind === 3 &&
    s.attrs['db.system.name'] === 'postgresql' && s.parentSpanId === server.spanId)))
  // a problem names the trace it belongs to
  const nf = await http(api, 'GET', '/nowhere', { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } })
  assert.equal(nf.status, 404)
  assert.equal(nf.body.traceId, TRACE)
  const unsampled = '0af7651916cd43dd8448eb211c80319c'
  await http(api, 'GET', '/v1/me', { token: owner.token, headers: { traceparent: `00-${unsampled}-b7ad6b7169203331-00` } })
  // spans leave in order: once a later request's span is in, the unsampled one would be too
  const later = await http(api, 'GET', '/livez', { headers: { traceparent: `00-${'1'.repeat(32)}-${PARENT}-01` } })
  assert.equal(later.status, 200)
  assert.ok(await waitFor(() => serverSpan('1'.repeat(32), '/livez')))
  assert.deepEqual(spansOf(unsampled), [])
})

test('a write\'s webhook delivery is a job span of quill-worker in the request\'s trace, and its post carries the trace on', async () => {
  const tg = await target().listen()
  try {
    const hook = await http(api, 'POST', `/v1/teams/${team.teamId}/webhooks`, {
      token: owner.token, body: { url: tg.url, events: ['journal_entry.created'] }
    })
    assert.equal(hook.status, 201, hook.text)
    const trace = 'abcdef0123456789abcdef0123456789'
    const r = await http(api, 'POST', `/v1/teams/${team.teamId}/journal-entries`, {
      token: owner.token, body: { content: 'for the hook' }, headers: { traceparent: `00-${trace}-${PARENT}-01` }
    })
    assert.equal(r.status, 201, r.text)
    // (the earlier tests' entries may reach the new endpoint too, in their own traces)
    const mine = (g) => String(g.headers.traceparent).includes(trace)
    const delivered = await waitFor(() => tg.got.find(mine))
    assert.ok(delivered, `the webhook was delivered in the trace: ${JSON.stringify(tg.got.map((g) => g.headers.traceparent))}`)
    const request = await waitFor(() => serverSpan(trace, '/v1/teams/{teamId}/journal-entries'))
    assert.ok(request)
    // the job's span: quill-worker's, a consumer span whose parent is the request
    const job = await waitFor(() => spansOf(trace).find((s) => s.service === 'quill-worker' && s.kind === 5))
    assert.ok(job, `a job span in ${JSON.stringify(spansOf(trace).map((s) => [s.service, s.name]))}`)
    assert.equal(job.name, 'process webhook.deliver')
    assert.equal(job.parentSpanId, request.spanId)
    assert.equal(job.attrs['quill.job.kind'], 'webhook.deliver')
    assert.equal(job.attrs['messaging.destination.name'], 'webhooks')
    // the post: a client span of the job; the target got a traceparent naming it
    const post = await waitFor(() => spansOf(trace).find((s) => s.service === 'quill-worker' && s.kind === 3 && s.name === 'POST'))
    assert.ok(post)
    assert.equal(post.parentSpanId, job.spanId)
    assert.equal(post.attrs['url.full'], tg.url)
    assert.equal(post.attrs['http.response.status_code'], '204')
    assert.equal(delivered.headers.traceparent, `00-${trace}-${post.spanId}-01`)
    // the job's own database work is in the trace too
    assert.ok(await waitFor(() => spansOf(trace).some((s) => s.service === 'quill-worker' &&
      s.attrs['db.system.name'] === 'postgresql' && s.parentSpanId === job.spanId)))
    // the job row kept the trace id, for log searches
    assert.ok(Number(sql(`SELECT count(*) FROM jobs WHERE trace_id = '${trace}'`)) >= 1)
    // a redelivery is a job the request enqueues itself: its span is a child of that request
    const list = await http(api, 'GET', `/v1/teams/${team.teamId}/webhooks/${hook.body.webhookId}/deliveries`, { token: owner.token })
    const again = 'fedcba9876543210fedcba9876543210'
    const rd = await http(api, 'POST',
      `/v1/teams/${team.teamId}/webhooks/${hook.body.webhookId}/deliveries/${list.body.items[0].deliveryId}/redeliver`,
      { token: owner.token, headers: { traceparent: `00-${again}-${PARENT}-01` } })
    assert.equal(rd.status, 202, rd.text)
    const redeliver = await waitFor(() => spansOf(again).find((s) => s.kind === 2))
    const rejob = await waitFor(() => spansOf(again).find((s) => s.kind === 5))
    assert.ok(redeliver && rejob)
    assert.equal(rejob.parentSpanId, redeliver.spanId)
    assert.ok(await metric(worker.url, 'quill_trace_spans_exported_total') > 0)
  } finally {
    await tg.close()
  }
})

test('with the collector stopped, requests still answer and the dropped-span counter grows', async () => {
  // a collector that hangs: the exporter waits in one post while the queue fills
  const slow = receiver()
  slow.mode = 'hang'
  await slow.listen()
  const h = await start('quill-api', {
    ...LIMITS,
    ...otel(slow, { OTEL_BSP_MAX_QUEUE_SIZE: '8', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4', OTEL_EXPORTER_OTLP_TIMEOUT: '2000' })
  })
  try {
    let sent = 0
    const full = await waitFor(async () => {
      for (let i = 0; i < 20; i++, sent++) {
        const r = await http(h, 'GET', '/livez')
        assert.equal(r.status, 200)
      }
      return await metric(h.url, 'quill_trace_spans_dropped_total') > 0
    }, { timeout: 20000, every: 10 })
    assert.ok(full, `spans were dropped after ${sent} requests`)
    assert.ok(slow.posts >= 1, 'the exporter reached the hanging collector')
  } finally {
    await stop(h)
    await slow.close()
  }
  // the collector down altogether: quill-api's own receiver stops answering connections
  const before = await metric(api.url, 'quill_trace_spans_dropped_total')
  const port = rx.port
  await rx.close()
  try {
    const grew = await waitFor(async () => {
      for (let i = 0; i < 10; i++) {
        const r = await http(api, 'GET', '/v1/me', { token: owner.token })
        assert.equal(r.status, 200)
      }
      return await metric(api.url, 'quill_trace_spans_dropped_total') > before
    }, { timeout: 20000, every: 100 })
    assert.ok(grew, 'the dropped-span counter grew')
    assert.ok(await metric(api.url, 'quill_trace_export_errors_total') > 0)
  } finally {
    rx = receiver()
    await rx.listen(port) // the next tests (and the after hook) find it again
  }
})

test('bad OTEL_* values stop both binaries with a line naming each variable', async () => {
  const env = {
    DATABASE_URL: DB,
    QUILL_SECRET: SECRET,
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
    OTEL_TRACES_SAMPLER: 'traceidratio',
    OTEL_TRACES_SAMPLER_ARG: 'most',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc'
  }
  for (const bin of ['quill-api', 'quill-worker']) {
    const r = await run(`${BIN}/${bin}`, [], env)
    assert.equal(r.code, 2, `${bin}: ${r.stderr}`)
    assert.match(r.stderr, new RegExp(`^${bin}: OTEL_TRACES_SAMPLER_ARG: expected a ratio from 0 to 1`, 'm'))
    assert.match(r.stderr, new RegExp(`^${bin}: OTEL_EXPORTER_OTLP_PROTOCOL: .*http/json`, 'm'))
  }
  const url = await run(`${BIN}/quill-api`, [], { ...env, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_TRACES_SAMPLER_ARG: '0.5', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'collector:4318' })
  assert.equal(url.code, 2)
  assert.match(url.stderr, /OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: expected an http:\/\/ or https:\/\/ URL/)
})
