// Helpers for the change-feed tests (sync.test.mjs, stream.test.mjs): writes of every kind,
// delta sync with a client's replica, and two stream readers: a raw one that sees every byte
// (comments too) and whether the chunked body ended cleanly or the connection was cut, and
// a real SSE client (the `eventsource` package, which reconnects with Last-Event-ID itself).
import assert from 'node:assert/strict'
import { EventSource } from 'eventsource'
import { http, sleep, waitFor, signup, makeTeam, addMember, makeKey } from './lib.mjs'

export { EventSource }
export const ENV = { QUILL_AUTH_IP_LIMIT: '100000', QUILL_RATE_LIMIT: '100000' }

export const problem = (r, status, code) => {
  assert.equal(r.status, status, r.text)
  assert.equal(r.body.code, code, r.text)
}

// ---- writes ---------------------------------------------------------------------------------

export async function ok (p, status = 201) {
  const r = await p
  assert.equal(r.status, status, r.text)
  return r.body
}
const E = (tid) => `/v1/teams/${tid}/journal-entries`
export const addEntry = (h, token, tid, content = 'entry') => ok(http(h, 'POST', E(tid), { token, body: { content } }))
export const editEntry = (h, token, tid, id, content) => ok(http(h, 'PATCH', `${E(tid)}/${id}`, { token, body: { content } }), 200)
export const dropEntry = (h, token, tid, id) => ok(http(h, 'DELETE', `${E(tid)}/${id}`, { token }), 204)
export const addPrompt = (h, token, tid, text) => ok(http(h, 'POST', `/v1/teams/${tid}/prompts`, { token, body: { text, category: 'sync' } }))
export const dropPrompt = (h, token, tid, id) => ok(http(h, 'DELETE', `/v1/teams/${tid}/prompts/${id}`, { token }), 204)
export const setRole = (h, token, tid, uid, role) => ok(http(h, 'PATCH', `/v1/teams/${tid}/members/${uid}`, { token, body: { role } }), 200)
export const dropMember = (h, token, tid, uid) => ok(http(h, 'DELETE', `/v1/teams/${tid}/members/${uid}`, { token }), 204)
export const dropKey = (h, token, tid, id) => ok(http(h, 'DELETE', `/v1/teams/${tid}/api-keys/${id}`, { token }), 204)

// ---- delta sync -----------------------------------------------------------------------------

export const S = (tid) => `/v1/teams/${tid}/sync`

export async function syncPage (h, token, tid, { since, limit } = {}) {
  const q = new URLSearchParams()
  if (since !== undefined) q.set('since', since)
  if (limit !== undefined) q.set('limit', String(limit))
  const r = await http(h, 'GET', `${S(tid)}${q.size ? '?' + q : ''}`, { token })
  assert.equal(r.status, 200, r.text)
  assert.deepEqual(Object.keys(r.body).sort(), ['changes', 'hasMore', 'nextCursor'])
  assert.equal(typeof r.body.nextCursor, 'string')
  assert.equal(typeof r.body.hasMore, 'boolean')
  return r.body
}

// Every page from `since` (a snapshot without it) until hasMore is false.
export async function syncAll (h, token, tid, { since, limit } = {}) {
  const pages = []
  let cursor = since
  for (;;) {
    const p = await syncPage(h, token, tid, { since: cursor, limit })
    pages.push(p)
    cursor = p.nextCursor
    if (!p.hasMore) break
    assert.ok(pages.length < 1000, 'the pages end')
  }
  return { pages, items: pages.flatMap((p) => p.changes), cursor }
}

export const key = (c) => `${c.type}:${c.id}`

// A client's replica: upserts put the thing's state, deletes remove it.
export function apply (replica, items) {
  for (const c of items) {
    assert.ok(['journalEntry', 'prompt', 'member'].includes(c.type), JSON.stringify(c))
    if (c.operation === 'upsert') {
      assert.ok(c.data && typeof c.data === 'object', JSON.stringify(c))
      replica.set(key(c), c.data)
    } else {
      assert.equal(c.operation, 'delete', JSON.stringify(c))
      assert.equal(c.data, null, 'a tombstone carries no data')
      replica.delete(key(c))
    }
  }
  return replica
}
export const asObject = (replica) => Object.fromEntries([...replica].sort(([a], [b]) => a < b ? -1 : 1))

// Cursors order as the log does: base64url of a version and a type byte, then the position.
export function cursorPos (c) {
  const b = Buffer.from(c, 'base64url')
  assert.equal(b.length, 18, `a delta cursor: ${c}`)
  return b.readBigUInt64BE(2) * (1n << 64n) + b.readBigUInt64BE(10)
}
// The last of each thing's items, in their order: what a delta page after the same
// position gives, since a page reads each thing once, at its last change (items are
// [type, id] pairs, or anything with a key of them).
export function lastOfEach (items, key = (x) => `${x[0]} ${x[1]}`) {
  return items.filter((x, i) => !items.slice(i + 1).some((y) => key(y) === key(x)))
}

export function assertIncreasing (ids) {
  for (let i = 1; i < ids.length; i++) assert.ok(cursorPos(ids[i - 1]) < cursorPos(ids[i]), `event ids in log order: ${ids[i - 1]} then ${ids[i]}`)
}

// ---- live streams ---------------------------------------------------------------------------

export const streamPath = (tid) => `/v1/teams/${tid}/sync/stream`

