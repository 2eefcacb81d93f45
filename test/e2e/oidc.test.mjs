// OpenID Connect: bearer JWTs signed RS256, ES256 and EdDSA, verified against a JWKS served
// by a local HTTP server, with tokens minted by the jose package.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http_ from 'node:http'
import { generateKeyPair, exportJWK, SignJWT } from 'jose'
import { start, stop, http, uniq, sql, sleep, signup, makeTeam } from './lib.mjs'

const ISS = 'https://idp.example.test'
const AUD = 'quill-e2e'
let api, jwks, server, fetches = 0
const keys = {}

async function key (alg, kid) {
  const { publicKey, privateKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {})
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }
  keys[kid] = { alg, privateKey, jwk }
  return keys[kid]
}

function mint (kid, claims = {}, header = {}) {
  const k = keys[kid]
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ email: `${uniq('oidc')}@example.com`, email_verified: true, name: 'OIDC User', ...claims })
    .setProtectedHeader({ alg: k.alg, kid, ...header })
    .setIssuer(claims.iss ?? ISS).setAudience(claims.aud ?? AUD).setSubject(claims.sub ?? uniq('sub'))
    .setIssuedAt(now).setExpirationTime(claims.exp ?? now + 300)
    .sign(k.privateKey)
}

before(async () => {
  await key('RS256', 'rsa-1'); await key('ES256', 'ec-1'); await key('EdDSA', 'ed-1')
  await key('RS256', 'rsa-later') // published only after rotation
  await key('RS256', 'never')     // never published
  jwks = ['rsa-1', 'ec-1', 'ed-1']
  server = http_.createServer((req, res) => {
    fetches++
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ keys: jwks.map((k) => keys[k].jwk) }))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  api = await start('quill-api', {
    QUILL_OIDC_ISSUER: ISS,
    QUILL_OIDC_AUDIENCE: AUD,
    QUILL_OIDC_JWKS_URL: `http://127.0.0.1:${server.address().port}/jwks.json`,
    QUILL_RATE_LIMIT: '100000',
    QUILL_AUTH_IP_LIMIT: '100000'
  })
})
after(async () => { await stop(api); server.close() })

test('RS256, ES256 and EdDSA tokens are accepted; the user is created on first sight', async () => {
  for (const kid of ['rsa-1', 'ec-1', 'ed-1']) {
    const sub = uniq('sub-' + kid)
    const email = `${uniq('first')}@example.com`
    const token = await mint(kid, { sub, email })
    const r = await http(api, 'GET', '/v1/me', { token })
    assert.equal(r.status, 200, `${kid}: ${r.text}`)
    assert.equal(r.body.email, email)
    assert.equal(r.body.displayName, 'OIDC User')
    // the same subject maps to the same user next time
    const again = await http(api, 'GET', '/v1/me', { token: await mint(kid, { sub, email: 'changed@example.com' }) })
    assert.equal(again.body.userId, r.body.userId)
    assert.equal(sql(`SELECT count(*) FROM users WHERE oidc_subject = '${sub}' AND oidc_issuer = '${ISS}'`), '1')
  }
})

test('an OIDC user can create teams like any user', async () => {
  const token = await mint('rsa-1')
  const t = await http(api, 'POST', '/v1/teams', { token, body: { name: 'From OIDC' } })
  assert.equal(t.status, 201)
  assert.equal((await http(api, 'GET', `/v1/teams/${t.body.teamId}`, { token })).status, 200)
})

