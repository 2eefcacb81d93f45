// Webhooks end to end: quill-api registers endpoints, quill-worker fans changes out and
// delivers them to a receiver this test runs on loopback; every delivery is verified with
// the official `standardwebhooks` package.  Retries use a shortened schedule.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { Webhook } from 'standardwebhooks'
import { start, stop, http, sql, sleep, waitFor, signup, makeTeam, addMember, inTurn, teamRow, teamChain } from './lib.mjs'

const ENV = {
  QUILL_AUTH_IP_LIMIT: '100000',
  QUILL_RATE_LIMIT: '100000',
  QUILL_WEBHOOK_ALLOW_PRIVATE: '1',
  QUILL_WEBHOOK_RETRY_SCHEDULE: '300ms,600ms,1200ms',
  QUILL_WEBHOOK_TIMEOUT_MS: '800'
}
const WORKER = { ...ENV, QUILL_WORKER_LISTEN: '127.0.0.1:0', QUILL_JOB_POLL_MS: '100' }

// A receiver: records every request; `answer` decides what each one gets.
function receiver () {
  const r = { got: [], answer: () => 200 }
  r.server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => { body += d })
    req.on('end', () => {
      const hit = { at: Date.now(), headers: req.headers, body, url: req.url }
      r.got.push(hit)
      const a = r.answer(hit, r.got.length)
      if (a === 'hang') return // past the delivery timeout; the socket is closed at the end
      if (typeof a === 'object') {
        setTimeout(() => { res.writeHead(a.status, a.headers); res.end(a.body ?? '') }, a.delay ?? 0)
        return
      }
      res.writeHead(a, { 'content-type': 'text/plain' })
      res.end('thanks')
    })
  })
  r.listen = () => new Promise((resolve) => r.server.listen(0, '127.0.0.1', () => {
    r.url = `http://127.0.0.1:${r.server.address().port}`
    resolve(r)
  }))
  r.close = () => { r.server.closeAllConnections(); return new Promise((resolve) => r.server.close(resolve)) }
  return r
}

let api, worker, owner, team
before(async () => {
  api = await start('quill-api', ENV)
  worker = await start('quill-worker', WORKER, 'quill-worker ready')
  owner = await signup(api)
  team = await makeTeam(api, owner.token)
})
after(async () => {
  await stop(worker)
  await stop(api)
})

const hooks = (tid = team.teamId) => `/v1/teams/${tid}/webhooks`

// The fan-out has read every change committed so far: an endpoint registered now gets only
// what follows (the fan-out looks endpoints up when it reads a change, so one registered
// while it lags would also get the team's earlier changes, such as its owner joining).
const settled = () => waitFor(() => sql(`SELECT count(*) FROM changes c, change_consumers p
  WHERE p.name = 'webhooks' AND (c.txid, c.seq) > (p.txid, p.seq)`) === '0', { timeout: 15000 })

async function register (rx, events, tid = team.teamId, token = owner.token) {
  const r = await http(api, 'POST', hooks(tid), { token, body: { url: `${rx.url}/in`, events, description: 'test' } })
  assert.equal(r.status, 201, r.text)
  return r.body
}

const entry = (content, tid = team.teamId, token = owner.token) =>
  http(api, 'POST', `/v1/teams/${tid}/journal-entries`, { token, body: { content } })

