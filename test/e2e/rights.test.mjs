// Data rights end to end: two quill-api processes and a quill-worker on one database.  An
// export holds exactly its user's data (two people in one team); an erasure is refused
// while the user is a team's last owner, ends the user's sessions at once on both
// instances (and their live stream), and once its job ran the user's email and name are in
// no column of any table, their entries are gone with tombstones in the team's sync feed,
// and the audit chain still verifies.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, get } from 'node:http'
import { start, stop, http, sql, sleep, waitFor, signup, makeTeam, addMember, makeKey, uniq, run, hold, queued, lockWaits, inTurn, teamRow, teamChain, BIN, DB, PASSWORD } from './lib.mjs'
import { contract } from './contract.mjs'

const ENV = { QUILL_AUTH_IP_LIMIT: '100000', QUILL_RATE_LIMIT: '100000', QUILL_WEBHOOK_ALLOW_PRIVATE: '1' }
let a, b, worker, c
before(async () => {
  a = await start('quill-api', ENV)
  b = await start('quill-api', ENV)
  worker = await start('quill-worker', { ...ENV, QUILL_WORKER_LISTEN: '127.0.0.1:0', QUILL_JOB_POLL_MS: '100' }, 'quill-worker ready')
  c = await contract(a, http)
})
after(async () => { await stop(worker); await stop(a); await stop(b) })

// A person with a name and an email no other test uses.
async function person (api, tag) {
  const name = `${tag} ${uniq('name')}`
  const u = await signup(api, `${uniq(tag.toLowerCase())}@example.com`, { displayName: name })
  return { ...u, name }
}

async function entry (api, token, teamId, content) {
  const r = await http(api, 'POST', `/v1/teams/${teamId}/journal-entries`, { token, body: { content } })
  assert.equal(r.status, 201, r.text)
  return r.body
}

// Ask for an export and wait until the worker has built it; the GET response.
async function exported (api, token) {
  const r = await c.checked(api, 'POST', '/v1/me/exports', { token })
  assert.equal(r.status, 202, r.text)
  assert.equal(r.body.status, 'pending')
  assert.equal(r.headers.get('location'), `/v1/me/exports/${r.body.exportId}`)
  const done = await waitFor(async () => {
    const g = await c.checked(api, 'GET', `/v1/me/exports/${r.body.exportId}`, { token })
    return g.body.status === 'ready' && g
  }, { timeout: 15000 })
  assert.ok(done, 'the export was built')
  return done.body
}

// The tables (and rows) whose text holds s anywhere: every column of every table.
function tablesHolding (s) {
  return sql(`SELECT coalesce(string_agg(table_name || ':' || n, ','), '') FROM (
      SELECT table_name, (xpath('/row/c/text()', query_to_xml(format(
        'SELECT count(*) AS c FROM %I x WHERE strpos(x::text, %L) > 0', table_name, '${s.replace(/'/g, "''")}'),
        false, true, '')))[1]::text::int AS n
      FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE') t
    WHERE n > 0`)
}

