// Mail end to end: quill-api writes mails to the outbox, quill-worker sends them through a
// real SMTP server this test runs on loopback (the `smtp-server` package, offering STARTTLS
// with a certificate made here), and the links are taken from the mails as received.
// Password reset and email verification, single use, expiry (moved in the database), the
// same answer for unknown emails, resend limits, a sink that is down for a while, and a
// worker without QUILL_SMTP_URL whose mail the operator reads.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SMTPServer } from 'smtp-server'
import { start, stop, http, sql, sleep, waitFor, signup, uniq, PASSWORD, ADMIN_TOKEN } from './lib.mjs'

const APP = 'https://app.example.test'
const NEW_PW = 'a brand new password'
const API_ENV = { QUILL_AUTH_IP_LIMIT: '100000', QUILL_RATE_LIMIT: '100000', QUILL_MAIL_IP_LIMIT: '100000', QUILL_APP_URL: APP }
const WORKER_ENV = {
  QUILL_APP_URL: APP,
  QUILL_WORKER_LISTEN: '127.0.0.1:0',
  QUILL_JOB_QUEUES: 'mail',
  QUILL_JOB_POLL_MS: '100',
  QUILL_JOB_BACKOFF_BASE_MS: '200'
}

// A certificate for 127.0.0.1, so the sink can offer STARTTLS and the worker can check it.
const dir = mkdtempSync(join(tmpdir(), 'quill-smtp-'))
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
  '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
  '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
const CA = join(dir, 'cert.pem')

// The SMTP sink: every mail it accepts, with its envelope, whether TLS carried it and who
// logged in.  options go to SMTPServer (secure: TLS from the start; hideSTARTTLS).
function sink (options = {}) {
  const s = { mails: [], logins: [], port: 0 }
  s.listen = (port = 0) => new Promise((resolve, reject) => {
    s.server = new SMTPServer({
      authOptional: true,
      logger: false,
      key: readFileSync(join(dir, 'key.pem')),
      cert: readFileSync(CA),
      ...options,
      onAuth (auth, session, callback) {
        s.logins.push({ username: auth.username, password: auth.password, secure: session.secure })
        callback(null, { user: auth.username })
      },
      onData (stream, session, callback) {
        const chunks = []
        stream.on('data', (d) => chunks.push(d))
        stream.on('end', () => {
          s.mails.push({
            raw: Buffer.concat(chunks).toString('latin1'),
            from: session.envelope.mailFrom.address,
            to: session.envelope.rcptTo.map((r) => r.address),
            secure: session.secure,
            user: session.user ?? null
          })
          callback()
        })
      }
    })
    s.server.on('error', reject)
    s.server.listen(port, '127.0.0.1', () => { s.port = s.server.server.address().port; resolve(s) })
  })
  s.close = () => new Promise((resolve) => s.server.close(resolve))
  s.to = (email) => s.mails.filter((m) => m.to.includes(email))
  return s
}

// Headers (unfolded, lower-case names, encoded words decoded) and the decoded text body.
function parse (raw) {
  const at = raw.indexOf('\r\n\r\n')
  const headers = {}
  for (const line of raw.slice(0, at).replace(/\r\n[ \t]/g, '').split('\r\n')) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
      .replace(/=\?UTF-8\?B\?([^?]*)\?=/g, (_, b) => Buffer.from(b, 'base64').toString('latin1'))
  }
  for (const k of Object.keys(headers)) headers[k] = Buffer.from(headers[k], 'latin1').toString('utf8')
  let body = raw.slice(at + 4)
  assert.match(headers['content-transfer-encoding'], /quoted-printable/i)
  body = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)))
  return { headers, text: Buffer.from(body, 'latin1').toString('utf8').replace(/\r\n/g, '\n') }
}

function linkToken (mail, path) {
  const m = parse(mail.raw).text.match(new RegExp(`${APP}/${path}#token=(q[rv]_[A-Za-z0-9_-]{43})\\n`))
  assert.ok(m, `a ${path} link in: ${parse(mail.raw).text}`)
  return m[1]
}

