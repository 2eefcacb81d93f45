// The contract sweep's part for account security (contract.test.mjs calls it): every route of
// the sessions list, TOTP and the login's second step, each answer validated against the
// OpenAPI document by `k` (status, then the checked request's arguments).
import assert from 'node:assert/strict'
import { http, signup, PASSWORD } from './lib.mjs'
import { freshCode } from './totp.mjs'

export async function sweepSecurity (k, api) {
  const u = await signup(api)
  const token = u.token
  const second = (await http(api, 'POST', '/v1/auth/login', { body: { email: u.email, password: PASSWORD } })).body.session.token
  const list = await k(200, api, 'GET', '/v1/me/sessions', { token })
  assert.equal(list.body.items.length, 2)
  const other = list.body.items.find((s) => !s.current).sessionId
  await k(422, api, 'GET', '/v1/me/sessions?limit=500', { token })
  await k(204, api, 'DELETE', `/v1/me/sessions/${other}`, { token })
  await k(404, api, 'DELETE', `/v1/me/sessions/${other}`, { token })
  await k(401, api, 'GET', '/v1/me/sessions', { token: second })
  await k(204, api, 'DELETE', '/v1/me/sessions', { token })
  await k(422, api, 'POST', '/v1/me/mfa/totp', { token, body: { password: 'not the password' } })
  const e = await k(201, api, 'POST', '/v1/me/mfa/totp', { token, body: { password: PASSWORD } })
  await k(422, api, 'POST', '/v1/me/mfa/totp/confirm', { token, body: { code: 'nope' } })
  const state = {}
  const c = await k(200, api, 'POST', '/v1/me/mfa/totp/confirm', { token, body: { code: await freshCode(e.body.secret, state) } })
  await k(409, api, 'POST', '/v1/me/mfa/totp', { token, body: { password: PASSWORD } })
  const l = await k(200, api, 'POST', '/v1/auth/login', { body: { email: u.email, password: PASSWORD } })
  assert.equal(l.body.mfaRequired, true)
  await k(401, api, 'POST', '/v1/auth/mfa', { body: { mfaToken: l.body.mfaToken, code: 'aaaaaa-aaaaaa-aaaaaa-aaaaaa' } })
  await k(200, api, 'POST', '/v1/auth/mfa', { body: { mfaToken: l.body.mfaToken, code: c.body.recoveryCodes[0] } })
  await k(422, api, 'DELETE', '/v1/me/mfa/totp', { token, body: { password: PASSWORD } })
  await k(204, api, 'DELETE', '/v1/me/mfa/totp', { token, body: { password: PASSWORD, code: await freshCode(e.body.secret, state) } })
  await k(409, api, 'DELETE', '/v1/me/mfa/totp', { token, body: { password: PASSWORD } })
}
