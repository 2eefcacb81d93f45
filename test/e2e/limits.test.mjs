// Rate limits over HTTP: the per-principal token bucket with RateLimit-* headers, and the
// per-address signup/login limit with X-Forwarded-For believed only from trusted proxies.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { start, stop, http, signup, uniq, sql, PASSWORD } from './lib.mjs'

// One token a second and a burst of two: the third request within that second is refused.
test('the per-principal bucket answers 429 with RateLimit headers once the burst is spent', async () => {
  const h = await start('quill-api', { QUILL_RATE_LIMIT: '1', QUILL_AUTH_IP_LIMIT: '1000' })
  try {
    const u = await signup(h)
    const t0 = Date.now()
    const first = await http(h, 'GET', '/v1/me', { token: u.token })
    const second = await http(h, 'GET', '/v1/me', { token: u.token })
    const limited = await http(h, 'GET', '/v1/me', { token: u.token })
    assert.ok(Date.now() - t0 < 1000, 'three requests within the second that refills one token')
    assert.equal(first.status, 200)
    assert.equal(first.headers.get('ratelimit-limit'), '2')
    assert.equal(first.headers.get('ratelimit-remaining'), '1')
    assert.equal(second.status, 200)
    assert.equal(second.headers.get('ratelimit-remaining'), '0')
    assert.equal(first.headers.get('ratelimit-reset'), '0') // a token is there now
    assert.equal(second.headers.get('ratelimit-reset'), '1') // the last one: the next comes within the second
    assert.equal(limited.status, 429)
    assert.equal(limited.body.code, 'rate_limited')
    assert.equal(limited.headers.get('retry-after'), '1')
    assert.equal(limited.headers.get('ratelimit-remaining'), '0')
    // another principal is not affected
    const v = await signup(h)
    assert.equal((await http(h, 'GET', '/v1/me', { token: v.token })).status, 200)
  } finally { await stop(h) }
})

test('signup and login are limited per client address; X-Forwarded-For only from trusted proxies', async () => {
  const h = await start('quill-api', { QUILL_AUTH_IP_LIMIT: '3', QUILL_TRUSTED_PROXIES: '127.0.0.1' })
  try {
    sql("DELETE FROM rate_counters WHERE key LIKE 'auth-ip:198.51.100.%'")
    const login = (xff) => http(h, 'POST', '/v1/auth/login', { body: { email: `${uniq('ip')}@example.com`, password: PASSWORD }, headers: xff ? { 'x-forwarded-for': xff } : {} })
    for (let i = 0; i < 3; i++) assert.equal((await login('198.51.100.1')).status, 401)
    const limited = await login('198.51.100.1')
    assert.equal(limited.status, 429)
    assert.equal(limited.body.code, 'rate_limited')
    // the rest of the server's current minute: its clock decides, so only the bounds are known
    const retry = Number(limited.headers.get('retry-after'))
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`)
    // a different client behind the same proxy has its own allowance
    assert.equal((await login('198.51.100.2')).status, 401)
  } finally { await stop(h) }
  const u = await start('quill-api', { QUILL_AUTH_IP_LIMIT: '2' })
  try {
    // counters live in PostgreSQL and other tests also log in from 127.0.0.1: start clean
    sql("DELETE FROM rate_counters WHERE key = 'auth-ip:127.0.0.1'")
    // untrusted peer: forged X-Forwarded-For values do not buy more attempts
    for (let i = 0; i < 2; i++) {
      const r = await http(u, 'POST', '/v1/auth/login', { body: { email: 'x@example.com', password: PASSWORD }, headers: { 'x-forwarded-for': `203.0.113.${i}` } })
      assert.equal(r.status, 401)
    }
    const r = await http(u, 'POST', '/v1/auth/login', { body: { email: 'x@example.com', password: PASSWORD }, headers: { 'x-forwarded-for': '203.0.113.99' } })
    assert.equal(r.status, 429)
  } finally { await stop(u) }
})
