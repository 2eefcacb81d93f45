// Revocation on every instance: two quill-api processes share the database; a token
// revoked through one must stop working on the other within a second, even though both
// cache principals in memory (LISTEN/NOTIFY invalidation).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { start, stop, http, sleep, signup, makeTeam, addMember, makeKey, PASSWORD, pg, waitFor } from './lib.mjs'

let a, b
before(async () => {
  const env = { QUILL_AUTH_IP_LIMIT: '100000', QUILL_RATE_LIMIT: '100000' }
  a = await start('quill-api', env)
  b = await start('quill-api', env)
})
after(async () => { await stop(a); await stop(b) })

// Poll b until the request answers `status` (what the revocation makes of it: 401 for a dead
// credential, 404 for a team the caller left), or give up after 1 s.  Until then it must keep
// answering 200: any other answer fails at once.  Returns the ms it took, or null.
async function revokedWithin (fn, status, ms = 1000) {
  const t0 = Date.now()
  while (Date.now() - t0 < ms) {
    const r = await fn()
    if (r.status === status) return Date.now() - t0
    assert.equal(r.status, 200, `before the revocation arrives: ${r.text}`)
    await sleep(10)
  }
  return null
}

test('logout on one instance revokes the session on the other within a second', async () => {
  const u = await signup(a)
  for (let i = 0; i < 3; i++) assert.equal((await http(b, 'GET', '/v1/me', { token: u.token })).status, 200) // now cached on b
  assert.equal((await http(a, 'POST', '/v1/auth/logout', { token: u.token })).status, 204)
  const ms = await revokedWithin(() => http(b, 'GET', '/v1/me', { token: u.token }), 401)
  assert.ok(ms !== null, 'b still accepts the logged-out token')
})

test('password change on one instance revokes other sessions on the other', async () => {
  const u = await signup(a)
  const other = (await http(b, 'POST', '/v1/auth/login', { body: { email: u.email, password: PASSWORD } })).body.session.token
  assert.equal((await http(b, 'GET', '/v1/me', { token: other })).status, 200)
  assert.equal((await http(a, 'POST', '/v1/me/password', { token: u.token, body: { currentPassword: PASSWORD, newPassword: 'a different password' } })).status, 204)
  assert.ok(await revokedWithin(() => http(b, 'GET', '/v1/me', { token: other }), 401) !== null)
  assert.equal((await http(b, 'GET', '/v1/me', { token: u.token })).status, 200)
})

test('deleting an API key on one instance stops it on the other', async () => {
  const u = await signup(a)
  const t = await makeTeam(a, u.token)
  const k = await makeKey(a, u.token, t.teamId)
  assert.equal((await http(b, 'GET', `/v1/teams/${t.teamId}`, { token: k.key })).status, 200)
  assert.equal((await http(a, 'DELETE', `/v1/teams/${t.teamId}/api-keys/${k.apiKeyId}`, { token: u.token })).status, 204)
  assert.ok(await revokedWithin(() => http(b, 'GET', `/v1/teams/${t.teamId}`, { token: k.key }), 401) !== null)
})

test('removing a member on one instance takes their access away on the other', async () => {
  const o = await signup(a); const m = await signup(a)
  const t = await makeTeam(a, o.token)
  await addMember(a, o.token, t.teamId, m.email, 'member')
  assert.equal((await http(b, 'GET', `/v1/teams/${t.teamId}`, { token: m.token })).status, 200)
  assert.equal((await http(a, 'DELETE', `/v1/teams/${t.teamId}/members/${m.user.userId}`, { token: o.token })).status, 204)
  assert.ok(await revokedWithin(() => http(b, 'GET', `/v1/teams/${t.teamId}`, { token: m.token }), 404) !== null)
  // and adding them back is visible on the other instance too
  await addMember(a, o.token, t.teamId, m.email, 'viewer')
  assert.ok(await waitFor(async () => (await http(b, 'GET', `/v1/teams/${t.teamId}`, { token: m.token })).status === 200, { timeout: 1000, every: 10 }))
})

test('after a database restart (listener reconnects) revocation still reaches every instance', async () => {
  const u = await signup(a)
  assert.equal((await http(b, 'GET', '/v1/me', { token: u.token })).status, 200)
  await pg('stop')
  await pg('start')
  // sessions reconnect; the cache was flushed because notifications may have been missed
  assert.ok(await waitFor(async () => (await http(b, 'GET', '/v1/me', { token: u.token })).status === 200, { timeout: 10000 }))
  await sleep(500) // give the listener time to LISTEN again
  assert.equal((await http(a, 'POST', '/v1/auth/logout', { token: u.token })).status, 204)
  assert.ok(await revokedWithin(() => http(b, 'GET', '/v1/me', { token: u.token }), 401) !== null)
})