test('an endpoint gets each change it asked for, signed per Standard Webhooks; others get nothing', async () => {
  const rx = await receiver().listen()
  try {
    assert.ok(await settled(), 'the fan-out caught up with the team\'s own changes')
    const h = await register(rx, ['journal_entry.created', 'member.added'])
    assert.match(h.secret, /^whsec_[A-Za-z0-9+/]{43}=$/)
    assert.deepEqual(h.events, ['journal_entry.created', 'member.added'])
    assert.equal(h.disabledAt, null)
    // the list never shows the secret
    const list = await http(api, 'GET', hooks(), { token: owner.token })
    assert.equal(list.status, 200)
    assert.equal(list.body.items[0].webhookId, h.webhookId)
    assert.equal(list.body.items[0].secret, undefined)
    // a team without endpoints makes no deliveries
    const quiet = await makeTeam(api, owner.token)
    const e = await entry('hello webhooks')
    assert.equal(e.status, 201)
    await entry('nobody listens', quiet.teamId)
    const other = await signup(api)
    await addMember(api, owner.token, team.teamId, other.email, 'viewer')
    assert.ok(await waitFor(() => rx.got.length >= 2, { timeout: 10000 }), `got ${rx.got.length}`)
    await sleep(500)
    assert.equal(rx.got.length, 2, 'one delivery per change it asked for')
    const wh = new Webhook(h.secret)
    const payloads = rx.got.map((g) => wh.verify(g.body, g.headers))
    const created = payloads.find((p) => p.type === 'journal_entry.created')
    assert.equal(created.data.journalEntryId, e.body.journalEntryId)
    assert.equal(created.data.content, 'hello webhooks')
    assert.ok(Date.parse(created.timestamp) > 0)
    const added = payloads.find((p) => p.type === 'member.added')
    assert.equal(added.data.teamId, team.teamId)
    assert.equal(added.data.member.userId, other.user.userId)
    for (const g of rx.got) {
      assert.match(g.headers['webhook-id'], /^msg_/)
      assert.equal(g.headers['content-type'], 'application/json')
      assert.ok(Math.abs(Number(g.headers['webhook-timestamp']) - Date.now() / 1000) < 60)
    }
    // a forged signature does not verify
    assert.throws(() => new Webhook('whsec_' + Buffer.alloc(32, 9).toString('base64')).verify(rx.got[0].body, rx.got[0].headers))
    assert.equal(sql(`SELECT count(*) FROM webhook_deliveries WHERE team_id = '${quiet.teamId}'`), '0')
    assert.equal((await http(api, 'DELETE', `${hooks()}/${h.webhookId}`, { token: owner.token })).status, 204)
  } finally {
    await rx.close()
  }
})

test('a failing, then hanging, then recovered receiver sees the retries with one webhook-id and growing gaps', async () => {
  const rx = await receiver().listen()
  rx.answer = (hit, n) => n === 1 ? 500 : n === 2 ? 'hang' : 200
  try {
    const h = await register(rx, ['journal_entry.created'])
    assert.equal((await entry('retry me')).status, 201)
    assert.ok(await waitFor(() => rx.got.length >= 3, { timeout: 15000 }), `got ${rx.got.length}`)
    await sleep(800)
    assert.equal(rx.got.length, 3, 'it stops once a 2xx came')
    const ids = new Set(rx.got.map((g) => g.headers['webhook-id']))
    assert.equal(ids.size, 1, 'the same message id on every attempt')
    assert.equal(new Set(rx.got.map((g) => g.body)).size, 1, 'the same body on every attempt')
    const gap1 = rx.got[1].at - rx.got[0].at
    const gap2 = rx.got[2].at - rx.got[1].at
    assert.ok(gap1 >= 250, `first gap ${gap1} ms`)
    assert.ok(gap2 > gap1, `gaps grow: ${gap1} then ${gap2} ms`)
    const wh = new Webhook(h.secret)
    for (const g of rx.got) wh.verify(g.body, g.headers)
    // every attempt is logged, newest first
    const d = await http(api, 'GET', `${hooks()}/${h.webhookId}/deliveries`, { token: owner.token })
    assert.equal(d.status, 200, d.text)
    assert.deepEqual(d.body.items.map((a) => [a.attempt, a.status, a.responseStatus]),
      [[3, 'succeeded', 200], [2, 'failed', null], [1, 'failed', 500]])
    assert.equal(d.body.items[2].error, 'HTTP 500')
    assert.ok(d.body.items[1].error.length > 0, 'the timeout says why')
    assert.equal(d.body.items[0].event, 'journal_entry.created')
    // a redelivery sends the same message again
    const again = await http(api, 'POST', `${hooks()}/${h.webhookId}/deliveries/${d.body.items[0].deliveryId}/redeliver`, { token: owner.token })
    assert.equal(again.status, 202, again.text)
    assert.ok(await waitFor(() => rx.got.length >= 4, { timeout: 10000 }))
    assert.equal(rx.got[3].headers['webhook-id'], rx.got[0].headers['webhook-id'])
    assert.equal(rx.got[3].body, rx.got[0].body)
    wh.verify(rx.got[3].body, rx.got[3].headers)
    // only admins see or redeliver
    const viewer = await signup(api)
    await addMember(api, owner.token, team.teamId, viewer.email, 'viewer')
    assert.equal((await http(api, 'GET', `${hooks()}/${h.webhookId}/deliveries`, { token: viewer.token })).status, 403)
    await http(api, 'DELETE', `${hooks()}/${h.webhookId}`, { token: owner.token })
  } finally {
    await rx.close()
  }
})