test('an export holds exactly its user\'s data, and its webhook event says only that it is ready', async () => {
  const ada = await person(a, 'Ada'); const bo = await person(a, 'Bo')
  const team = await makeTeam(a, ada.token)
  await addMember(a, ada.token, team.teamId, bo.email, 'member')
  const mine = [await entry(a, ada.token, team.teamId, 'Ada writes one'), await entry(a, ada.token, team.teamId, 'Ada writes two')]
  const theirs = [await entry(a, bo.token, team.teamId, 'Bo writes one'), await entry(a, bo.token, team.teamId, 'Bo writes two')]
  const key = await makeKey(a, ada.token, team.teamId)
  // a receiver for the team's export.ready events
  const got = []
  const rx = createServer((req, res) => { let s = ''; req.on('data', (d) => { s += d }); req.on('end', () => { got.push(JSON.parse(s)); res.end('ok') }) })
  await new Promise((resolve) => rx.listen(0, '127.0.0.1', resolve))
  try {
    const h = await http(a, 'POST', `/v1/teams/${team.teamId}/webhooks`, { token: ada.token, body: { url: `http://127.0.0.1:${rx.address().port}/in`, events: ['export.ready'] } })
    assert.equal(h.status, 201, h.text)
    const x = await exported(a, ada.token)
    const d = x.data
    assert.equal(d.format, 'quill.export/1')
    assert.equal(d.exportId, x.exportId)
    assert.equal(d.account.userId, ada.user.userId)
    assert.equal(d.account.email, ada.email)
    assert.equal(d.account.displayName, ada.name)
    assert.deepEqual(d.memberships.map((m) => [m.teamId, m.role]), [[team.teamId, 'owner']])
    assert.deepEqual(d.journalEntries.map((e) => e.journalEntryId).sort(), mine.map((e) => e.journalEntryId).sort())
    assert.deepEqual(d.apiKeys.map((k) => k.apiKeyId), [key.apiKeyId])
    assert.equal(d.sessions.length, 1)
    assert.ok(d.auditLog.length >= 5)
    for (const row of d.auditLog) assert.ok(row.actor === `User:${ada.user.userId}` || row.targetId === ada.user.userId, JSON.stringify(row))
    // nobody else's data, and no secret
    const text = JSON.stringify(d)
    for (const s of [bo.email, bo.name, ...theirs.map((e) => e.journalEntryId), 'Bo writes', key.key, PASSWORD, ada.token]) assert.ok(!text.includes(s), `the export holds ${s}`)
    assert.doesNotMatch(text, /digest|password_hash|\$argon2/i)
    // only its user reads it; the event carries ids, not data
    assert.equal((await c.checked(a, 'GET', `/v1/me/exports/${x.exportId}`, { token: bo.token })).status, 404)
    assert.equal((await c.checked(a, 'GET', '/v1/me/exports/nonsense', { token: ada.token })).status, 422)
    assert.equal((await c.checked(a, 'GET', `/v1/me/exports/${x.exportId}`)).status, 401)
    assert.ok(await waitFor(() => got.length > 0, { timeout: 10000 }), 'export.ready was delivered')
    assert.equal(got[0].type, 'export.ready')
    assert.deepEqual(got[0].data, { teamId: team.teamId, exportId: x.exportId, userId: ada.user.userId, status: 'ready', expiresAt: x.expiresAt })
    // Bo administers no team: his export is announced nowhere (the change would have been
    // written with the export's ready state, in one transaction)
    const bx = await exported(a, bo.token)
    assert.equal(sql(`SELECT count(*) FROM changes WHERE entity_id = '${bx.exportId}'`), '0')
    assert.equal(sql(`SELECT count(*) FROM changes WHERE entity_id = '${x.exportId}'`), '1')
  } finally { rx.closeAllConnections(); rx.close() }
})

// Read a team's sync feed from cursor to its end; every change.
async function feed (api, token, teamId, cursor) {
  const out = []
  for (;;) {
    const r = await http(api, 'GET', `/v1/teams/${teamId}/sync?${cursor ? `since=${cursor}&` : ''}limit=200`, { token })
    assert.equal(r.status, 200, r.text)
    out.push(...r.body.changes)
    cursor = r.body.nextCursor
    if (!r.body.hasMore) return { changes: out, cursor }
  }
}