// Feed SSE text into s: events (with data), comments, the retry field, and the last id
// (which, as in browsers, an id line without data sets too).
function sseParser (s) {
  let buf = ''
  let ev = { id: undefined, event: undefined, data: [] }
  return (text) => {
    buf += text
    let i
    while ((i = buf.search(/\r\n|\n|\r/)) >= 0) {
      const line = buf.slice(0, i)
      buf = buf.slice(buf[i] === '\r' && buf[i + 1] === '\n' ? i + 2 : i + 1)
      if (line === '') {
        if (ev.data.length) s.events.push({ id: ev.id, event: ev.event ?? 'message', data: JSON.parse(ev.data.join('\n')), at: Date.now() })
        if (ev.id !== undefined) s.lastId = ev.id
        ev = { id: undefined, event: undefined, data: [] }
        continue
      }
      if (line[0] === ':') { s.comments.push({ text: line.slice(1).trim(), at: Date.now() }); continue }
      const c = line.indexOf(':')
      const field = c < 0 ? line : line.slice(0, c)
      const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '')
      if (field === 'id') ev.id = value
      else if (field === 'event') ev.event = value
      else if (field === 'data') ev.data.push(value)
      else if (field === 'retry') s.retry = Number(value)
    }
  }
}

// A raw stream reader: resolves once the head is in.  s.ended resolves with {clean} when the
// body ends: clean when the chunked body was terminated, not when the connection was cut.
export async function openStream (h, token, tid, { lastEventId, url, since } = {}) {
  const ac = new AbortController()
  const headers = { accept: 'text/event-stream' }
  if (token) headers.authorization = `Bearer ${token}`
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId
  const query = since !== undefined ? `?since=${encodeURIComponent(since)}` : ''
  const res = await fetch((url ?? h.url) + streamPath(tid) + query, { headers, signal: ac.signal })
  const s = { status: res.status, headers: res.headers, events: [], comments: [], retry: null, text: '', lastId: undefined, endedAt: null }
  s.close = () => ac.abort()
  if (res.status !== 200) {
    s.text = await res.text()
    try { s.body = JSON.parse(s.text) } catch {}
    s.ended = Promise.resolve({ clean: true })
    return s
  }
  const feed = sseParser(s)
  s.ended = (async () => {
    const reader = res.body.getReader()
    const dec = new TextDecoder()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        const t = dec.decode(value, { stream: true })
        s.text += t
        feed(t)
      }
      return { clean: true }
    } catch (error) {
      return { clean: false, error }
    } finally {
      s.endedAt = Date.now()
    }
  })()
  s.wait = (pred, timeout = 5000) => waitFor(() => pred(s), { timeout, every: 10 })
  s.waitEvents = (n, timeout = 5000) => s.wait(() => s.events.length >= n, timeout)
  s.hello = () => s.wait(() => s.comments.some((c) => c.text === 'connected'))
  return s
}

// Open a stream and wait for its hello.
export async function openLive (h, token, tid, opts) {
  const s = await openStream(h, token, tid, opts)
  assert.equal(s.status, 200, s.text)
  assert.ok(await s.hello(), 'the hello came')
  return s
}

// Resolve with the stream's end, or with null when it is still open after ms.
export const endedWithin = (s, ms) => Promise.race([s.ended, sleep(ms).then(() => null)])

// A real SSE client.  Every request it makes is recorded with the Last-Event-ID it sent.
export function eventSource (url, token) {
  const c = { events: [], requests: [], errors: [], opens: 0 }
  c.es = new EventSource(url, {
    fetch: (input, init) => {
      c.requests.push({ at: Date.now(), lastEventId: init.headers['Last-Event-ID'] ?? null })
      return fetch(input, { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } })
    }
  })
  c.es.addEventListener('change', (e) => c.events.push({ id: e.lastEventId, item: JSON.parse(e.data), at: Date.now() }))
  c.es.addEventListener('open', () => { c.opens++ })
  c.es.addEventListener('error', (e) => c.errors.push({ code: e.code, message: e.message, state: c.es.readyState, at: Date.now() }))
  c.waitEvents = (n, timeout = 5000) => waitFor(() => c.events.length >= n, { timeout, every: 10 })
  c.waitOpens = (n, timeout = 5000) => waitFor(() => c.opens >= n, { timeout, every: 10 })
  c.close = () => c.es.close()
  return c
}

// ---- teams ----------------------------------------------------------------------------------

/*
 * Wait until the instance heard the revocations of the writes made through it before: a
 * stream opened right after its user's memberships changed may be ended once by that
 * change's notification (its handler cannot tell whether it checked the credential before
 * or after it; the client reconnects).  A throwaway API key's stream ends when the key's
 * deletion is heard, and one instance's notifications arrive in order.
 */
export async function settle (h, owner, tid) {
  const k = await makeKey(h, owner.token, tid, 'viewer')
  const s = await openLive(h, k.key, tid)
  await dropKey(h, owner.token, tid, k.apiKeyId)
  assert.ok(await endedWithin(s, 5000), 'the barrier stream ended')
}

// A team with an owner, a viewer and an outsider.
export async function fixture (h) {
  const owner = await signup(h)
  const viewer = await signup(h)
  const outsider = await signup(h)
  const team = await makeTeam(h, owner.token)
  await addMember(h, owner.token, team.teamId, viewer.email, 'viewer')
  await settle(h, owner, team.teamId)
  return { owner, viewer, outsider, tid: team.teamId }
}