test('two redeliveries asked for at once: every post the endpoint got is an attempt in the list', async () => {
  const rx = await receiver().listen()
  rx.answer = () => ({ status: 200, delay: 400 })
  try {
    const t = await makeTeam(api, owner.token)
    const h = await register(rx, ['journal_entry.created'], t.teamId)
    await entry('asked for twice', t.teamId)
    assert.ok(await waitFor(() => sql(`SELECT state FROM webhook_deliveries WHERE webhook_id = '${h.webhookId}'`) === 'succeeded'))
    const did = sql(`SELECT delivery_id FROM webhook_deliveries WHERE webhook_id = '${h.webhookId}'`)
    const again = `${hooks(t.teamId)}/${h.webhookId}/deliveries/${did}/redeliver`
    const asked = await Promise.all([1, 2].map(() => http(api, 'POST', again, { token: owner.token })))
    assert.deepEqual(asked.map((r) => r.status), [202, 202])
    assert.ok(await waitFor(() => sql(`SELECT count(*) FROM jobs WHERE kind = 'webhook.deliver' AND payload->>'deliveryId' = '${did}' AND state NOT IN ('succeeded', 'discarded')`) === '0', { timeout: 10000 }))
    await sleep(300)
    const d = await http(api, 'GET', `${hooks(t.teamId)}/${h.webhookId}/deliveries`, { token: owner.token })
    assert.equal(d.body.items.length, rx.got.length, `${rx.got.length} posts, attempts ${d.body.items.map((a) => a.attempt)}`)
    assert.deepEqual(d.body.items.map((a) => a.attempt).sort(), rx.got.map((g, i) => i + 1), 'numbered in turn')
  } finally {
    await rx.close()
  }
})

test('a deleted team\'s endpoints get nothing more: its pending deliveries stop posting', async () => {
  const rx = await receiver().listen()
  rx.answer = () => 500 // every attempt fails, so retries stay pending
  try {
    const t = await makeTeam(api, owner.token)
    await register(rx, ['journal_entry.created'], t.teamId)
    assert.equal((await entry('gone with its team', t.teamId)).status, 201)
    assert.ok(await waitFor(() => rx.got.length >= 1, { timeout: 10000 }), 'the first attempt came')
    assert.equal((await http(api, 'DELETE', `/v1/teams/${t.teamId}`, { token: owner.token })).status, 204)
    const gone = Date.now()
    assert.ok(await waitFor(() => sql(`SELECT count(*) FROM webhook_deliveries WHERE team_id = '${t.teamId}' AND state = 'pending'`) === '0', { timeout: 15000 }), 'the delivery ended')
    assert.deepEqual(rx.got.filter((g) => g.at >= gone).map((g) => g.body), [], 'nothing posted after the team was deleted')
  } finally {
    await rx.close()
  }
})