async function mailTo (s, email, n = 1) {
  assert.ok(await waitFor(() => s.to(email).length >= n, { timeout: 20000 }), `mail #${n} to ${email}`)
  return s.to(email)[n - 1]
}

let api, worker, smtp
const workerWithSmtp = () => start('quill-worker', {
  ...WORKER_ENV,
  QUILL_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
  QUILL_MAIL_FROM: 'Quill Notifications <quill@example.test>',
  QUILL_SMTP_CA_FILE: CA
}, 'quill-worker ready')

before(async () => {
  smtp = await sink().listen()
  api = await start('quill-api', API_ENV)
  worker = await workerWithSmtp()
})
after(async () => {
  await stop(worker)
  await stop(api)
  await smtp.close()
  rmSync(dir, { recursive: true, force: true })
})

const reset = (email) => http(api, 'POST', '/v1/auth/password-reset', { body: { email } })
const confirm = (token, newPassword = NEW_PW) =>
  http(api, 'POST', '/v1/auth/password-reset/confirm', { body: { token, newPassword } })
const login = (email, password) => http(api, 'POST', '/v1/auth/login', { body: { email, password } })

test('a reset link from the mail sets a new password once and ends every session', async () => {
  const u = await signup(api)
  const other = (await login(u.email, PASSWORD)).body.session.token
  const r = await reset(u.email.toUpperCase())
  assert.equal(r.status, 202)
  assert.equal(r.text, '')
  const mail = await mailTo(smtp, u.email)
  // the message as the server got it: envelope, STARTTLS, headers
  assert.equal(mail.from, 'quill@example.test')
  assert.deepEqual(mail.to, [u.email])
  assert.equal(mail.secure, true, 'STARTTLS was offered, so it was used')
  const { headers, text } = parse(mail.raw)
  assert.equal(headers.from, 'Quill Notifications <quill@example.test>')
  assert.equal(headers.to, `<${u.email}>`)
  assert.equal(headers.subject, 'Reset your Quill password')
  assert.match(headers['message-id'], /^<[0-9a-f-]{36}@example\.test>$/)
  assert.ok(Math.abs(Date.parse(headers.date) - Date.now()) < 3600000, headers.date)
  assert.equal(headers['mime-version'], '1.0')
  assert.equal(headers['content-type'], 'text/plain; charset=UTF-8')
  assert.match(text, /within 30 minutes/)
  const token = linkToken(mail, 'reset-password')
  // the token is stored as a digest only, and the sent mail's body is gone
  const uid = u.user.userId
  assert.equal(sql(`SELECT length(token_digest) FROM email_tokens WHERE user_id = '${uid}'`), '32')
  assert.equal(sql(`SELECT count(*) FROM email_tokens WHERE token_digest = convert_to('${token}', 'UTF8')`), '0')
  assert.ok(await waitFor(() => sql(`SELECT state FROM mail_outbox WHERE user_id = '${uid}'`) === 'sent'))
  assert.equal(sql(`SELECT body IS NULL FROM mail_outbox WHERE user_id = '${uid}'`), 't')
  // use it: every session ends, the new password works, the old one does not
  assert.equal((await confirm(token)).status, 204)
  assert.equal((await http(api, 'GET', '/v1/me', { token: u.token })).status, 401)
  assert.equal((await http(api, 'GET', '/v1/me', { token: other })).status, 401)
  assert.equal((await login(u.email, PASSWORD)).status, 401)
  const fresh = await login(u.email, NEW_PW)
  assert.equal(fresh.status, 200)
  assert.equal(fresh.body.user.emailVerified, true, 'the mail reached its reader')
  // a second use fails
  const again = await confirm(token, 'yet another password')
  assert.equal(again.status, 400)
  assert.equal(again.body.code, 'invalid_token')
  assert.equal((await login(u.email, NEW_PW)).status, 200)
  assert.equal(sql(`SELECT count(*) FROM audit_log WHERE action = 'user.password_reset' AND target_id = '${uid}'`), '1')
  // neither process logged the token, the link or the address
  for (const line of [...api.lines, ...worker.lines]) {
    assert.ok(!line.includes(token.slice(3)), line)
    assert.ok(!line.includes('reset-password'), line)
    assert.ok(!line.includes(u.email), line)
  }
})