test('erasure: refused for a last owner, sessions end at once, nothing of the person is left, the chain verifies', async () => {
  const owner = await person(a, 'Owner')
  const idem = uniq('idem')
  const email = `${uniq('erasable')}@example.com`; const name = `Erasable ${uniq('name')}`
  const s = await http(a, 'POST', '/v1/auth/signup', { headers: { 'idempotency-key': idem }, body: { email, password: PASSWORD, displayName: name } })
  assert.equal(s.status, 201)
  const bo = { email, name, token: s.body.session.token, user: s.body.user }
  const team = await makeTeam(a, owner.token)
  await addMember(a, owner.token, team.teamId, bo.email, 'member')
  const own = await makeTeam(a, bo.token, `Bo's own ${uniq('t')}`)
  const live = await entry(a, bo.token, team.teamId, `${name} wrote this`)
  const gone = await entry(a, bo.token, team.teamId, 'and deleted this')
  assert.equal((await http(a, 'DELETE', `/v1/teams/${team.teamId}/journal-entries/${gone.journalEntryId}`, { token: bo.token })).status, 204)
  const kept = await entry(a, owner.token, team.teamId, 'the owner stays')
  await exported(a, bo.token)
  assert.match(tablesHolding(email), /users:1/) // the search finds what is there
  assert.match(tablesHolding(name), /export_parts:1/)
  const { cursor } = await feed(a, owner.token, team.teamId)
  // a second session, on the other instance, and a live stream there
  const login = await http(b, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } })
  assert.equal(login.status, 200)
  const other = login.body.session.token
  const stream = await new Promise((resolve, reject) => {
    const req = get(`${b.url}/v1/teams/${team.teamId}/sync/stream`, { headers: { authorization: `Bearer ${other}` } }, (res) => {
      assert.equal(res.statusCode, 200)
      res.on('data', () => {})
      resolve({ ended: new Promise((resolve) => { res.on('end', resolve); res.on('close', resolve) }), req })
    })
    req.on('error', reject)
  })
  for (let i = 0; i < 3; i++) assert.equal((await http(b, 'GET', '/v1/me', { token: other })).status, 200) // cached on b
  // re-authentication, then the last-owner rule
  const wrong = await c.checked(a, 'DELETE', '/v1/me', { token: bo.token, body: { password: 'not the password' } })
  assert.equal(wrong.status, 422)
  assert.equal(wrong.body.errors[0].field, 'password')
  const refused = await c.checked(a, 'DELETE', '/v1/me', { token: bo.token, body: { password: PASSWORD } })
  assert.equal(refused.status, 409)
  assert.equal(refused.body.code, 'conflict')
  assert.ok(refused.body.detail.includes(own.name), refused.body.detail)
  assert.deepEqual(refused.body.errors, [{ field: own.teamId, code: 'last_owner', message: own.name }])
  assert.equal((await http(a, 'GET', '/v1/me', { token: bo.token })).status, 200)
  assert.equal((await http(a, 'DELETE', `/v1/teams/${own.teamId}`, { token: bo.token })).status, 204)
  // erased: every session stops, here at once and on the other instance within a second
  const r = await c.checked(a, 'DELETE', '/v1/me', { token: bo.token, body: { password: PASSWORD, code: null } })
  assert.equal(r.status, 202, r.text)
  assert.deepEqual(r.body, { userId: bo.user.userId, status: 'erasing' })
  assert.match(r.headers.get('set-cookie'), /quill_session=;.*Max-Age=0/)
  assert.equal((await http(a, 'GET', '/v1/me', { token: bo.token })).status, 401)
  assert.ok(await waitFor(async () => (await http(b, 'GET', '/v1/me', { token: other })).status === 401, { timeout: 1000, every: 10 }), 'the other instance still accepts his session')
  await Promise.race([stream.ended, sleep(5000).then(() => assert.fail('his stream is still open'))])
  // the job: his entries go, with tombstones in the team's feed
  const done = await waitFor(() => sql(`SELECT state FROM jobs WHERE kind = 'account.erase' AND payload->>'userId' = '${bo.user.userId}'`) === 'succeeded', { timeout: 15000 })
  assert.ok(done, 'the erasure job ran')
  const after = await feed(a, owner.token, team.teamId, cursor)
  const deletes = after.changes.filter((ch) => ch.operation === 'delete').map((ch) => `${ch.type}:${ch.id}`)
  assert.ok(deletes.includes(`journalEntry:${live.journalEntryId}`), JSON.stringify(after.changes))
  assert.ok(deletes.includes(`member:${bo.user.userId}`), JSON.stringify(after.changes))
  assert.ok(!deletes.includes(`journalEntry:${kept.journalEntryId}`))
  const list = await http(a, 'GET', `/v1/teams/${team.teamId}/journal-entries`, { token: owner.token })
  assert.deepEqual(list.body.items.map((e) => e.journalEntryId), [kept.journalEntryId])
  // nothing of the person in any column of any table: not the email, not the name
  assert.equal(tablesHolding(email), '')
  assert.equal(tablesHolding(name), '')
  assert.equal(sql(`SELECT count(*) FROM idempotency_keys WHERE key = '${idem}'`), '0')
  assert.equal(sql(`SELECT count(*) FROM journal_entries WHERE author_user_id = '${bo.user.userId}'`), '0')
  // his audit rows stay under his id, which now leads nowhere; the chain verifies
  assert.ok(Number(sql(`SELECT count(*) FROM audit_log WHERE actor = 'User:${bo.user.userId}'`)) > 0)
  const v = await run(`${BIN}/quill-admin`, ['audit-verify'], { DATABASE_URL: DB })
  assert.equal(v.code, 0, v.stdout + v.stderr)
  assert.match(v.stdout, /audit log verified/)
  // nobody signs in as him any more; the email may sign up again, as a new account
  assert.equal((await http(a, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } })).status, 401)
  const again = await signup(a, email)
  assert.notEqual(again.user.userId, bo.user.userId)
})

test('a member add that waited for the team while its user was erased leaves no membership of the erased user', async () => {
  const owner = await person(a, 'Owner')
  const e = await person(a, 'Erased')
  const t = await makeTeam(a, owner.token)
  // the add has found the user by email and waits for the team's lock
  const lock = await hold(teamRow(t.teamId))
  const add = http(a, 'POST', `/v1/teams/${t.teamId}/members`, { token: owner.token, body: { email: e.email, role: 'owner' } })
  await queued(1)
  // the erasure either waits for the add (then it sees the membership) or finishes, with
  // its job, before the add goes on
  let erased = null
  const erasure = http(a, 'DELETE', '/v1/me', { token: e.token, body: { password: PASSWORD } }).then((r) => { erased = r; return r })
  assert.ok(await waitFor(() => erased !== null || lockWaits() === 2), 'the erasure neither finished nor waited')
  const job = () => sql(`SELECT state FROM jobs WHERE kind = 'account.erase' AND payload->>'userId' = '${e.user.userId}'`) === 'succeeded'
  if (erased) assert.ok(await waitFor(job, { timeout: 15000 }), 'the erasure job ran')
  await lock.release()
  const [added, r] = await Promise.all([add, erasure])
  assert.equal(r.status, 202, r.text)
  assert.ok([201, 404].includes(added.status), added.text)
  assert.ok(await waitFor(job, { timeout: 15000 }), 'the erasure job ran')
  assert.equal(sql(`SELECT count(*) FROM team_members WHERE user_id = '${e.user.userId}'`), '0', 'the erased user is a member of no team')
  assert.equal(sql(`SELECT string_agg(m.user_id::text, ',') FROM team_members m WHERE m.team_id = '${t.teamId}' AND m.role = 'owner'`), owner.user.userId)
})

