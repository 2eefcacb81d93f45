// TOTP over real HTTP: enrolment, confirmation, the login step with its mfaToken, replay
// refusal, the bound on wrong codes, recovery codes (each once), turning MFA off, and what the
// database keeps (a sealed secret, digests of the recovery codes, audit rows).  Codes are
// computed here from the enrolled secret with node:crypto (totp.mjs).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { start, stop, http, signup, sql, PASSWORD } from './lib.mjs'
import { totp, freshCode, base32Decode } from './totp.mjs'

let api
before(async () => {
  api = await start('quill-api', { QUILL_AUTH_IP_LIMIT: '100000', QUILL_RATE_LIMIT: '100000' })
})
after(async () => { await stop(api) })

// Enrol and confirm u: returns {secret, recoveryCodes, state} (state.last: the step used).
async function enable (u) {
  const e = await http(api, 'POST', '/v1/me/mfa/totp', { token: u.token, body: { password: PASSWORD } })
  assert.equal(e.status, 201, e.text)
  const state = {}
  const c = await http(api, 'POST', '/v1/me/mfa/totp/confirm', { token: u.token, body: { code: await freshCode(e.body.secret, state) } })
  assert.equal(c.status, 200, c.text)
  return { secret: e.body.secret, recoveryCodes: c.body.recoveryCodes, state }
}

async function challenge (u) {
  const r = await http(api, 'POST', '/v1/auth/login', { body: { email: u.email, password: PASSWORD } })
  assert.equal(r.status, 200, r.text)
  assert.equal(r.body.mfaRequired, true)
  assert.equal(r.headers.get('set-cookie'), null, 'no session before the second factor')
  return r.body.mfaToken
}

const answer = (mfaToken, code) => http(api, 'POST', '/v1/auth/mfa', { body: { mfaToken, code }, headers: { 'user-agent': 'mfa-e2e/1' } })

test('enrolment shows the secret once, and MFA is on only after a first code', async () => {
  const u = await signup(api)
  assert.equal(u.user.mfaEnabled, false)
  assert.equal((await http(api, 'POST', '/v1/me/mfa/totp', { token: u.token, body: { password: 'not my password' } })).status, 422)
  const e = await http(api, 'POST', '/v1/me/mfa/totp', { token: u.token, body: { password: PASSWORD } })
  assert.equal(e.status, 201, e.text)
  assert.match(e.body.secret, /^[A-Z2-7]{32}$/)
  const uri = new URL(e.body.otpauthUri)
  assert.equal(uri.protocol, 'otpauth:')
  assert.equal(uri.host, 'totp')
  assert.equal(decodeURIComponent(uri.pathname), `/Quill:${u.email}`)
  assert.equal(uri.searchParams.get('secret'), e.body.secret)
  assert.equal(uri.searchParams.get('issuer'), 'Quill')
  assert.equal(uri.searchParams.get('algorithm'), 'SHA1')
  assert.equal(uri.searchParams.get('digits'), '6')
  assert.equal(uri.searchParams.get('period'), '30')
  // kept sealed: the secret's bytes are not in the row
  const raw = Buffer.from(sql(`SELECT encode(secret, 'hex') FROM mfa_totp WHERE user_id = '${u.user.userId}'`), 'hex')
  assert.ok(raw.length > 20)
  assert.equal(raw.includes(base32Decode(e.body.secret)), false)
  // not yet in force
  let me = await http(api, 'GET', '/v1/me', { token: u.token })
  assert.equal(me.body.mfaEnabled, false)
  const login = await http(api, 'POST', '/v1/auth/login', { body: { email: u.email, password: PASSWORD } })
  assert.ok(login.body.session, 'the password alone still logs in')
  const wrong = String((Number(totp(e.body.secret)) + 500000) % 1000000).padStart(6, '0')
  const bad = await http(api, 'POST', '/v1/me/mfa/totp/confirm', { token: u.token, body: { code: wrong } })
  assert.equal(bad.status, 422)
  assert.equal(bad.body.errors[0].field, 'code')
  const c = await http(api, 'POST', '/v1/me/mfa/totp/confirm', { token: u.token, body: { code: totp(e.body.secret) } })
  assert.equal(c.status, 200, c.text)
  assert.equal(c.body.recoveryCodes.length, 10)
  assert.equal(new Set(c.body.recoveryCodes).size, 10)
  for (const code of c.body.recoveryCodes) assert.match(code, /^[a-z2-7]{6}(-[a-z2-7]{6}){3}$/)
  me = await http(api, 'GET', '/v1/me', { token: u.token })
  assert.equal(me.body.mfaEnabled, true)
  // recovery codes are kept as digests only
  const digests = sql(`SELECT encode(code_digest, 'hex') FROM mfa_recovery_codes WHERE user_id = '${u.user.userId}'`).split('\n')
  assert.equal(digests.length, 10)
  for (const code of c.body.recoveryCodes) assert.ok(!digests.some((d) => d.includes(Buffer.from(code).toString('hex'))))
  // on is on
  assert.equal((await http(api, 'POST', '/v1/me/mfa/totp', { token: u.token, body: { password: PASSWORD } })).status, 409)
  assert.equal((await http(api, 'POST', '/v1/me/mfa/totp/confirm', { token: u.token, body: { code: totp(e.body.secret) } })).status, 409)
})