test('an email the provider does not say is verified is not the account\'s: its owner can still sign up and be added by it', async () => {
  const placeholder = /^oidc-[0-9a-f]{32}@oidc\.invalid$/
  for (const verified of [false, 'false', undefined]) {
    const email = `${uniq('victim')}@example.com`
    const squat = await http(api, 'GET', '/v1/me', { token: await mint('rsa-1', { email, email_verified: verified }) })
    assert.equal(squat.status, 200, squat.text)
    assert.match(squat.body.email, placeholder, `email_verified ${verified}`)
    // the person the address belongs to signs up with it, and an admin adding it adds them
    const victim = await signup(api, email)
    const owner = await signup(api)
    const t = await makeTeam(api, owner.token)
    const added = await http(api, 'POST', `/v1/teams/${t.teamId}/members`, { token: owner.token, body: { email, role: 'member' } })
    assert.equal(added.status, 201, added.text)
    assert.equal(added.body.userId, victim.user.userId)
  }
  // "true" as a string, as some providers send it, counts as verified
  const email = `${uniq('string')}@example.com`
  const r = await http(api, 'GET', '/v1/me', { token: await mint('ec-1', { email, email_verified: 'true' }) })
  assert.equal(r.body.email, email)
})

test('a verified email of an existing password account is never linked to it', async () => {
  const p = await signup(api)
  const r = await http(api, 'GET', '/v1/me', { token: await mint('rsa-1', { email: p.email, email_verified: true }) })
  assert.equal(r.status, 200, r.text)
  assert.notEqual(r.body.userId, p.user.userId)
  assert.match(r.body.email, /@oidc\.invalid$/)
})

test('long subjects that share their first 40 characters are two users, each with a placeholder of their own', async () => {
  const stem = 'x'.repeat(40) + uniq('-')
  const users = []
  for (const sub of [`${stem}-one`, `${stem}-two`]) {
    const r = await http(api, 'GET', '/v1/me', { token: await mint('ed-1', { sub, email: undefined }) })
    assert.equal(r.status, 200, `${sub}: ${r.text}`)
    users.push(r.body)
  }
  assert.notEqual(users[0].userId, users[1].userId)
  assert.notEqual(users[0].email, users[1].email)
})

test('a rotated key is picked up by fetching the JWKS again', async () => {
  jwks.push('rsa-later')
  await sleep(1100) // unknown kids trigger at most one fetch a second
  const before = fetches
  const r = await http(api, 'GET', '/v1/me', { token: await mint('rsa-later') })
  assert.equal(r.status, 200, r.text)
  assert.equal(fetches, before + 1, 'the JWKS was fetched again, once')
})

async function refused (token, why) {
  const r = await http(api, 'GET', '/v1/me', { token })
  assert.equal(r.status, 401, `${why}: ${r.status} ${r.text}`)
  assert.equal(r.body.code, 'unauthenticated', why)
}

test('expired, wrong audience, wrong issuer, not yet valid: 401', async () => {
  const now = Math.floor(Date.now() / 1000)
  await refused(await mint('rsa-1', { exp: now - 3600 }), 'expired')
  await refused(await mint('ec-1', { aud: 'someone-else' }), 'wrong audience')
  await refused(await mint('ed-1', { iss: 'https://evil.example' }), 'wrong issuer')
  await refused(await mint('rsa-1', { nbf: now + 3600 }), 'not yet valid')
  // within the leeway is fine
  const ok = await http(api, 'GET', '/v1/me', { token: await mint('rsa-1', { exp: now - 10 }) })
  assert.equal(ok.status, 200)
})

test('a bad signature, alg none and an unknown key: 401', async () => {
  const good = await mint('rsa-1')
  const [h, p, s] = good.split('.')
  const payload = JSON.parse(Buffer.from(p, 'base64url'))
  payload.sub = 'someone-else'
  const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`
  await refused(forged, 'tampered payload')
  const sig = Buffer.from(s, 'base64url'); sig[10] ^= 1
  await refused(`${h}.${p}.${sig.toString('base64url')}`, 'flipped signature bit')
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`
  await refused(none, 'alg none')
  const hs = `${Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'rsa-1' })).toString('base64url')}.${p}.${s}`
  await refused(hs, 'HS256')
  await refused(await mint('never'), 'unknown key')
  // a key of the wrong type under a known kid
  await refused(await mint('ec-1', {}, { kid: 'rsa-1' }), 'ES256 signature under an RSA kid')
})
