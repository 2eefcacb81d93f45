// The contract sweep: one request (or more) to every operation of the API, each response
// validated against the OpenAPI document, and a check that every route was exercised.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { start, stop, http, signup, uniq, ADMIN_TOKEN, PASSWORD } from './lib.mjs'
import { contract } from './contract.mjs'

let api, c
before(async () => {
  api = await start('quill-api', { QUILL_AUTH_IP_LIMIT: '100000', QUILL_RATE_LIMIT: '100000' })
  c = await contract(api, http)
})
after(async () => { await stop(api) })

test('every operation answers as the document says', async () => {
  const k = c.checked
  await k(api, 'GET', '/livez'); await k(api, 'GET', '/readyz'); await k(api, 'GET', '/metrics')
  await k(api, 'GET', '/v1/version'); await k(api, 'GET', '/v1/openapi.json')
  const email = `${uniq('c')}@example.com`
  const s = await k(api, 'POST', '/v1/auth/signup', { body: { email, password: PASSWORD, displayName: 'C' } })
  const token = s.body.session.token
  await k(api, 'POST', '/v1/auth/signup', { body: { email, password: PASSWORD, displayName: 'C' } })
  const l = await k(api, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } })
  await k(api, 'POST', '/v1/auth/login', { body: { email, password: 'wrong password!' } })
  await k(api, 'GET', '/v1/me', { token }); await k(api, 'GET', '/v1/me')
  await k(api, 'PATCH', '/v1/me', { token, body: { displayName: 'C2' } })
  const t = (await k(api, 'POST', '/v1/teams', { token, body: { name: 'Contract' } })).body
  await k(api, 'GET', '/v1/teams', { token }); await k(api, 'GET', `/v1/teams/${t.teamId}`, { token })
  await k(api, 'PATCH', `/v1/teams/${t.teamId}`, { token, body: { name: 'Contract 2' } })
  const other = await signup(api)
  const m = (await k(api, 'POST', `/v1/teams/${t.teamId}/members`, { token, body: { email: other.email, role: 'viewer' } })).body
  await k(api, 'GET', `/v1/teams/${t.teamId}/members`, { token })
  await k(api, 'PATCH', `/v1/teams/${t.teamId}/members/${m.userId}`, { token, body: { role: 'member' } })
  await k(api, 'DELETE', `/v1/teams/${t.teamId}/members/${m.userId}`, { token })
  const key = (await k(api, 'POST', `/v1/teams/${t.teamId}/api-keys`, { token, body: { name: 'k', role: 'member' } })).body
  await k(api, 'GET', `/v1/teams/${t.teamId}/api-keys`, { token })
  await k(api, 'DELETE', `/v1/teams/${t.teamId}/api-keys/${key.apiKeyId}`, { token })
  await k(api, 'GET', `/v1/teams/${t.teamId}/audit-log`, { token })
  assert.ok(t.teamId, 'the sweep runs with a live session')
  const e = (await k(api, 'POST', `/v1/teams/${t.teamId}/journal-entries`, { token, body: { content: 'c' } })).body
  assert.ok(e.journalEntryId)
  await k(api, 'GET', `/v1/teams/${t.teamId}/journal-entries`, { token })
  await k(api, 'GET', `/v1/teams/${t.teamId}/journal-entries/${e.journalEntryId}`, { token })
  await k(api, 'PATCH', `/v1/teams/${t.teamId}/journal-entries/${e.journalEntryId}`, { token, body: { content: 'd' } })
  await k(api, 'DELETE', `/v1/teams/${t.teamId}/journal-entries/${e.journalEntryId}`, { token })
  const p = (await k(api, 'POST', `/v1/teams/${t.teamId}/prompts`, { token, body: { text: 'p?', category: 'x' } })).body
  await k(api, 'GET', `/v1/teams/${t.teamId}/prompts`, { token })
  await k(api, 'DELETE', `/v1/teams/${t.teamId}/prompts/${p.promptId}`, { token })
  await k(api, 'GET', `/v1/teams/${t.teamId}/prompts/daily`, { token })
  const admin = { token: ADMIN_TOKEN }
  await k(api, 'GET', '/v1/admin/jobs/stats', admin)
  const jobs = (await k(api, 'GET', '/v1/admin/jobs?limit=5', admin)).body.items
  await k(api, 'GET', '/v1/admin/jobs', { token })
  assert.ok(jobs.length > 0, 'the writes above enqueued event jobs')
  await k(api, 'POST', `/v1/admin/jobs/${jobs[0].jobId}/cancel`, admin)
  await k(api, 'POST', `/v1/admin/jobs/${jobs[0].jobId}/retry`, admin)
  await k(api, 'POST', '/v1/admin/jobs/999999999/retry', admin)
  await k(api, 'GET', `/admin?token=${ADMIN_TOKEN}`)
  // Last: a new password ends every other session, so `token` stops working here.
  await k(api, 'POST', '/v1/me/password', { token: l.body.session.token, body: { currentPassword: PASSWORD, newPassword: 'another good password' } })
  assert.equal((await http(api, 'GET', '/v1/me', { token })).status, 401)
  await k(api, 'POST', '/v1/auth/logout', { token })
  await k(api, 'DELETE', `/v1/teams/${t.teamId}`, { token: l.body.session.token })
  await k(api, 'POST', '/v1/auth/logout', { token: l.body.session.token })
  // every operation of the document was called at least once
  const called = new Set([...c.seen].map((s) => s.split(' ').slice(0, 2).join(' ')))
  const missing = []
  for (const [path, ops] of Object.entries(c.doc.paths)) {
    for (const method of Object.keys(ops)) if (!called.has(`${method.toUpperCase()} ${path}`)) missing.push(`${method.toUpperCase()} ${path}`)
  }
  assert.deepEqual(missing, [])
})
