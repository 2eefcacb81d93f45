// CORS end to end: quill-api with QUILL_CORS_ORIGINS answers preflights of a listed origin,
// lets its pages read responses (with credentials), and gives any other origin nothing; a
// real Chromium on a second loopback origin proves what a browser makes of it.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { start, stop, http, signup, makeTeam, run, BIN, DB, SECRET } from './lib.mjs'
import { withBrowser, pageServer } from './browser.mjs'

const ENV = { QUILL_AUTH_IP_LIMIT: '100000', QUILL_RATE_LIMIT: '100000' }
let api, listed, unlisted, user, team

// A page that calls quill-api from its own origin and shows what it got.
const PAGE = `<!doctype html><title>client</title><script>
window.callApi = async (api, token, teamId) => {
  const out = {}
  try {
    const me = await fetch(api + '/v1/me', { credentials: 'include', headers: { authorization: 'Bearer ' + token } })
    out.me = { status: me.status, body: await me.json() }
    const made = await fetch(api + '/v1/teams/' + teamId + '/journal-entries', {
      method: 'POST', credentials: 'include',
      headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json', 'idempotency-key': 'k-' + Math.random() },
      body: JSON.stringify({ content: 'from another origin' })
    })
    out.created = { status: made.status, location: made.headers.get('location'), etag: made.headers.get('etag') }
  } catch (e) {
    out.error = String(e)
  }
  return out
}
</script>`

// A request with an Origin header (which fetch may not set), as a browser would send it.
function raw (method, path, headers) {
  return new Promise((resolve, reject) => {
    const req = request(`${api.url}${path}`, { method, headers }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }))
    })
    req.on('error', reject)
    req.end()
  })
}

before(async () => {
  listed = await pageServer(PAGE)
  unlisted = await pageServer(PAGE)
  api = await start('quill-api', { ...ENV, QUILL_CORS_ORIGINS: `https://app.example.com, ${listed.origin}` })
  user = await signup(api)
  team = await makeTeam(api, user.token)
})

after(async () => {
  await stop(api)
  await listed.close()
  await unlisted.close()
})

test('a listed origin gets its preflight answered and may read responses', async () => {
  const pre = await raw('OPTIONS', `/v1/teams/${team.teamId}/journal-entries`, {
    origin: listed.origin,
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization, content-type, idempotency-key'
  })
  assert.equal(pre.status, 204)
  assert.equal(pre.headers['access-control-allow-origin'], listed.origin)
  assert.equal(pre.headers['access-control-allow-credentials'], 'true')
  assert.equal(pre.headers['access-control-allow-methods'], 'GET, HEAD, POST')
  assert.match(pre.headers['access-control-allow-headers'], /Authorization.*Content-Type.*Idempotency-Key/)
  assert.equal(pre.headers['access-control-max-age'], '600')
  assert.match(pre.headers.vary, /Origin/)
  const got = await raw('GET', '/v1/me', { origin: 'https://app.example.com', authorization: `Bearer ${user.token}` })
  assert.equal(got.status, 200)
  assert.equal(got.headers['access-control-allow-origin'], 'https://app.example.com')
  assert.equal(got.headers['access-control-allow-credentials'], 'true')
  assert.equal(got.headers.vary, 'Origin')
  for (const h of ['ETag', 'Location', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset']) {
    assert.ok(got.headers['access-control-expose-headers'].split(', ').includes(h), h)
  }
  // an error a page must be able to read carries them too
  const denied = await raw('GET', '/v1/me', { origin: listed.origin })
  assert.equal(denied.status, 401)
  assert.equal(denied.headers['access-control-allow-origin'], listed.origin)
})

test('an unlisted origin gets no CORS headers', async () => {
  const pre = await raw('OPTIONS', '/v1/me', { origin: unlisted.origin, 'access-control-request-method': 'GET' })
  assert.equal(pre.status, 405)
  const got = await raw('GET', '/v1/me', { origin: 'https://evil.example.com', authorization: `Bearer ${user.token}` })
  assert.equal(got.status, 200)
  for (const r of [pre, got]) {
    assert.deepEqual(Object.keys(r.headers).filter((k) => k.startsWith('access-control-')), [])
    assert.equal(r.headers.vary, 'Origin')
  }
  const plain = await http(api, 'GET', '/livez')
  assert.equal(plain.headers.get('access-control-allow-origin'), null)
})

test('Chromium: a page on a listed origin calls the API with credentials; another origin cannot', async () => {
  await withBrowser(async (context) => {
    const page = await context.newPage()
    await page.goto(listed.origin + '/')
    const ok = await page.evaluate(([a, t, id]) => window.callApi(a, t, id), [api.url, user.token, team.teamId])
    assert.equal(ok.error, undefined)
    assert.equal(ok.me.status, 200)
    assert.equal(ok.me.body.email, user.email)
    assert.equal(ok.created.status, 201)
    assert.match(ok.created.location, new RegExp(`/v1/teams/${team.teamId}/journal-entries/`))
    assert.equal(ok.created.etag, '"1"')
    await page.goto(unlisted.origin + '/')
    const refused = await page.evaluate(([a, t, id]) => window.callApi(a, t, id), [api.url, user.token, team.teamId])
    assert.equal(refused.me, undefined)
    assert.match(refused.error, /TypeError/)
  })
  // the refused page's preflight never reached the handler: no entry was written for it
  const list = await http(api, 'GET', `/v1/teams/${team.teamId}/journal-entries`, { token: user.token })
  assert.equal(list.body.items.length, 1)
})

test('a malformed QUILL_CORS_ORIGINS stops quill-api with a message naming it', async () => {
  const r = await run(`${BIN}/quill-api`, [], {
    DATABASE_URL: DB, QUILL_SECRET: SECRET, QUILL_LISTEN: '127.0.0.1:0', QUILL_CORS_ORIGINS: 'https://app.example.com/'
  })
  assert.equal(r.code, 2)
  assert.match(r.stderr, /QUILL_CORS_ORIGINS: .*app\.example\.com\//)
})