test('a reset ends the sessions on every instance at once', async () => {
  // as revocation.test.mjs: the other instance's principal cache hears it (LISTEN/NOTIFY)
  // within a second, and answers 200 until then
  const other = await start('quill-api', API_ENV)
  try {
    const u = await signup(api)
    assert.equal((await http(other, 'GET', '/v1/me', { token: u.token })).status, 200) // cached there
    await reset(u.email)
    const token = linkToken(await mailTo(smtp, u.email), 'reset-password')
    assert.equal((await confirm(token)).status, 204)
    const t0 = Date.now()
    let status
    while ((status = (await http(other, 'GET', '/v1/me', { token: u.token })).status) === 200 && Date.now() - t0 < 1000) {
      await sleep(10)
    }
    assert.equal(status, 401)
  } finally {
    await stop(other)
  }
})

test('an unknown email gets the same answer as a known one, and no mail', async () => {
  const u = await signup(api)
  const nobody = `${uniq('nobody')}@example.com`
  const known = await reset(u.email)
  const unknown = await reset(nobody)
  assert.equal(unknown.status, known.status)
  assert.equal(unknown.text, known.text)
  const names = (r) => [...r.headers.keys()].filter((k) => !['date', 'x-request-id'].includes(k)).sort()
  assert.deepEqual(names(unknown), names(known))
  await mailTo(smtp, u.email)
  // both requests' jobs ran; only the account got a mail
  assert.ok(await waitFor(() => sql(`SELECT count(*) FROM jobs WHERE kind = 'account.password_reset'
    AND payload->>'email' IN ('${u.email}', '${nobody}') AND state = 'succeeded'`) === '2', { timeout: 20000 }))
  assert.equal(smtp.to(nobody).length, 0)
  assert.equal(sql(`SELECT count(*) FROM mail_outbox WHERE recipient = '${nobody}'`), '0')
  // a malformed email is a validation error, the same for everyone
  const bad = await reset('not an email')
  assert.equal(bad.status, 422)
  assert.equal(bad.body.code, 'validation_failed')
})

test('an expired reset link fails and changes nothing', async () => {
  const u = await signup(api)
  await reset(u.email)
  const token = linkToken(await mailTo(smtp, u.email), 'reset-password')
  // thirty minutes pass
  sql(`UPDATE email_tokens SET expires_at = now() - interval '1 second' WHERE user_id = '${u.user.userId}'`)
  const r = await confirm(token)
  assert.equal(r.status, 400)
  assert.equal(r.body.code, 'invalid_token')
  assert.equal((await http(api, 'GET', '/v1/me', { token: u.token })).status, 200)
  assert.equal((await login(u.email, PASSWORD)).status, 200)
})

test('an email verification link from the mail verifies the address once', async () => {
  const u = await signup(api)
  assert.equal(u.user.emailVerified, false)
  const r = await http(api, 'POST', '/v1/me/email-verification', { token: u.token })
  assert.equal(r.status, 202)
  const mail = await mailTo(smtp, u.email)
  assert.equal(parse(mail.raw).headers.subject, 'Confirm your email address for Quill')
  assert.match(parse(mail.raw).text, /within 24 hours/)
  const token = linkToken(mail, 'verify-email')
  const v = await http(api, 'POST', '/v1/auth/verify-email', { body: { token } })
  assert.equal(v.status, 204)
  assert.equal((await http(api, 'GET', '/v1/me', { token: u.token })).body.emailVerified, true)
  const again = await http(api, 'POST', '/v1/auth/verify-email', { body: { token } })
  assert.equal(again.status, 400)
  assert.equal(again.body.code, 'invalid_token')
  const more = await http(api, 'POST', '/v1/me/email-verification', { token: u.token })
  assert.equal(more.status, 409)
  assert.equal((await http(api, 'POST', '/v1/me/email-verification')).status, 401)
})