test('an endpoint that keeps failing is disabled, with an audit row, and gets nothing more', async () => {
  // the one worker that delivers here must be this one: an attempt the shared worker ran
  // would count against its own QUILL_WEBHOOK_DISABLE_AFTER (20), and the endpoint would
  // be disabled or not by which worker claimed what
  await stop(worker)
  const w = await start('quill-worker', { ...WORKER, QUILL_WEBHOOK_DISABLE_AFTER: '3', QUILL_WEBHOOK_RETRY_SCHEDULE: '100ms' }, 'quill-worker ready')
  const rx = await receiver().listen()
  rx.answer = () => 503
  try {
    const t = await makeTeam(api, owner.token)
    const h = await register(rx, ['journal_entry.created'], t.teamId)
    for (let i = 0; i < 2; i++) assert.equal((await entry(`fails ${i}`, t.teamId)).status, 201)
    const disabled = await waitFor(async () => {
      const l = await http(api, 'GET', hooks(t.teamId), { token: owner.token })
      return l.body.items[0].disabledAt
    }, { timeout: 15000 })
    assert.ok(disabled, 'the endpoint was disabled')
    assert.equal(sql(`SELECT count(*) FROM audit_log WHERE team_id = '${t.teamId}' AND action = 'webhook.disable' AND actor = 'Job:webhook.deliver'`), '1')
    await sleep(500)
    const before = rx.got.length
    await entry('after the endpoint was disabled', t.teamId)
    await sleep(1500)
    assert.equal(rx.got.length, before, 'nothing more was sent')
    assert.equal(sql(`SELECT count(*) FROM webhook_deliveries WHERE webhook_id = '${h.webhookId}' AND body LIKE '%after the endpoint was disabled%'`), '0')
  } finally {
    await rx.close()
    await stop(w)
    worker = await start('quill-worker', WORKER, 'quill-worker ready')
  }
})

test('an admin removed while their webhook registration waits for the team registers nothing', async () => {
  const admin = await signup(api)
  const t = await makeTeam(api, owner.token)
  await addMember(api, owner.token, t.teamId, admin.email, 'admin')
  const [removal, r] = await inTurn(teamRow(t.teamId),
    () => http(api, 'DELETE', `/v1/teams/${t.teamId}/members/${admin.user.userId}`, { token: owner.token }),
    () => http(api, 'POST', hooks(t.teamId), { token: admin.token, body: { url: 'http://127.0.0.1:9/in', events: ['journal_entry.created'] } }))
  assert.equal(removal.status, 204)
  assert.equal(r.status, 404, r.text)
  assert.deepEqual((await http(api, 'GET', hooks(t.teamId), { token: owner.token })).body.items, [])
})

test('a team has at most 20 endpoints: of two registrations for the last place, made at once, one is refused', async () => {
  const t = await makeTeam(api, owner.token)
  const body = { url: 'http://127.0.0.1:9/in', events: ['export.ready'] }
  for (let i = 0; i < 19; i++) {
    const r = await http(api, 'POST', hooks(t.teamId), { token: owner.token, body })
    assert.equal(r.status, 201, r.text)
  }
  // both are decided under the team's lock, one after the other
  const answers = await inTurn(teamRow(t.teamId),
    () => http(api, 'POST', hooks(t.teamId), { token: owner.token, body }),
    () => http(api, 'POST', hooks(t.teamId), { token: owner.token, body }))
  assert.deepEqual(answers.map((r) => r.status), [201, 409])
  assert.equal(answers[1].body.code, 'conflict')
  assert.match(answers[1].body.detail, /at most 20 webhooks/)
  const list = await http(api, 'GET', `${hooks(t.teamId)}?limit=50`, { token: owner.token })
  assert.equal(list.body.items.length, 20)
  // a deleted endpoint frees its place
  assert.equal((await http(api, 'DELETE', `${hooks(t.teamId)}/${list.body.items[0].webhookId}`, { token: owner.token })).status, 204)
  assert.equal((await http(api, 'POST', hooks(t.teamId), { token: owner.token, body })).status, 201)
})

test('an admin removed while their webhook deletion waits for the team\'s audit chain does not delete it', async () => {
  const admin = await signup(api)
  const t = await makeTeam(api, owner.token)
  await addMember(api, owner.token, t.teamId, admin.email, 'admin')
  const h = await http(api, 'POST', hooks(t.teamId), { token: owner.token, body: { url: 'http://127.0.0.1:9/in', events: ['export.ready'] } })
  assert.equal(h.status, 201, h.text)
  // the removal queues on the chain holding the team; the deletion, decided before it
  // commits, queues behind it
  const [removal, r] = await inTurn(teamChain(t.teamId),
    () => http(api, 'DELETE', `/v1/teams/${t.teamId}/members/${admin.user.userId}`, { token: owner.token }),
    () => http(api, 'DELETE', `${hooks(t.teamId)}/${h.body.webhookId}`, { token: admin.token }))
  assert.equal(removal.status, 204)
  assert.equal(r.status, 404, r.text)
  assert.equal(r.body.detail, 'No such team.')
  assert.deepEqual((await http(api, 'GET', hooks(t.teamId), { token: owner.token })).body.items.map((x) => x.webhookId), [h.body.webhookId])
})

