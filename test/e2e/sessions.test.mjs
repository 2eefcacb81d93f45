// The sessions list and its revocations over real HTTP, across two quill-api processes that
// share the database: a session ended through one stops working on the other within a second,
// although both cache principals in memory (LISTEN/NOTIFY invalidation, as in
// revocation.test.mjs).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { start, stop, http, sleep, signup, makeTeam, makeKey, sql, PASSWORD } from './lib.mjs'

let a, b
before(async () => {
  const env = { QUILL_AUTH_IP_LIMIT: '100000', QUILL_RATE_LIMIT: '100000' }
  a = await start('quill-api', env)
  b = await start('quill-api', env)
})
after(async () => { await stop(a); await stop(b) })

// Poll until the request answers 401, or give up after 1 s; until then it must keep answering
// 200.  Returns the ms it took, or null.
async function revokedWithin (fn, ms = 1000) {
  const t0 = Date.now()
  while (Date.now() - t0 < ms) {
    const r = await fn()
    if (r.status === 401) return Date.now() - t0
    assert.equal(r.status, 200, `before the revocation arrives: ${r.text}`)
    await sleep(10)
  }
  return null
}

const login = async (h, email, agent) => {
  const r = await http(h, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD }, headers: { 'user-agent': agent } })
  assert.equal(r.status, 200, r.text)
  return r.body.session.token
}

test('the list shows each session with its device, address and times, and which is current', async () => {
  const u = await signup(a)
  const phone = await login(b, u.email, 'QuillPhone/2.1 (iOS)')
  const laptop = await login(a, u.email, 'Mozilla/5.0 (X11; Linux)')
  const r = await http(b, 'GET', '/v1/me/sessions', { token: phone })
  assert.equal(r.status, 200, r.text)
  assert.equal(r.headers.get('cache-control'), 'no-store')
  assert.equal(r.body.items.length, 3)
  assert.equal(r.body.nextCursor, null)
  const [newest, middle, oldest] = r.body.items
  assert.equal(newest.userAgent, 'Mozilla/5.0 (X11; Linux)')
  assert.equal(newest.current, false)
  assert.equal(middle.userAgent, 'QuillPhone/2.1 (iOS)')
  assert.equal(middle.current, true)
  assert.equal(oldest.current, false)
  for (const s of r.body.items) {
    assert.equal(s.ip, '127.0.0.1')
    assert.ok(Date.parse(s.createdAt) <= Date.parse(s.lastUsedAt) + 1)
    assert.ok(Date.parse(s.expiresAt) > Date.now())
  }
  // newest first, in pages
  const p1 = await http(a, 'GET', '/v1/me/sessions?limit=2', { token: laptop })
  assert.equal(p1.body.items.length, 2)
  assert.equal(p1.body.items[0].current, true)
  const p2 = await http(a, 'GET', `/v1/me/sessions?limit=2&cursor=${p1.body.nextCursor}`, { token: laptop })
  assert.deepEqual(p2.body.items.map((s) => s.sessionId), [oldest.sessionId])
  assert.equal(p2.body.nextCursor, null)
  assert.equal((await http(a, 'GET', '/v1/me/sessions?limit=0', { token: laptop })).status, 422)
  // recording the last use is not a write per request: at most one a minute per session
  const before = sql(`SELECT last_seen_at FROM sessions WHERE session_id = '${newest.sessionId}'`)
  for (let i = 0; i < 5; i++) assert.equal((await http(a, 'GET', '/v1/me', { token: laptop })).status, 200)
  assert.equal(sql(`SELECT last_seen_at FROM sessions WHERE session_id = '${newest.sessionId}'`), before)
})

test('a session ended through one instance stops working on the other at once', async () => {
  const u = await signup(a)
  const other = await login(b, u.email, 'second device')
  for (let i = 0; i < 3; i++) assert.equal((await http(b, 'GET', '/v1/me', { token: other })).status, 200) // cached on b
  const list = await http(a, 'GET', '/v1/me/sessions', { token: u.token })
  const target = list.body.items.find((s) => s.userAgent === 'second device')
  assert.equal((await http(a, 'DELETE', `/v1/me/sessions/${target.sessionId}`, { token: u.token })).status, 204)
  assert.ok(await revokedWithin(() => http(b, 'GET', '/v1/me', { token: other })) !== null, 'b still accepts the ended session')
  assert.equal((await http(b, 'GET', '/v1/me', { token: u.token })).status, 200)
  // gone from the list; ending it again (or someone else's) finds nothing
  const after = await http(a, 'GET', '/v1/me/sessions', { token: u.token })
  assert.equal(after.body.items.some((s) => s.sessionId === target.sessionId), false)
  const again = await http(a, 'DELETE', `/v1/me/sessions/${target.sessionId}`, { token: u.token })
  assert.equal(again.status, 404)
  const v = await signup(a)
  const theirs = (await http(a, 'GET', '/v1/me/sessions', { token: v.token })).body.items[0].sessionId
  assert.equal((await http(a, 'DELETE', `/v1/me/sessions/${theirs}`, { token: u.token })).status, 404)
  assert.equal((await http(a, 'GET', '/v1/me', { token: v.token })).status, 200)
  assert.equal((await http(a, 'DELETE', '/v1/me/sessions/not-a-uuid', { token: u.token })).status, 422)
  // audited on the account's chain
  assert.equal(sql(`SELECT target_id FROM audit_log WHERE action = 'session.revoke' AND actor = 'User:${u.user.userId}'`), target.sessionId)
})

test('ending every other session keeps the current one, on every instance', async () => {
  const u = await signup(a)
  const others = [await login(a, u.email, 'x'), await login(b, u.email, 'y')]
  for (const t of others) assert.equal((await http(b, 'GET', '/v1/me', { token: t })).status, 200)
  assert.equal((await http(a, 'DELETE', '/v1/me/sessions', { token: u.token })).status, 204)
  for (const t of others) assert.ok(await revokedWithin(() => http(b, 'GET', '/v1/me', { token: t })) !== null)
  assert.equal((await http(b, 'GET', '/v1/me', { token: u.token })).status, 200)
  const list = await http(b, 'GET', '/v1/me/sessions', { token: u.token })
  assert.equal(list.body.items.length, 1)
  assert.equal(list.body.items[0].current, true)
})

test('API keys have no sessions, and cookie writes need the CSRF token', async () => {
  const u = await signup(a)
  const t = await makeTeam(a, u.token)
  const k = await makeKey(a, u.token, t.teamId)
  assert.equal((await http(a, 'GET', '/v1/me/sessions', { token: k.key })).status, 403)
  assert.equal((await http(a, 'DELETE', '/v1/me/sessions', { token: k.key })).status, 403)
  const cookie = u.cookie.split(';')[0]
  assert.equal((await http(a, 'GET', '/v1/me/sessions', { headers: { cookie } })).status, 200)
  assert.equal((await http(a, 'DELETE', '/v1/me/sessions', { headers: { cookie } })).status, 403)
  assert.equal((await http(a, 'DELETE', '/v1/me/sessions', { headers: { cookie, 'x-csrf-token': u.csrf } })).status, 204)
  assert.equal((await http(a, 'GET', '/v1/me/sessions')).status, 401)
})