test('resends are limited per account and per client address', async () => {
  const u = await signup(api)
  for (let i = 0; i < 3; i++) {
    assert.equal((await http(api, 'POST', '/v1/me/email-verification', { token: u.token })).status, 202)
  }
  const over = await http(api, 'POST', '/v1/me/email-verification', { token: u.token })
  assert.equal(over.status, 429)
  assert.equal(over.body.code, 'rate_limited')
  assert.ok(Number(over.headers.get('retry-after')) > 0)
  // per email, for accounts and strangers alike
  const nobody = `${uniq('nobody')}@example.com`
  for (const email of [u.email, nobody]) {
    for (let i = 0; i < 3; i++) assert.equal((await reset(email)).status, 202)
    assert.equal((await reset(email)).status, 429)
  }
  // per address: another quill-api with a low limit, behind a proxy that names a client
  // address of its own (the counters are shared by every instance)
  const strict = await start('quill-api', { ...API_ENV, QUILL_MAIL_IP_LIMIT: '2', QUILL_TRUSTED_PROXIES: '127.0.0.1' })
  const hex = () => Math.floor(Math.random() * 0xffff).toString(16)
  const client = `2001:db8::${hex()}:${hex()}:${hex()}` // a documentation address of its own
  try {
    const statuses = []
    for (let i = 0; i < 3; i++) {
      statuses.push((await http(strict, 'POST', '/v1/auth/password-reset', {
        headers: { 'x-forwarded-for': client },
        body: { email: `${uniq('x')}@example.com` }
      })).status)
    }
    assert.deepEqual(statuses, [202, 202, 429])
  } finally {
    await stop(strict)
  }
})

test('overlapping requests for one email or one user queue three mails at most; the rest are 429', async () => {
  // A pool as wide as the burst, so that the ten requests are in flight together.
  const wide = await start('quill-api', { ...API_ENV, QUILL_DB_POOL: '10' })
  try {
    const u = await signup(wide)
    const burst = (send) => Promise.all(Array.from({ length: 10 }, send))
    const tally = (answers) => {
      const accepted = answers.filter((r) => r.status === 202).length
      const limited = answers.filter((r) => r.status === 429 && r.body.code === 'rate_limited').length
      assert.equal(accepted + limited, 10, answers.map((r) => `${r.status} ${r.body?.code}`).join(', '))
      assert.ok(accepted <= 3, `${accepted} requests were accepted`)
      return accepted
    }
    const resets = tally(await burst(() => http(wide, 'POST', '/v1/auth/password-reset', { body: { email: u.email } })))
    // one job and one row of the limit per accepted request; the refused left none
    assert.equal(sql(`SELECT count(*) FROM jobs WHERE kind = 'account.password_reset' AND payload->>'email' = '${u.email}'`), String(resets))
    assert.equal(sql(`SELECT count(*) FROM login_failures WHERE email = 'mail:reset:${u.email}'`), String(resets))
    const verifications = tally(await burst(() => http(wide, 'POST', '/v1/me/email-verification', { token: u.token })))
    assert.equal(sql(`SELECT count(*) FROM login_failures WHERE email = 'mail:verify:${u.user.userId}'`), String(verifications))
    // and only those mails go out
    await mailTo(smtp, u.email, resets + verifications)
    assert.equal(sql(`SELECT count(*) FROM mail_outbox WHERE user_id = '${u.user.userId}' AND kind = 'password_reset'`), String(resets))
    assert.equal(sql(`SELECT count(*) FROM mail_outbox WHERE user_id = '${u.user.userId}' AND kind = 'email_verification'`), String(verifications))
    await sleep(500) // a mail more would be out by now
    assert.equal(smtp.to(u.email).length, resets + verifications)
  } finally {
    await stop(wide)
  }
})