test('an admin removed or demoted while their redelivery waits for the team\'s audit chain sends nothing again', async () => {
  const rx = await receiver().listen()
  try {
    const t = await makeTeam(api, owner.token)
    const h = await register(rx, ['journal_entry.created'], t.teamId)
    await entry('delivered once', t.teamId)
    assert.ok(await waitFor(() => sql(`SELECT state FROM webhook_deliveries WHERE webhook_id = '${h.webhookId}'`) === 'succeeded'))
    const did = sql(`SELECT delivery_id FROM webhook_deliveries WHERE webhook_id = '${h.webhookId}'`)
    const again = `${hooks(t.teamId)}/${h.webhookId}/deliveries/${did}/redeliver`
    const M = `/v1/teams/${t.teamId}/members`
    // the change of role queues on the chain holding the team; the redelivery, decided
    // before it commits, queues behind it
    for (const [change, status] of [[(a) => http(api, 'DELETE', `${M}/${a.user.userId}`, { token: owner.token }), [204, 404]],
      [(a) => http(api, 'PATCH', `${M}/${a.user.userId}`, { token: owner.token, body: { role: 'member' } }), [200, 403]]]) {
      const admin = await signup(api)
      await addMember(api, owner.token, t.teamId, admin.email, 'admin')
      const [changed, r] = await inTurn(teamChain(t.teamId), () => change(admin),
        () => http(api, 'POST', again, { token: admin.token }))
      assert.deepEqual([changed.status, r.status], status, r.text)
    }
    assert.equal(sql(`SELECT state FROM webhook_deliveries WHERE delivery_id = '${did}'`), 'succeeded')
    assert.equal(sql(`SELECT count(*) FROM jobs WHERE kind = 'webhook.deliver' AND payload->>'deliveryId' = '${did}'`), '1', 'no job sends it again')
    assert.equal(sql(`SELECT count(*) FROM audit_log WHERE team_id = '${t.teamId}' AND action = 'webhook.redeliver'`), '0')
  } finally {
    await rx.close()
  }
})

test('SSRF: without QUILL_WEBHOOK_ALLOW_PRIVATE, loopback (however spelt), private, link-local and mapped targets are refused and never connected to', async () => {
  const strictEnv = { ...ENV, QUILL_WEBHOOK_ALLOW_PRIVATE: '0' }
  await stop(worker) // the one worker that delivers here must be the strict one
  const a = await start('quill-api', strictEnv)
  const w = await start('quill-worker', { ...WORKER, ...strictEnv }, 'quill-worker ready')
  const rx = await receiver().listen()
  try {
    const port = new URL(rx.url).port
    const t = await makeTeam(a, owner.token)
    // http is refused at registration
    const plain = await http(a, 'POST', hooks(t.teamId), { token: owner.token, body: { url: `${rx.url}/in`, events: ['journal_entry.created'] } })
    assert.equal(plain.status, 422, plain.text)
    const targets = [`https://127.0.0.1:${port}/in`, `https://[::1]:${port}/in`, 'https://10.0.0.1/in',
      'https://169.254.169.254/latest/meta-data', `https://[::ffff:127.0.0.1]:${port}/in`, `https://localhost:${port}/in`,
      'https://0.0.0.0/in', 'https://[fd00:ec2::254]/in',
      // other spellings of loopback: decimal, octal, hex and short IPv4, mapped IPv6 in hex, ::
      `https://2130706433:${port}/in`, `https://0177.0.0.1:${port}/in`, `https://0x7f.0.0.1:${port}/in`,
      `https://127.1:${port}/in`, `https://[::ffff:7f00:1]:${port}/in`, `https://[::]:${port}/in`]
    for (const url of targets) {
      const r = await http(a, 'POST', hooks(t.teamId), { token: owner.token, body: { url, events: ['journal_entry.created'] } })
      assert.equal(r.status, 201, `${url}: ${r.text}`)
    }
    assert.equal((await http(a, 'POST', `/v1/teams/${t.teamId}/journal-entries`, { token: owner.token, body: { content: 'ssrf' } })).status, 201)
    const done = await waitFor(() => sql(`SELECT count(*) FROM webhook_attempts a JOIN webhooks w USING (webhook_id) WHERE w.team_id = '${t.teamId}'`) === String(targets.length), { timeout: 15000 })
    assert.ok(done, 'one attempt each')
    const errors = sql(`SELECT error FROM webhook_attempts a JOIN webhooks w USING (webhook_id) WHERE w.team_id = '${t.teamId}' AND NOT a.ok`).split('\n')
    assert.equal(errors.length, targets.length)
    for (const e of errors) assert.match(e, /not a public address/)
    assert.equal(sql(`SELECT count(*) FROM webhook_deliveries WHERE team_id = '${t.teamId}' AND state = 'failed'`), String(targets.length))
    await sleep(300)
    assert.equal(rx.got.length, 0, 'nothing reached the receiver')
  } finally {
    await rx.close()
    await stop(w)
    await stop(a)
    worker = await start('quill-worker', WORKER, 'quill-worker ready')
  }
})

