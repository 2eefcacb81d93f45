// The API reference for people: GET /docs renders the OpenAPI document with Swagger UI,
// all of it served by quill-api from the binary (no CDN), under a strict
// Content-Security-Policy.  Headless Chromium loads it and finds the API's operations.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { gunzipSync } from 'node:zlib'
import { start, stop, http, ADMIN_TOKEN } from './lib.mjs'
import { withBrowser } from './browser.mjs'

let api
before(async () => { api = await start('quill-api') })
after(async () => { await stop(api) })

// A GET whose body is kept as bytes (fetch would undo the gzip).
function get (path, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = request(`${api.url}${path}`, { headers }, (res) => {
      const chunks = []
      res.on('data', (d) => chunks.push(d))
      res.on('end', () => resolve({ status: res.statusCode, message: res.statusMessage, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject)
    req.end()
  })
}

test('the page and its files come from quill-api with a strict CSP', async () => {
  const page = await http(api, 'GET', '/docs')
  assert.equal(page.status, 200)
  assert.match(page.headers.get('content-type'), /^text\/html/)
  const csp = page.headers.get('content-security-policy')
  assert.match(csp, /default-src 'none'/)
  assert.match(csp, /script-src 'self';/)
  assert.match(csp, /frame-ancestors 'none'/)
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*|https?:/)
  for (const src of page.text.matchAll(/(?:src|href)="([^"]+)"/g)) {
    assert.doesNotMatch(src[1], /^(https?:)?\/\//, `${src[1]} is not on this server`)
  }
  const plain = await get('/docs/swagger-ui-bundle.js')
  assert.equal(plain.status, 200)
  assert.match(plain.headers['content-type'], /^text\/javascript/)
  assert.equal(plain.headers['content-encoding'], undefined)
  assert.ok(plain.body.length > 500000)
  const gz = await get('/docs/swagger-ui-bundle.js', { 'accept-encoding': 'br, gzip;q=0.8' })
  assert.equal(gz.headers['content-encoding'], 'gzip')
  assert.match(gz.headers.vary, /Accept-Encoding/)
  assert.ok(gz.body.length < plain.body.length / 2)
  assert.ok(gunzipSync(gz.body).equals(plain.body))
  const refused = await get('/docs/swagger-ui-bundle.js', { 'accept-encoding': 'gzip;q=0' })
  assert.equal(refused.headers['content-encoding'], undefined)
  const again = await get('/docs/swagger-ui-bundle.js', { 'if-none-match': plain.headers.etag })
  assert.equal(again.status, 304)
  assert.equal(again.body.length, 0)
  const head = await get('/docs/swagger-ui.css')
  assert.match(head.headers['content-type'], /^text\/css/)
  const licences = await get('/docs/licenses.txt')
  assert.match(licences.body.toString(), /Apache License/)
  assert.equal((await http(api, 'GET', '/docs/missing.js')).status, 404)
  const slash = await get('/docs/') // fetch would follow the redirect
  assert.equal(slash.status, 308)
  assert.equal(slash.message, 'Permanent Redirect')
  assert.equal(slash.headers.location, '/docs')
})

test('Chromium renders the operations, and no request leaves loopback', async () => {
  await withBrowser(async (context, requests) => {
    const page = await context.newPage()
    await page.addInitScript(() => {
      window.__violations = []
      document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`))
    })
    const errors = []
    page.on('pageerror', (e) => errors.push(String(e)))
    await page.goto(`${api.url}/docs`)
    const op = page.locator('.opblock-summary-path', { hasText: '/v1/teams/{teamId}/journal-entries' }).first()
    await op.waitFor({ timeout: 20000 })
    assert.match(await page.locator('.info .title').first().innerText(), /Quill API/)
    // an operation opens with its parameters, as a reader would click it
    await op.click()
    await page.getByText('Parameters').first().waitFor({ timeout: 10000 })
    assert.ok((await page.locator('.opblock').count()) > 40)
    assert.deepEqual(await page.evaluate(() => window.__violations), [])
    assert.deepEqual(errors, [])
    assert.ok(requests.length >= 4)
    const outside = requests.filter((u) => !u.startsWith(api.url + '/') && !u.startsWith('data:'))
    assert.deepEqual(outside, [], 'requests that left quill-api')
  })
})

// The operator's dashboard holds the operator token, so its policy allows only the page's
// own script and style, named by their SHA-256 (no 'unsafe-inline'), and the script runs.
test('the /admin dashboard runs under a CSP that names its script and style by hash', async () => {
  const page = await http(api, 'GET', '/admin', { token: ADMIN_TOKEN })
  assert.equal(page.status, 200)
  const csp = page.headers.get('content-security-policy')
  assert.match(csp, /default-src 'none'/)
  assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/]{43}='/)
  assert.match(csp, /style-src 'sha256-[A-Za-z0-9+/]{43}='/)
  assert.match(csp, /frame-ancestors 'none'/)
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*|https?:/)
  await withBrowser(async (context, requests) => {
    const tab = await context.newPage()
    await tab.addInitScript(() => {
      window.__violations = []
      document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`))
    })
    const errors = []
    tab.on('pageerror', (e) => errors.push(String(e)))
    await tab.goto(`${api.url}/admin?token=${ADMIN_TOKEN}`)
    await tab.locator('#updated', { hasText: /^updated / }).waitFor({ timeout: 15000 })
    assert.equal(await tab.evaluate(() => getComputedStyle(document.body).fontFamily.includes('sans')), true, 'the style applies')
    assert.deepEqual(await tab.evaluate(() => window.__violations), [])
    assert.deepEqual(errors, [])
    assert.deepEqual(requests.filter((u) => !u.startsWith(api.url + '/')), [], 'requests that left quill-api')
  })
})