test('an erasure that waited for a member add being made checks and removes that membership itself', async () => {
  const owner = await person(a, 'Owner')
  const e = await person(a, 'Erased')
  const t = await makeTeam(a, owner.token)
  // the add holds the team and the user's row and waits for the team's audit chain; the
  // erasure, which read the user's memberships before the add commits, waits for the row
  const [added, r] = await inTurn(teamChain(t.teamId),
    () => http(a, 'POST', `/v1/teams/${t.teamId}/members`, { token: owner.token, body: { email: e.email, role: 'owner' } }),
    () => http(a, 'DELETE', '/v1/me', { token: e.token, body: { password: PASSWORD } }))
  assert.equal(added.status, 201, added.text)
  assert.equal(r.status, 202, r.text)
  // removed by the request, under the team's lock, not left to the job
  assert.equal(sql(`SELECT actor FROM audit_log WHERE team_id = '${t.teamId}' AND action = 'member.erase'`), `User:${e.user.userId}`)
  assert.ok(await waitFor(() => sql(`SELECT state FROM jobs WHERE kind = 'account.erase' AND payload->>'userId' = '${e.user.userId}'`) === 'succeeded', { timeout: 15000 }))
  assert.equal(sql(`SELECT count(*) FROM team_members WHERE user_id = '${e.user.userId}'`), '0')
})

test('a team created by a user whose erasure commits meanwhile is not made with the erased account as owner', async () => {
  const e = await person(a, 'Erased')
  const name = `Made while erased ${uniq('t')}`
  // the erasure holds the user's row and waits for the account chain; the new team's owner
  // row waits for the user's row
  const [r, made] = await inTurn(`SELECT 1 FROM audit_heads WHERE chain = 'account' FOR UPDATE`,
    () => http(a, 'DELETE', '/v1/me', { token: e.token, body: { password: PASSWORD } }),
    () => http(a, 'POST', '/v1/teams', { token: e.token, body: { name } }))
  assert.equal(r.status, 202, r.text)
  assert.equal(made.status, 401, made.text)
  assert.equal(sql(`SELECT count(*) FROM teams WHERE name = '${name}'`), '0')
  assert.equal(sql(`SELECT count(*) FROM team_members WHERE user_id = '${e.user.userId}'`), '0')
})

test('an erasure needs a session of its own user and a JSON body', async () => {
  const u = await person(a, 'Someone')
  const t = await makeTeam(a, u.token)
  const k = await makeKey(a, u.token, t.teamId)
  assert.equal((await c.checked(a, 'DELETE', '/v1/me', { token: k.key, body: { password: PASSWORD } })).status, 403)
  assert.equal((await c.checked(a, 'DELETE', '/v1/me', { body: { password: PASSWORD } })).status, 401)
  assert.equal((await c.checked(a, 'DELETE', '/v1/me', { token: u.token, raw: 'x', headers: { 'content-type': 'application/json' } })).status, 400)
  assert.equal((await c.checked(a, 'DELETE', '/v1/me', { token: u.token, raw: '{}', headers: { 'content-type': 'text/plain' } })).status, 415)
  assert.equal((await c.checked(a, 'DELETE', '/v1/me', { token: u.token, body: { password: PASSWORD, extra: 1 } })).status, 422)
  assert.equal((await c.checked(a, 'POST', '/v1/me/exports', { token: k.key })).status, 403)
})

test('an export larger than a request may be is built in parts and served whole', async () => {
  const u = await person(a, 'Writer')
  const t = await makeTeam(a, u.token)
  const n = 70 // 7 MB of entries: past the request memory limit, within QUILL_EXPORT_MAX_MB
  for (let i = 0; i < n; i++) await entry(a, u.token, t.teamId, String.fromCharCode(97 + (i % 26)).repeat(100000))
  const x = await exported(a, u.token)
  assert.equal(x.data.journalEntries.length, n)
  assert.ok(Number(sql(`SELECT count(*) FROM export_parts WHERE export_id = '${x.exportId}'`)) >= 20)
  assert.ok(Number(sql(`SELECT max(length(data)) FROM export_parts WHERE export_id = '${x.exportId}'`)) < 400000)
})