test('a redirect is not followed: it is a failed attempt, and its target is never asked', async () => {
  const target = await receiver().listen()
  const rx = await receiver().listen()
  rx.answer = () => ({ status: 302, headers: { location: `${target.url}/stolen` } })
  try {
    const t = await makeTeam(api, owner.token)
    const h = await register(rx, ['journal_entry.created'], t.teamId)
    await entry('redirected', t.teamId)
    assert.ok(await waitFor(() => rx.got.length >= 1, { timeout: 10000 }))
    await sleep(500)
    assert.equal(target.got.length, 0)
    const d = await http(api, 'GET', `${hooks(t.teamId)}/${h.webhookId}/deliveries`, { token: owner.token })
    assert.equal(d.body.items.at(-1).status, 'failed')
    assert.equal(d.body.items.at(-1).responseStatus, 302)
  } finally {
    await rx.close()
    await target.close()
  }
})

test('the /admin dashboard lists a failed delivery and redelivers it in headless Chromium', async () => {
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const { ADMIN_TOKEN } = await import('./lib.mjs')
  const rx = await receiver().listen()
  rx.answer = () => 500
  const t = await makeTeam(api, owner.token)
  const h = await register(rx, ['journal_entry.created'], t.teamId)
  await entry('fails first', t.teamId)
  assert.ok(await waitFor(() => rx.got.length >= 4, { timeout: 15000 }), 'every attempt failed')
  await sleep(300)
  const did = sql(`SELECT delivery_id FROM webhook_deliveries WHERE webhook_id = '${h.webhookId}'`)
  assert.equal(sql(`SELECT state FROM webhook_deliveries WHERE delivery_id = '${did}'`), 'failed')
  rx.answer = () => 200
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
    const button = page.getByRole('button', { name: `Redeliver ${did}` }).first()
    await button.waitFor({ timeout: 10000 })
    assert.match(await page.locator(`tr[data-delivery-id="${did}"]`).first().innerText(), /HTTP 500/)
    const before = rx.got.length
    await button.click()
    assert.ok(await waitFor(() => rx.got.length > before, { timeout: 10000 }), 'sent again')
    assert.equal(rx.got.at(-1).headers['webhook-id'], rx.got[0].headers['webhook-id'])
    assert.ok(await waitFor(() => sql(`SELECT state FROM webhook_deliveries WHERE delivery_id = '${did}'`) === 'succeeded'))
    assert.equal(sql(`SELECT actor FROM audit_log WHERE action = 'webhook.redeliver' AND target_id = '${did}'`), 'Operator')
  } finally {
    await browser.close()
    rmSync(profile, { recursive: true, force: true })
    await rx.close()
  }
})