test('with MFA on, a login takes the password and then a code; a code is accepted once', async () => {
  const u = await signup(api)
  const m = await enable(u)
  const t1 = await challenge(u)
  const code = await freshCode(m.secret, m.state)
  const r = await answer(t1, code)
  assert.equal(r.status, 200, r.text)
  assert.ok(r.body.session.token.startsWith('qs_'))
  assert.equal(r.body.user.mfaEnabled, true)
  assert.match(r.headers.get('set-cookie'), /^quill_session=qs_/)
  assert.equal((await http(api, 'GET', '/v1/me', { token: r.body.session.token })).status, 200)
  // the mfaToken is spent
  const again = await answer(t1, code)
  assert.equal(again.status, 401)
  assert.equal(again.body.code, 'unauthenticated')
  // the same code on a new login is a replay
  const t2 = await challenge(u)
  const replay = await answer(t2, code)
  assert.equal(replay.status, 401)
  assert.equal(replay.body.code, 'invalid_credentials')
  assert.equal(replay.headers.get('cache-control'), 'no-store') // as every answer to a login
  // and so is an older one
  assert.equal((await answer(t2, totp(m.secret, m.state.last - 1))).status, 401)
  // a garbage token is no token
  assert.equal((await answer('qm_not-a-token', code)).status, 401)
  assert.equal((await http(api, 'POST', '/v1/auth/mfa', { body: { mfaToken: t2 } })).status, 422)
  // the session opened by the second step is listed with what it came with
  const list = await http(api, 'GET', '/v1/me/sessions', { token: r.body.session.token })
  const mine = list.body.items.find((s) => s.current)
  assert.equal(mine.userAgent, 'mfa-e2e/1')
  assert.equal(mine.ip, '127.0.0.1')
})

test('recovery codes log in once each', async () => {
  const u = await signup(api)
  const m = await enable(u)
  const r1 = await answer(await challenge(u), m.recoveryCodes[0])
  assert.equal(r1.status, 200, r1.text)
  const t = await challenge(u)
  assert.equal((await answer(t, m.recoveryCodes[0])).status, 401)
  const typed = m.recoveryCodes[1].toUpperCase().replaceAll('-', ' ')
  assert.equal((await answer(t, typed)).status, 200)
  const actions = sql(`SELECT action FROM audit_log WHERE actor = 'User:${u.user.userId}' ORDER BY seq`).split('\n')
  assert.equal(actions.filter((a) => a === 'mfa.recovery_code_used').length, 2)
  for (const a of ['mfa.enrol', 'mfa.enable', 'session.mfa_challenge', 'session.login']) assert.ok(actions.includes(a), a)
})

test('five wrong codes end the mfaToken and lock the account', async () => {
  const u = await signup(api)
  const m = await enable(u)
  const t = await challenge(u)
  const right = await freshCode(m.secret, m.state)
  const wrong = String((Number(right) + 1) % 1000000).padStart(6, '0')
  for (let i = 0; i < 5; i++) {
    const r = await answer(t, wrong)
    assert.equal(r.status, 401)
    assert.equal(r.body.code, 'invalid_credentials')
  }
  const late = await answer(t, right)
  assert.equal(late.status, 401)
  assert.equal(late.body.code, 'unauthenticated')
  const locked = await http(api, 'POST', '/v1/auth/login', { body: { email: u.email, password: PASSWORD } })
  assert.equal(locked.status, 429)
  assert.ok(Number(locked.headers.get('retry-after')) > 0)
})

