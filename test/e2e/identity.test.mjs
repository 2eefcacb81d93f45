// Accounts, sessions, teams, members, API keys and the audit log over real HTTP, including
// the full authorization matrix and a scan of the logs for secrets.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { start, stop, http, raw, run, sql, sleep, signup, makeTeam, addMember, makeKey, uniq, psqlSession, waitFor, inTurn, teamRow, teamChain, PASSWORD, BIN, DB } from './lib.mjs'

let api
const secrets = new Set() // every password, token, key and email used: none may be logged
before(async () => { api = await start('quill-api', { QUILL_AUTH_IP_LIMIT: '100000', QUILL_RATE_LIMIT: '100000' }) })
after(async () => {
  await stop(api)
})

function problem (r, status, code) {
  assert.equal(r.status, status, r.text)
  assert.equal(r.body.code, code, r.text)
  assert.match(r.headers.get('content-type'), /application\/problem\+json/)
}

test('signup answers 201 with the user and a session; emails are unique case-insensitively', async () => {
  const email = `${uniq('Sig')}@Example.COM`
  const r = await http(api, 'POST', '/v1/auth/signup', { body: { email, password: PASSWORD, displayName: 'Sig' } })
  assert.equal(r.status, 201, r.text)
  assert.equal(r.body.user.email, email.toLowerCase())
  assert.match(r.body.user.userId, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  assert.match(r.body.session.token, /^qs_[A-Za-z0-9_-]{43}$/)
  assert.ok(Date.parse(r.body.session.expiresAt) > Date.now())
  assert.match(r.headers.get('set-cookie'), /^quill_session=qs_[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/)
  assert.equal(r.headers.get('cache-control'), 'no-store')
  secrets.add(email.toLowerCase()).add(r.body.session.token)
  const taken = await http(api, 'POST', '/v1/auth/signup', { body: { email: email.toUpperCase(), password: PASSWORD, displayName: 'Again' } })
  problem(taken, 409, 'email_taken')
  assert.equal(taken.headers.get('cache-control'), 'no-store')
})

test('signup validates every field and refuses unknown ones', async () => {
  const r = await http(api, 'POST', '/v1/auth/signup', { body: { email: 'nope', password: 'short', displayName: '' } })
  problem(r, 422, 'validation_failed')
  assert.deepEqual(r.body.errors.map((e) => e.field).sort(), ['displayName', 'email', 'password'])
  const u = await http(api, 'POST', '/v1/auth/signup', { body: { email: 'a@b.co', password: PASSWORD, displayName: 'x', admin: true } })
  problem(u, 422, 'validation_failed')
  assert.equal(u.body.errors[0].field, 'admin')
  assert.equal(u.body.errors[0].code, 'unknown_field')
  problem(await http(api, 'POST', '/v1/auth/signup', { body: { email: 7, password: PASSWORD, displayName: 'x' } }), 422, 'validation_failed')
  problem(await http(api, 'POST', '/v1/auth/signup', { raw: '{"email":', headers: { 'content-type': 'application/json' } }), 400, 'malformed_json')
  // A member given twice is ambiguous (parsers disagree on which one wins): refused, not guessed.
  const dup = await http(api, 'POST', '/v1/auth/signup', { raw: '{"email":"dup@x.io","email":"other@x.io","password":"correct horse battery","displayName":"n"}', headers: { 'content-type': 'application/json' } })
  problem(dup, 422, 'validation_failed')
  assert.deepEqual(dup.body.errors.map((e) => [e.field, e.code]), [['email', 'duplicate_field']])
  problem(await http(api, 'POST', '/v1/auth/signup', { raw: '[1,2]', headers: { 'content-type': 'application/json' } }), 422, 'validation_failed')
  problem(await http(api, 'POST', '/v1/auth/signup', { raw: '{}', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type')
  problem(await http(api, 'POST', '/v1/auth/signup', { raw: '{"email":"a\\u0000b@x.io","password":"correct horse battery","displayName":"n"}', headers: { 'content-type': 'application/json' } }), 422, 'validation_failed')
  const long = await http(api, 'POST', '/v1/auth/signup', { body: { email: 'long@x.io', password: 'x'.repeat(129), displayName: 'n' } })
  problem(long, 422, 'validation_failed')
})

test('login: right password 200; wrong password and unknown email answer alike', async () => {
  const u = await signup(api)
  secrets.add(u.email).add(u.token)
  const ok = await http(api, 'POST', '/v1/auth/login', { body: { email: u.email.toUpperCase(), password: PASSWORD } })
  assert.equal(ok.status, 200, ok.text)
  assert.equal(ok.body.user.userId, u.user.userId)
  secrets.add(ok.body.session.token)
  const t0 = Date.now()
  const wrong = await http(api, 'POST', '/v1/auth/login', { body: { email: u.email, password: 'not the password at all' } })
  const t1 = Date.now()
  const unknown = await http(api, 'POST', '/v1/auth/login', { body: { email: `${uniq('ghost')}@example.com`, password: 'not the password at all' } })
  const t2 = Date.now()
  problem(wrong, 401, 'invalid_credentials')
  problem(unknown, 401, 'invalid_credentials')
  // every answer to login is no-store, the refusals too (api.md, security headers)
  assert.equal(wrong.headers.get('cache-control'), 'no-store')
  assert.equal(unknown.headers.get('cache-control'), 'no-store')
  const strip = (b) => ({ ...b, traceId: '' })
  assert.deepEqual(strip(wrong.body), strip(unknown.body))
  // both run argon2id once; allow generous noise on a shared machine
  const a = t1 - t0; const b = t2 - t1
  assert.ok(Math.abs(a - b) < Math.max(a, b) * 0.8 + 50, `wrong ${a} ms, unknown ${b} ms`)
})

test('five failed logins lock the account with 429 and Retry-After', async () => {
  const u = await signup(api)
  secrets.add(u.email)
  for (let i = 0; i < 5; i++) {
    problem(await http(api, 'POST', '/v1/auth/login', { body: { email: u.email, password: 'wrong password ' + i } }), 401, 'invalid_credentials')
  }
  const locked = await http(api, 'POST', '/v1/auth/login', { body: { email: u.email, password: PASSWORD } })
  problem(locked, 429, 'rate_limited')
  const after = Number(locked.headers.get('retry-after'))
  assert.ok(after > 800 && after <= 900, `Retry-After ${after}`)
})

test('overlapping wrong logins for one account are checked five times at most; the rest are 429', async () => {
  // A pool as wide as the burst, so that the twenty logins are in flight together.
  const wide = await start('quill-api', { QUILL_AUTH_IP_LIMIT: '100000', QUILL_RATE_LIMIT: '100000', QUILL_DB_POOL: '20' })
  try {
    const u = await signup(wide)
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      http(wide, 'POST', '/v1/auth/login', { body: { email: u.email, password: 'wrong password ' + i } })))
    const wrong = answers.filter((r) => r.status === 401 && r.body.code === 'invalid_credentials').length
    const limited = answers.filter((r) => r.status === 429 && r.body.code === 'rate_limited').length
    assert.equal(wrong + limited, 20, answers.map((r) => `${r.status} ${r.body?.code}`).join(', '))
    assert.ok(wrong <= 5, `${wrong} wrong passwords were checked`)
    // each checked one is a failure of the account, under its own key; the refused left none
    assert.equal(sql(`SELECT count(*) FROM login_failures WHERE email = 'login:${u.email}'`), String(wrong))
  } finally {
    await stop(wide)
  }
})

test('guesses at the current password count towards the lockout', async () => {
  const u = await signup(api)
  secrets.add(u.email)
  const change = (currentPassword) => http(api, 'POST', '/v1/me/password', { token: u.token, body: { currentPassword, newPassword: 'another long password' } })
  for (let i = 0; i < 5; i++) problem(await change('a guess ' + i), 422, 'validation_failed')
  const limited = await change('a guess 5')
  problem(limited, 429, 'rate_limited')
  assert.ok(Number(limited.headers.get('retry-after')) > 800, limited.headers.get('retry-after'))
  problem(await change(PASSWORD), 429, 'rate_limited')
  problem(await http(api, 'POST', '/v1/auth/login', { body: { email: u.email, password: PASSWORD } }), 429, 'rate_limited')
})

test('logout revokes the token at once', async () => {
  const u = await signup(api)
  assert.equal((await http(api, 'GET', '/v1/me', { token: u.token })).status, 200)
  assert.equal((await http(api, 'POST', '/v1/auth/logout', { token: u.token })).status, 204)
  problem(await http(api, 'GET', '/v1/me', { token: u.token }), 401, 'unauthenticated')
  problem(await http(api, 'GET', '/v1/me'), 401, 'unauthenticated')
  problem(await http(api, 'GET', '/v1/me', { headers: { authorization: 'Basic abc' } }), 401, 'unauthenticated')
  problem(await http(api, 'GET', '/v1/me', { token: 'qs_' + 'A'.repeat(43) }), 401, 'unauthenticated')
})

test('cookie sessions need X-CSRF-Token for writes; bearer tokens do not', async () => {
  const u = await signup(api)
  const cookie = u.cookie.split(';')[0]
  const me = await http(api, 'GET', '/v1/me', { headers: { cookie } })
  assert.equal(me.status, 200)
  problem(await http(api, 'PATCH', '/v1/me', { headers: { cookie }, body: { displayName: 'Cookie' } }), 403, 'forbidden')
  problem(await http(api, 'PATCH', '/v1/me', { headers: { cookie, 'x-csrf-token': 'wrong' }, body: { displayName: 'Cookie' } }), 403, 'forbidden')
  const ok = await http(api, 'PATCH', '/v1/me', { headers: { cookie, 'x-csrf-token': u.csrf }, body: { displayName: 'Cookie' } })
  assert.equal(ok.status, 200)
  assert.equal(ok.body.displayName, 'Cookie')
  assert.equal((await http(api, 'PATCH', '/v1/me', { token: u.token, body: { displayName: 'Bearer' } })).status, 200)
  problem(await http(api, 'POST', '/v1/teams', { headers: { cookie }, body: { name: 'x' } }), 403, 'forbidden')
})

test('GET /v1/me lists teams with roles; PATCH /v1/me renames', async () => {
  const u = await signup(api)
  const t = await makeTeam(api, u.token, 'Zeta team')
  const me = await http(api, 'GET', '/v1/me', { token: u.token })
  assert.equal(me.status, 200)
  assert.deepEqual(me.body.teams, [{ teamId: t.teamId, name: 'Zeta team', role: 'owner' }])
  assert.equal(me.body.email, u.email)
  const p = await http(api, 'PATCH', '/v1/me', { token: u.token, body: { displayName: 'Renamed' } })
  assert.equal(p.body.displayName, 'Renamed')
  assert.ok(Date.parse(p.body.updatedAt) >= Date.parse(p.body.createdAt))
  problem(await http(api, 'PATCH', '/v1/me', { token: u.token, body: { displayName: '' } }), 422, 'validation_failed')
})

test('changing the password revokes every other session', async () => {
  const u = await signup(api)
  const second = (await http(api, 'POST', '/v1/auth/login', { body: { email: u.email, password: PASSWORD } })).body.session.token
  problem(await http(api, 'POST', '/v1/me/password', { token: u.token, body: { currentPassword: 'nope nope nope', newPassword: 'another long password' } }), 422, 'validation_failed')
  assert.equal((await http(api, 'POST', '/v1/me/password', { token: u.token, body: { currentPassword: PASSWORD, newPassword: 'another long password' } })).status, 204)
  secrets.add('another long password')
  assert.equal((await http(api, 'GET', '/v1/me', { token: u.token })).status, 200, 'the current session stays')
  problem(await http(api, 'GET', '/v1/me', { token: second }), 401, 'unauthenticated')
  problem(await http(api, 'POST', '/v1/auth/login', { body: { email: u.email, password: PASSWORD } }), 401, 'invalid_credentials')
  assert.equal((await http(api, 'POST', '/v1/auth/login', { body: { email: u.email, password: 'another long password' } })).status, 200)
})

test('teams: create, get, list, rename, delete', async () => {
  const u = await signup(api)
  const t = await makeTeam(api, u.token, 'Alpha')
  const r = await http(api, 'GET', `/v1/teams/${t.teamId}`, { token: u.token })
  assert.deepEqual(r.body, t)
  const list = await http(api, 'GET', '/v1/teams', { token: u.token })
  assert.deepEqual(list.body, { items: [{ teamId: t.teamId, name: 'Alpha', role: 'owner' }], nextCursor: null })
  const t2 = await makeTeam(api, u.token, 'Beta')
  const p1 = await http(api, 'GET', '/v1/teams?limit=1', { token: u.token })
  assert.equal(p1.body.items.length, 1)
  assert.ok(p1.body.nextCursor)
  const p2 = await http(api, 'GET', `/v1/teams?limit=1&cursor=${p1.body.nextCursor}`, { token: u.token })
  assert.deepEqual(p2.body.items.map((x) => x.teamId), [t2.teamId])
  assert.equal(p2.body.nextCursor, null)
  problem(await http(api, 'GET', '/v1/teams?limit=0', { token: u.token }), 422, 'validation_failed')
  problem(await http(api, 'GET', '/v1/teams?limit=201', { token: u.token }), 422, 'validation_failed')
  problem(await http(api, 'GET', '/v1/teams?cursor=garbage', { token: u.token }), 422, 'validation_failed')
  const renamed = await http(api, 'PATCH', `/v1/teams/${t.teamId}`, { token: u.token, body: { name: 'Alpha 2' } })
  assert.equal(renamed.body.name, 'Alpha 2')
  assert.equal((await http(api, 'DELETE', `/v1/teams/${t.teamId}`, { token: u.token })).status, 204)
  problem(await http(api, 'GET', `/v1/teams/${t.teamId}`, { token: u.token }), 404, 'not_found')
  problem(await http(api, 'GET', '/v1/teams/not-a-uuid', { token: u.token }), 422, 'validation_failed')
})

test('members: add, change role, last owner kept, self-removal, non-members get 404', async () => {
  const owner = await signup(api); const other = await signup(api); const outsider = await signup(api)
  const t = await makeTeam(api, owner.token)
  problem(await http(api, 'POST', `/v1/teams/${t.teamId}/members`, { token: owner.token, body: { email: 'nobody-' + uniq() + '@example.com', role: 'member' } }), 404, 'not_found')
  const m = await addMember(api, owner.token, t.teamId, other.email.toUpperCase(), 'member')
  assert.equal(m.userId, other.user.userId)
  assert.equal(m.role, 'member')
  problem(await http(api, 'POST', `/v1/teams/${t.teamId}/members`, { token: owner.token, body: { email: other.email, role: 'viewer' } }), 409, 'conflict')
  const list = await http(api, 'GET', `/v1/teams/${t.teamId}/members`, { token: other.token })
  assert.equal(list.body.items.length, 2)
  problem(await http(api, 'PATCH', `/v1/teams/${t.teamId}/members/${owner.user.userId}`, { token: owner.token, body: { role: 'admin' } }), 409, 'conflict')
  problem(await http(api, 'DELETE', `/v1/teams/${t.teamId}/members/${owner.user.userId}`, { token: owner.token }), 409, 'conflict')
  const up = await http(api, 'PATCH', `/v1/teams/${t.teamId}/members/${other.user.userId}`, { token: owner.token, body: { role: 'admin' } })
  assert.equal(up.body.role, 'admin')
  // an admin cannot grant owner
  problem(await http(api, 'PATCH', `/v1/teams/${t.teamId}/members/${other.user.userId}`, { token: other.token, body: { role: 'owner' } }), 403, 'forbidden')
  problem(await http(api, 'GET', `/v1/teams/${t.teamId}/members`, { token: outsider.token }), 404, 'not_found')
  assert.equal((await http(api, 'DELETE', `/v1/teams/${t.teamId}/members/${other.user.userId}`, { token: other.token })).status, 204)
  problem(await http(api, 'GET', `/v1/teams/${t.teamId}`, { token: other.token }), 404, 'not_found')
})

test('an admin removed while their membership change waits for the team does not make it', async () => {
  const owner = await signup(api); const admin = await signup(api); const target = await signup(api)
  const t = await makeTeam(api, owner.token)
  await addMember(api, owner.token, t.teamId, admin.email, 'admin')
  await addMember(api, owner.token, t.teamId, target.email, 'viewer')
  const T = `/v1/teams/${t.teamId}`
  const waiting = () => Number(sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))
  // someone holds the team, so both requests below queue for it in the order they came
  const locker = psqlSession()
  locker.write(`BEGIN; SELECT 1 FROM teams WHERE team_id = '${t.teamId}' FOR UPDATE; SELECT 'held';`)
  await waitFor(() => locker.output().includes('held'))
  const removal = http(api, 'DELETE', `${T}/members/${admin.user.userId}`, { token: owner.token })
  await waitFor(() => waiting() === 1)
  const promotion = http(api, 'PATCH', `${T}/members/${target.user.userId}`, { token: admin.token, body: { role: 'admin' } })
  await waitFor(() => waiting() === 2)
  locker.write('COMMIT;')
  await locker.close()
  assert.equal((await removal).status, 204)
  problem(await promotion, 404, 'not_found')
  const m = await http(api, 'GET', `${T}/members`, { token: owner.token })
  assert.equal(m.body.items.find((x) => x.userId === target.user.userId).role, 'viewer')
})

test('an owner demoted while their team delete waits for the team does not delete it', async () => {
  const a = await signup(api); const b = await signup(api)
  const t = await makeTeam(api, a.token)
  await addMember(api, a.token, t.teamId, b.email, 'owner')
  const T = `/v1/teams/${t.teamId}`
  const [demotion, deletion] = await inTurn(teamRow(t.teamId),
    () => http(api, 'PATCH', `${T}/members/${a.user.userId}`, { token: b.token, body: { role: 'member' } }),
    () => http(api, 'DELETE', T, { token: a.token }))
  assert.equal(demotion.status, 200)
  problem(deletion, 403, 'forbidden')
  assert.equal((await http(api, 'GET', T, { token: b.token })).status, 200)
})

test('an admin demoted while their team rename waits for the team does not rename it', async () => {
  const owner = await signup(api); const admin = await signup(api)
  const t = await makeTeam(api, owner.token)
  await addMember(api, owner.token, t.teamId, admin.email, 'admin')
  const T = `/v1/teams/${t.teamId}`
  const [demotion, rename] = await inTurn(teamRow(t.teamId),
    () => http(api, 'PATCH', `${T}/members/${admin.user.userId}`, { token: owner.token, body: { role: 'viewer' } }),
    () => http(api, 'PATCH', T, { token: admin.token, body: { name: 'Renamed late' } }))
  assert.equal(demotion.status, 200)
  problem(rename, 403, 'forbidden')
  assert.equal((await http(api, 'GET', T, { token: owner.token })).body.name, t.name)
})

test('erasure after a promotion and an owner leaving, all waiting for the team, keeps it an owner', async () => {
  const o = await signup(api); const e = await signup(api)
  const t = await makeTeam(api, o.token)
  await addMember(api, o.token, t.teamId, e.email, 'member')
  const T = `/v1/teams/${t.teamId}`
  const [promotion, leaving, r] = await inTurn(teamRow(t.teamId),
    () => http(api, 'PATCH', `${T}/members/${e.user.userId}`, { token: o.token, body: { role: 'owner' } }),
    () => http(api, 'DELETE', `${T}/members/${o.user.userId}`, { token: o.token }),
    // reads its memberships (a member here: the promotion has not committed) and waits,
    () => http(api, 'DELETE', '/v1/me', { token: e.token, body: { password: PASSWORD } }))
  assert.equal(promotion.status, 200)
  assert.equal(leaving.status, 204)
  assert.equal(r.status, 409, r.text)
  assert.deepEqual(r.body.errors, [{ field: t.teamId, code: 'last_owner', message: t.name }])
  assert.equal(sql(`SELECT string_agg(role, ',') FROM team_members WHERE team_id = '${t.teamId}'`), 'owner')
})

test('an admin removed while their new API key waits for the team gets no key', async () => {
  const owner = await signup(api); const admin = await signup(api)
  const t = await makeTeam(api, owner.token)
  await addMember(api, owner.token, t.teamId, admin.email, 'admin')
  const T = `/v1/teams/${t.teamId}`
  const [removal, r] = await inTurn(teamRow(t.teamId),
    () => http(api, 'DELETE', `${T}/members/${admin.user.userId}`, { token: owner.token }),
    () => http(api, 'POST', `${T}/api-keys`, { token: admin.token, body: { name: 'late', role: 'member' } }))
  assert.equal(removal.status, 204)
  if (r.body?.key) secrets.add(r.body.key)
  problem(r, 404, 'not_found')
  assert.deepEqual((await http(api, 'GET', `${T}/api-keys`, { token: owner.token })).body.items, [])
})

test('an admin removed while their key revocation waits for the team\'s audit chain does not revoke it', async () => {
  const owner = await signup(api); const admin = await signup(api)
  const t = await makeTeam(api, owner.token)
  await addMember(api, owner.token, t.teamId, admin.email, 'admin')
  const k = await makeKey(api, owner.token, t.teamId)
  secrets.add(k.key)
  const T = `/v1/teams/${t.teamId}`
  // the removal queues on the chain holding the team; the revocation, decided before it
  // commits, queues behind it
  const [removal, r] = await inTurn(teamChain(t.teamId),
    () => http(api, 'DELETE', `${T}/members/${admin.user.userId}`, { token: owner.token }),
    () => http(api, 'DELETE', `${T}/api-keys/${k.apiKeyId}`, { token: admin.token }))
  assert.equal(removal.status, 204)
  problem(r, 404, 'not_found')
  assert.equal(r.body.detail, 'No such team.')
  assert.equal((await http(api, 'GET', T, { token: k.key })).status, 200)
})

test('API keys: shown once, act with their role inside their team only, revoked at once', async () => {
  const owner = await signup(api)
  const t = await makeTeam(api, owner.token); const t2 = await makeTeam(api, owner.token)
  const k = await makeKey(api, owner.token, t.teamId, 'viewer')
  secrets.add(k.key)
  assert.match(k.key, /^qk_[A-Za-z0-9_-]{43}$/)
  assert.ok(k.key.startsWith(k.prefix))
  assert.equal(k.lastUsedAt, null)
  const list = await http(api, 'GET', `/v1/teams/${t.teamId}/api-keys`, { token: owner.token })
  assert.equal(list.body.items.length, 1)
  assert.equal(list.body.items[0].key, undefined)
  assert.equal((await http(api, 'GET', `/v1/teams/${t.teamId}`, { token: k.key })).status, 200)
  problem(await http(api, 'GET', `/v1/teams/${t2.teamId}`, { token: k.key }), 404, 'not_found')
  problem(await http(api, 'GET', '/v1/me', { token: k.key }), 403, 'forbidden')
  const used = await http(api, 'GET', `/v1/teams/${t.teamId}/api-keys`, { token: owner.token })
  assert.ok(used.body.items[0].lastUsedAt, 'lastUsedAt is set after use')
  problem(await http(api, 'POST', `/v1/teams/${t.teamId}/api-keys`, { token: owner.token, body: { name: 'x', role: 'admin' } }), 422, 'validation_failed')
  problem(await http(api, 'POST', `/v1/teams/${t.teamId}/api-keys`, { token: owner.token, body: { name: 'x', role: 'member', expiresAt: '2020-01-01T00:00:00Z' } }), 422, 'validation_failed')
  const exp = await http(api, 'POST', `/v1/teams/${t.teamId}/api-keys`, { token: owner.token, body: { name: 'x', role: 'member', expiresAt: '2099-01-01T00:00:00.000Z' } })
  assert.equal(exp.body.expiresAt, '2099-01-01T00:00:00.000Z')
  assert.equal((await http(api, 'DELETE', `/v1/teams/${t.teamId}/api-keys/${k.apiKeyId}`, { token: owner.token })).status, 204)
  problem(await http(api, 'GET', `/v1/teams/${t.teamId}`, { token: k.key }), 401, 'unauthenticated')
  problem(await http(api, 'DELETE', `/v1/teams/${t.teamId}/api-keys/${k.apiKeyId}`, { token: owner.token }), 404, 'not_found')
})

// The authorization matrix: every endpoint of these sections as every kind of caller.
test('authorization matrix: owner, admin, member, viewer, API keys, non-member, anonymous', async () => {
  const owner = await signup(api); const admin = await signup(api); const member = await signup(api)
  const viewer = await signup(api); const outsider = await signup(api); const target = await signup(api)
  const t = await makeTeam(api, owner.token)
  await addMember(api, owner.token, t.teamId, admin.email, 'admin')
  await addMember(api, owner.token, t.teamId, member.email, 'member')
  await addMember(api, owner.token, t.teamId, viewer.email, 'viewer')
  const kMember = (await makeKey(api, owner.token, t.teamId, 'member')).key
  const kViewer = (await makeKey(api, owner.token, t.teamId, 'viewer')).key
  const callers = { owner: owner.token, admin: admin.token, member: member.token, viewer: viewer.token, keyMember: kMember, keyViewer: kViewer, outsider: outsider.token, anonymous: null }
  const T = `/v1/teams/${t.teamId}`
  // [method, path, body, {caller: status}] — statuses from the contract's role table
  const rows = [
    ['GET', T, null, { owner: 200, admin: 200, member: 200, viewer: 200, keyMember: 200, keyViewer: 200, outsider: 404, anonymous: 401 }],
    ['PATCH', T, { name: 'Renamed' }, { owner: 200, admin: 200, member: 403, viewer: 403, keyMember: 403, keyViewer: 403, outsider: 404, anonymous: 401 }],
    ['GET', `${T}/members`, null, { owner: 200, admin: 200, member: 200, viewer: 200, keyMember: 200, keyViewer: 200, outsider: 404, anonymous: 401 }],
    ['POST', `${T}/members`, { email: target.email, role: 'viewer' }, { owner: 'add', admin: 'add', member: 403, viewer: 403, keyMember: 403, keyViewer: 403, outsider: 404, anonymous: 401 }],
    ['PATCH', `${T}/members/${target.user.userId}`, { role: 'member' }, { owner: 'tgt', admin: 'tgt', member: 403, viewer: 403, keyMember: 403, keyViewer: 403, outsider: 404, anonymous: 401 }],
    ['POST', `${T}/api-keys`, { name: 'k', role: 'viewer' }, { owner: 201, admin: 201, member: 403, viewer: 403, keyMember: 403, keyViewer: 403, outsider: 404, anonymous: 401 }],
    ['GET', `${T}/api-keys`, null, { owner: 200, admin: 200, member: 403, viewer: 403, keyMember: 403, keyViewer: 403, outsider: 404, anonymous: 401 }],
    ['GET', `${T}/audit-log`, null, { owner: 200, admin: 200, member: 403, viewer: 403, keyMember: 403, keyViewer: 403, outsider: 404, anonymous: 401 }],
    ['DELETE', `${T}/members/${target.user.userId}`, null, { owner: 'rm', admin: 'rm', member: 403, viewer: 403, keyMember: 403, keyViewer: 403, outsider: 404, anonymous: 401 }],
    ['DELETE', `${T}/api-keys/KEY`, null, { owner: 'delkey', admin: 'delkey', member: 403, viewer: 403, keyMember: 403, keyViewer: 403, outsider: 404, anonymous: 401 }],
    ['DELETE', T, null, { owner: 'last', admin: 403, member: 403, viewer: 403, keyMember: 403, keyViewer: 403, outsider: 404, anonymous: 401 }]
  ]
  // Whether the target is a member is tracked, so that every step that sets it up answers
  // exactly what that state implies.
  let targetIn = false
  const setTarget = async (member) => {
    if (member === targetIn) return
    const r = member
      ? await http(api, 'POST', `${T}/members`, { token: owner.token, body: { email: target.email, role: 'viewer' } })
      : await http(api, 'DELETE', `${T}/members/${target.user.userId}`, { token: owner.token })
    assert.equal(r.status, member ? 201 : 204, r.text)
    targetIn = member
  }
  const failures = []
  for (const [method, path, body, expect] of rows) {
    for (const [who, token] of Object.entries(callers)) {
      let want = expect[who]
      let p = path
      if (want === 'last') continue // the owner deletes the team after the loop
      if (want === 'add') { // the target must not be a member yet
        await setTarget(false)
        want = 201
      }
      if (want === 'tgt' || want === 'rm') {
        await setTarget(true)
        want = want === 'tgt' ? 200 : 204
      }
      if (want === 'delkey' || p.endsWith('/KEY')) {
        const k = await makeKey(api, owner.token, t.teamId, 'viewer')
        p = path.replace('KEY', k.apiKeyId)
        if (want === 'delkey') want = 204
      }
      const r = await http(api, method, p, { token: token ?? undefined, body: body ?? undefined })
      if (r.status !== want) failures.push(`${method} ${path} as ${who}: ${r.status} (want ${want}) ${r.text.slice(0, 120)}`)
      if (p === `${T}/members` && method === 'POST' && r.status === 201) targetIn = true
      if (p === `${T}/members/${target.user.userId}` && method === 'DELETE' && r.status === 204) targetIn = false
    }
  }
  assert.deepEqual(failures, [])
  assert.equal((await http(api, 'DELETE', T, { token: owner.token })).status, 204)
  problem(await http(api, 'GET', T, { token: admin.token }), 404, 'not_found')
  problem(await http(api, 'GET', T, { token: kMember }), 401, 'unauthenticated')
})

test('cross-team access answers 404 even for owners of other teams', async () => {
  const a = await signup(api); const b = await signup(api)
  const ta = await makeTeam(api, a.token); await makeTeam(api, b.token)
  for (const [m, p] of [['GET', ''], ['GET', '/members'], ['GET', '/api-keys'], ['GET', '/audit-log'], ['DELETE', '']]) {
    problem(await http(api, m, `/v1/teams/${ta.teamId}${p}`, { token: b.token }), 404, 'not_found')
  }
})

test('every state change writes an audit row; admins read them newest first, paged', async () => {
  const u = await signup(api); const v = await signup(api)
  const t = await makeTeam(api, u.token)
  await addMember(api, u.token, t.teamId, v.email, 'viewer')
  await http(api, 'PATCH', `/v1/teams/${t.teamId}`, { token: u.token, body: { name: 'Audited' } })
  const k = await makeKey(api, u.token, t.teamId)
  await http(api, 'DELETE', `/v1/teams/${t.teamId}/api-keys/${k.apiKeyId}`, { token: u.token })
  const r = await http(api, 'GET', `/v1/teams/${t.teamId}/audit-log`, { token: u.token })
  assert.deepEqual(r.body.items.map((e) => e.action), ['api_key.revoke', 'api_key.create', 'team.update', 'member.add', 'team.create'])
  assert.equal(r.body.items[0].actor, `User:${u.user.userId}`)
  assert.equal(r.body.items[0].targetType, 'ApiKey')
  assert.equal(r.body.items[0].targetId, k.apiKeyId)
  const p1 = await http(api, 'GET', `/v1/teams/${t.teamId}/audit-log?limit=2`, { token: u.token })
  const p2 = await http(api, 'GET', `/v1/teams/${t.teamId}/audit-log?limit=2&cursor=${p1.body.nextCursor}`, { token: u.token })
  const p3 = await http(api, 'GET', `/v1/teams/${t.teamId}/audit-log?limit=2&cursor=${p2.body.nextCursor}`, { token: u.token })
  assert.deepEqual([...p1.body.items, ...p2.body.items, ...p3.body.items].map((e) => e.auditId), r.body.items.map((e) => e.auditId))
  assert.equal(p3.body.nextCursor, null)
  const n = Number(sql(`SELECT count(*) FROM audit_log WHERE chain = 'account' AND target_id = '${u.user.userId}' AND action = 'user.signup'`))
  assert.equal(n, 1)
})

test('the audit table refuses UPDATE and DELETE, and quill-admin detects a tampered row', async () => {
  const u = await signup(api)
  await makeTeam(api, u.token, 'Tamper')
  assert.throws(() => sql('UPDATE audit_log SET actor = \'x\''), /append-only/)
  assert.throws(() => sql('DELETE FROM audit_log'), /append-only/)
  const ok = await run(`${BIN}/quill-admin`, ['audit-verify'], { DATABASE_URL: DB })
  assert.equal(ok.code, 0, ok.stdout + ok.stderr)
  assert.match(ok.stdout, /audit log verified: \d+ rows/)
  const row = sql(`SELECT audit_id || ' ' || chain || ' ' || seq || ' ' || actor FROM audit_log WHERE action = 'team.create' AND actor = 'User:${u.user.userId}'`).split(' ')
  const [id, chain, seq, actor] = row
  // a superuser disables the trigger and rewrites history
  sql(`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; UPDATE audit_log SET actor = 'User:someone-else' WHERE audit_id = '${id}'; ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only`)
  const bad = await run(`${BIN}/quill-admin`, ['audit-verify'], { DATABASE_URL: DB })
  sql(`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; UPDATE audit_log SET actor = '${actor}' WHERE audit_id = '${id}'; ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only`)
  assert.equal(bad.code, 1)
  assert.match(bad.stdout, new RegExp(`chain ${chain}: broken at seq ${seq} \\(audit_id ${id}\\)`))
  assert.equal((await run(`${BIN}/quill-admin`, ['audit-verify'], { DATABASE_URL: DB })).code, 0)
})

test('quill-admin detects a chain whose every row was removed', async () => {
  const u = await signup(api)
  const t = await makeTeam(api, u.token, 'Erased history')
  await http(api, 'PATCH', `/v1/teams/${t.teamId}`, { token: u.token, body: { name: 'Renamed' } })
  const chain = `team:${t.teamId}`
  const table = `audit_hidden_${uniq('h').replace(/[^a-z0-9_]/gi, '_')}`
  // a superuser hides everything that happened in the team: its head stays, its rows go
  sql(`CREATE TABLE ${table} AS SELECT * FROM audit_log WHERE chain = '${chain}'; ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; DELETE FROM audit_log WHERE chain = '${chain}'; ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only`)
  let bad
  try {
    bad = await run(`${BIN}/quill-admin`, ['audit-verify'], { DATABASE_URL: DB })
  } finally {
    sql(`ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain; INSERT INTO audit_log SELECT * FROM ${table}; ALTER TABLE audit_log ENABLE TRIGGER audit_log_chain; DROP TABLE ${table}`)
  }
  assert.equal(bad.code, 1, bad.stdout + bad.stderr)
  assert.match(bad.stdout, new RegExp(`chain ${chain}: `))
  assert.equal((await run(`${BIN}/quill-admin`, ['audit-verify'], { DATABASE_URL: DB })).code, 0)
})

test('anchors kept outside the database show a chain removed with its head, or rebuilt whole', async () => {
  const u = await signup(api)
  const t = await makeTeam(api, u.token, 'Anchored')
  await http(api, 'PATCH', `/v1/teams/${t.teamId}`, { token: u.token, body: { name: 'Anchored 2' } })
  const chain = `team:${t.teamId}`
  const dir = mkdtempSync(join(tmpdir(), 'quill-anchor-'))
  const file = join(dir, 'anchors')
  const verify = () => run(`${BIN}/quill-admin`, ['audit-verify', '--anchor', file], { DATABASE_URL: DB })
  const side = `audit_side_${uniq('a').replace(/[^a-z0-9_]/gi, '_')}`
  try {
    const first = await verify()
    assert.equal(first.code, 0, first.stdout + first.stderr)
    assert.match(first.stdout, /no anchors yet/)
    const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(chain + ' '))
    assert.match(line, new RegExp(`^${chain} 2 [0-9a-f]{64}$`))
    const again = await verify() // the anchors hold; the team's chain may have grown since
    assert.equal(again.code, 0, again.stdout + again.stderr)
    assert.match(again.stdout, /all \d+ anchored rows are in the log/)

    // A superuser removes the team's chain with its head: the chain checks alone see nothing.
    const hide = `CREATE TABLE ${side} AS SELECT * FROM audit_log WHERE chain = '${chain}';
      CREATE TABLE ${side}_h AS SELECT * FROM audit_heads WHERE chain = '${chain}';
      ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
      DELETE FROM audit_log WHERE chain = '${chain}'; DELETE FROM audit_heads WHERE chain = '${chain}';
      ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only`
    const restore = `ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
      DELETE FROM audit_log WHERE chain = '${chain}'; DELETE FROM audit_heads WHERE chain = '${chain}';
      ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;
      ALTER TABLE audit_log DISABLE TRIGGER audit_log_chain; INSERT INTO audit_log SELECT * FROM ${side};
      ALTER TABLE audit_log ENABLE TRIGGER audit_log_chain; INSERT INTO audit_heads SELECT * FROM ${side}_h;
      DROP TABLE ${side}; DROP TABLE ${side}_h`
    const anchorsBefore = readFileSync(file, 'utf8')
    sql(hide)
    let plain, gone, rebuilt
    try {
      plain = await run(`${BIN}/quill-admin`, ['audit-verify'], { DATABASE_URL: DB })
      gone = await verify()
      // ... and rebuilds it from its first row, through the chain's own trigger, one actor changed
      sql(`INSERT INTO audit_log (audit_id, chain, team_id, at, actor, action, target_type, target_id, seq, prev_hash, hash)
        SELECT audit_id, chain, team_id, at, CASE WHEN seq = 1 THEN 'User:someone-else' ELSE actor END,
               action, target_type, target_id, 0, ''::bytea, ''::bytea FROM ${side} ORDER BY seq`)
      rebuilt = await verify()
    } finally {
      sql(restore)
    }
    assert.equal(plain.code, 0, 'without anchors the hole is invisible: ' + plain.stdout)
    assert.equal(gone.code, 1, gone.stdout + gone.stderr)
    assert.match(gone.stdout, new RegExp(`chain ${chain}: the anchored row seq 2 is gone`))
    assert.equal(rebuilt.code, 1, rebuilt.stdout + rebuilt.stderr)
    assert.match(rebuilt.stdout, new RegExp(`chain ${chain}: seq 2 is not the row anchored: the chain was rewritten`))
    assert.equal(readFileSync(file, 'utf8'), anchorsBefore, 'a failed run keeps the old anchors')
    const after = await verify()
    assert.equal(after.code, 0, after.stdout + after.stderr)

    writeFileSync(file, 'account 1 nothex\n')
    const badFile = await verify()
    assert.equal(badFile.code, 2)
    assert.match(badFile.stderr, new RegExp(`--anchor ${file}: line 1 is not`))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('no password, token, key or email appears in any log line', async () => {
  await sleep(400) // request lines are flushed every 250 ms
  const logs = api.lines.join('\n') + api.stderr
  assert.ok(api.lines.length > 50, 'the API logged its requests')
  secrets.add(PASSWORD)
  for (const s of secrets) assert.ok(!logs.includes(s), `a secret is in the logs: ${s.slice(0, 6)}…`)
  assert.doesNotMatch(logs, /qs_[A-Za-z0-9_-]{20}|qk_[A-Za-z0-9_-]{20}|@example\.com/i)
})

test('raw socket: a request with a JSON body and a 100-continue handshake works', async () => {
  const body = JSON.stringify({ email: `${uniq('raw')}@example.com`, password: PASSWORD, displayName: 'Raw' })
  const r = await raw(api.port, `POST /v1/auth/signup HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`)
  assert.match(r.data, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 201 /)
})