test('while the SMTP server is down the mail waits in the outbox, and goes out when it is back', async () => {
  const u = await signup(api)
  const port = smtp.port
  await smtp.close()
  try {
    assert.equal((await reset(u.email)).status, 202)
    const admin = { token: ADMIN_TOKEN }
    const waiting = await waitFor(async () => {
      const items = (await http(api, 'GET', '/v1/admin/mail?limit=50', admin)).body.items
      const m = items.find((x) => x.to === u.email)
      return m && m.attempts >= 2 && m
    }, { timeout: 20000 })
    assert.ok(waiting, 'attempts failed while the server was down')
    assert.equal(waiting.state, 'pending')
    assert.ok(waiting.lastError, 'the failure is recorded')
    assert.ok(!waiting.lastError.includes(u.email))
    assert.match(waiting.body, /reset-password#token=qr_/)
  } finally {
    await smtp.listen(port)
  }
  const token = linkToken(await mailTo(smtp, u.email), 'reset-password')
  assert.ok(await waitFor(() => sql(`SELECT state FROM mail_outbox WHERE user_id = '${u.user.userId}'`) === 'sent'))
  assert.equal((await confirm(token)).status, 204)
})

test('without QUILL_SMTP_URL mail stays in the outbox, readable by the operator and on /admin', async () => {
  await stop(worker)
  const local = await start('quill-worker', WORKER_ENV, 'quill-worker ready')
  try {
    assert.ok(local.lines.some((l) => l.includes('QUILL_SMTP_URL is not set')))
    const u = await signup(api)
    const before = smtp.mails.length
    assert.equal((await reset(u.email)).status, 202)
    const admin = { token: ADMIN_TOKEN }
    const held = await waitFor(async () => {
      const items = (await http(api, 'GET', '/v1/admin/mail?limit=50', admin)).body.items
      return items.find((x) => x.to === u.email && x.state === 'held')
    }, { timeout: 20000 })
    assert.ok(held, 'the mail is held')
    assert.equal(held.kind, 'password_reset')
    assert.equal(held.subject, 'Reset your Quill password')
    assert.equal(held.attempts, 0)
    const m = held.body.match(/reset-password#token=(qr_[A-Za-z0-9_-]{43})/)
    assert.ok(m, held.body)
    assert.equal(smtp.mails.length, before, 'nothing was sent')
    // what the outbox stores is sealed: the token is not in it
    assert.equal(sql(`SELECT position(convert_to('${m[1]}', 'UTF8') in body) FROM mail_outbox WHERE mail_id = '${held.mailId}'`), '0')
    assert.equal((await http(api, 'GET', '/v1/admin/mail', { token: u.token })).status, 403)
    // the dashboard shows it, body and all
    const { chromium } = await import('playwright-core')
    const profile = mkdtempSync(join(tmpdir(), 'quill-chromium-'))
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--no-first-run']
    })
    try {
      const page = browser.pages()[0] || await browser.newPage()
      await page.goto(`${api.url}/admin?token=${ADMIN_TOKEN}`)
      const row = page.locator(`tr[data-mail-id="${held.mailId}"]`)
      await row.waitFor({ timeout: 10000 })
      assert.match(await row.innerText(), /held/)
      await row.locator('summary').click()
      assert.match(await row.locator('pre.mail').textContent(), new RegExp(m[1]))
      // after the page's next refresh, what is open stays open
      const shown = await page.locator('#updated').textContent()
      await page.waitForFunction((t) => document.getElementById('updated').textContent !== t, shown, { timeout: 15000 })
      assert.equal(await page.locator(`tr[data-mail-id="${held.mailId}"] details`).evaluate((d) => d.open), true)
    } finally {
      await browser.close()
      rmSync(profile, { recursive: true, force: true })
    }
    // the developer uses the link
    assert.equal((await confirm(m[1])).status, 204)
    assert.equal((await login(u.email, NEW_PW)).status, 200)
    for (const line of [...api.lines, ...local.lines]) assert.ok(!line.includes(m[1].slice(3)), line)
  } finally {
    await stop(local)
    worker = await workerWithSmtp()
  }
})