test('overlapping wrong codes for one mfaToken are checked five times at most', async () => {
  const u = await signup(api)
  const m = await enable(u)
  const t = await challenge(u)
  const right = await freshCode(m.secret, m.state)
  const wrong = String((Number(right) + 1) % 1000000).padStart(6, '0')
  // A pool as wide as the burst, so that the ten answers are in flight together.
  const wide = await start('quill-api', { QUILL_AUTH_IP_LIMIT: '100000', QUILL_RATE_LIMIT: '100000', QUILL_DB_POOL: '20' })
  let answers
  try {
    answers = await Promise.all(Array.from({ length: 10 }, () =>
      http(wide, 'POST', '/v1/auth/mfa', { body: { mfaToken: t, code: wrong } })))
  } finally {
    await stop(wide)
  }
  const checked = answers.filter((r) => r.status === 401 && r.body.code === 'invalid_credentials').length
  const refused = answers.filter((r) => (r.status === 401 && r.body.code === 'unauthenticated') || r.status === 429).length
  assert.equal(checked + refused, 10, answers.map((r) => `${r.status} ${r.body?.code}`).join(', '))
  assert.ok(checked <= 5, `${checked} wrong codes were checked`)
  // every try was counted on the token: it is dead, for the right code too
  const late = await answer(t, right)
  assert.equal(late.status, 401)
  assert.equal(late.body.code, 'unauthenticated')
})

test('turning MFA off takes the password and a code (or a recovery code)', async () => {
  const u = await signup(api)
  const m = await enable(u)
  assert.equal((await http(api, 'DELETE', '/v1/me/mfa/totp', { token: u.token, body: { password: PASSWORD } })).status, 422)
  assert.equal((await http(api, 'DELETE', '/v1/me/mfa/totp', { token: u.token, body: { password: 'wrong password!', code: m.recoveryCodes[0] } })).status, 422)
  const off = await http(api, 'DELETE', '/v1/me/mfa/totp', { token: u.token, body: { password: PASSWORD, code: await freshCode(m.secret, m.state) } })
  assert.equal(off.status, 204, off.text)
  assert.equal((await http(api, 'GET', '/v1/me', { token: u.token })).body.mfaEnabled, false)
  const login = await http(api, 'POST', '/v1/auth/login', { body: { email: u.email, password: PASSWORD } })
  assert.equal(login.status, 200)
  assert.ok(login.body.session.token)
  assert.equal((await http(api, 'DELETE', '/v1/me/mfa/totp', { token: u.token, body: { password: PASSWORD } })).status, 409)
  assert.equal(sql(`SELECT count(*) FROM mfa_recovery_codes WHERE user_id = '${u.user.userId}'`), '0')
  // and with a recovery code
  const v = await signup(api)
  const n = await enable(v)
  assert.equal((await http(api, 'DELETE', '/v1/me/mfa/totp', { token: v.token, body: { password: PASSWORD, code: n.recoveryCodes[9] } })).status, 204)
  assert.ok(sql(`SELECT action FROM audit_log WHERE actor = 'User:${v.user.userId}'`).split('\n').includes('mfa.disable'))
})

test('erasing the account takes a code too while MFA is on, and takes the enrolment with it', async () => {
  const u = await signup(api)
  const m = await enable(u)
  const noCode = await http(api, 'DELETE', '/v1/me', { token: u.token, body: { password: PASSWORD } })
  assert.equal(noCode.status, 422)
  assert.equal(noCode.body.errors[0].field, 'code')
  const r = await http(api, 'DELETE', '/v1/me', { token: u.token, body: { password: PASSWORD, code: m.recoveryCodes[4] } })
  assert.equal(r.status, 202, r.text)
  assert.equal(sql(`SELECT count(*) FROM mfa_totp WHERE user_id = '${u.user.userId}'`), '0')
  assert.equal(sql(`SELECT count(*) FROM mfa_recovery_codes WHERE user_id = '${u.user.userId}'`), '0')
})