test('credentials go over TLS only: smtps:// logs in, and a server without STARTTLS gets nothing', async () => {
  await stop(worker)
  const tls = await sink({ secure: true }).listen()
  const plain = await sink({ hideSTARTTLS: true }).listen()
  const admin = { token: ADMIN_TOKEN }
  let w
  try {
    // TLS from the start; credentials in the URL (percent-encoded)
    w = await start('quill-worker', {
      ...WORKER_ENV,
      QUILL_SMTP_URL: `smtps://relay:p%40ss%20word@127.0.0.1:${tls.port}`,
      QUILL_MAIL_FROM: 'quill@example.test',
      QUILL_SMTP_CA_FILE: CA
    }, 'quill-worker ready')
    const u = await signup(api)
    await reset(u.email)
    const mail = await mailTo(tls, u.email)
    assert.equal(mail.secure, true)
    assert.equal(mail.user, 'relay')
    assert.deepEqual(tls.logins, [{ username: 'relay', password: 'p@ss word', secure: true }])
    await stop(w)
    // credentials and a server that offers no STARTTLS: nothing is sent in clear
    w = await start('quill-worker', {
      ...WORKER_ENV,
      QUILL_SMTP_URL: `smtp://127.0.0.1:${plain.port}`,
      QUILL_SMTP_USERNAME: 'relay',
      QUILL_SMTP_PASSWORD: 'p@ss word',
      QUILL_MAIL_FROM: 'quill@example.test'
    }, 'quill-worker ready')
    const v = await signup(api)
    await reset(v.email)
    const stuck = await waitFor(async () => {
      const items = (await http(api, 'GET', '/v1/admin/mail?limit=50', admin)).body.items
      return items.find((x) => x.to === v.email && x.attempts >= 1)
    }, { timeout: 20000 })
    assert.ok(stuck, 'an attempt was made')
    assert.equal(stuck.state, 'pending')
    assert.match(stuck.lastError, /SSL|TLS/i)
    assert.equal(plain.mails.length, 0)
    assert.equal(plain.logins.length, 0)
    for (const line of w.lines) assert.ok(!line.includes('p@ss'), line)
  } finally {
    if (w) await stop(w)
    await tls.close()
    await plain.close()
    worker = await workerWithSmtp()
  }
})

test('erasing an account forgets its mails, its links and what the limits kept of its email', async () => {
  const u = await signup(api)
  const uid = u.user.userId
  await http(api, 'POST', '/v1/me/email-verification', { token: u.token })
  await reset(u.email)
  const token = linkToken(await mailTo(smtp, u.email, 2), 'reset-password')
  assert.ok(Number(sql(`SELECT count(*) FROM mail_outbox WHERE user_id = '${uid}'`)) >= 2)
  const r = await http(api, 'DELETE', '/v1/me', { token: u.token, body: { password: PASSWORD } })
  assert.equal(r.status, 202, r.text)
  assert.equal(sql(`SELECT count(*) FROM mail_outbox WHERE user_id = '${uid}' OR recipient = '${u.email}'`), '0')
  assert.equal(sql(`SELECT count(*) FROM email_tokens WHERE user_id = '${uid}' OR email = '${u.email}'`), '0')
  assert.equal(sql(`SELECT count(*) FROM login_failures WHERE email LIKE '%${u.email}'`), '0')
  assert.equal(sql(`SELECT count(*) FROM jobs WHERE payload::text LIKE '%${u.email}%'`), '0')
  const late = await confirm(token)
  assert.equal(late.status, 400)
  assert.equal(late.body.code, 'invalid_token')
})

test('a bad mail configuration stops quill-worker with a message naming the variable', async () => {
  await assert.rejects(start('quill-worker', { ...WORKER_ENV, QUILL_SMTP_URL: 'smtp://relay:s3cret@127.0.0.1:1' }, 'quill-worker ready'),
    (e) => /QUILL_MAIL_FROM: required when QUILL_SMTP_URL is set/.test(e.message) && !e.message.includes('s3cret'))
  await assert.rejects(start('quill-worker', { ...WORKER_ENV, QUILL_SMTP_URL: 'imap://127.0.0.1', QUILL_MAIL_FROM: 'q@example.test' }, 'quill-worker ready'),
    (e) => /QUILL_SMTP_URL: the scheme must be smtp or smtps/.test(e.message))
})
