// Journal entries, prompts and idempotent writes over real HTTP; every response is checked
// against the OpenAPI document.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { start, stop, http, raw, signup, makeTeam, addMember, makeKey, uniq, sql, run, psqlSession, waitFor, inTurn, teamRow, teamChain, BIN, DB } from './lib.mjs'
import { contract } from './contract.mjs'

let api, c, owner, member, viewer, admin, outsider, team, keyMember
const ENV = { QUILL_AUTH_IP_LIMIT: '100000', QUILL_RATE_LIMIT: '100000' }
before(async () => {
  api = await start('quill-api', ENV)
  c = await contract(api, http)
  owner = await signup(api); member = await signup(api); viewer = await signup(api)
  admin = await signup(api); outsider = await signup(api)
  team = await makeTeam(api, owner.token)
  await addMember(api, owner.token, team.teamId, member.email, 'member')
  await addMember(api, owner.token, team.teamId, viewer.email, 'viewer')
  await addMember(api, owner.token, team.teamId, admin.email, 'admin')
  keyMember = (await makeKey(api, owner.token, team.teamId, 'member')).key
})
after(async () => { await stop(api) })

const E = () => `/v1/teams/${team.teamId}/journal-entries`
const problem = (r, status, code) => { assert.equal(r.status, status, r.text); assert.equal(r.body.code, code, r.text) }

test('POST an entry: 201 with Location and ETag; GET it back; 304 on If-None-Match', async () => {
  const r = await c.checked(api, 'POST', E(), { token: member.token, body: { content: 'First light 🌅' } })
  assert.equal(r.status, 201)
  assert.equal(r.headers.get('location'), `${E()}/${r.body.journalEntryId}`)
  const etag = r.headers.get('etag')
  assert.match(etag, /^"\d+"$/)
  assert.equal(r.body.authorUserId, member.user.userId)
  assert.equal(r.body.authorApiKeyId, null)
  assert.equal(r.body.deletedAt, null)
  const g = await c.checked(api, 'GET', `${E()}/${r.body.journalEntryId}`, { token: viewer.token })
  assert.deepEqual(g.body, r.body)
  assert.equal(g.headers.get('etag'), etag)
  const nm = await c.checked(api, 'GET', `${E()}/${r.body.journalEntryId}`, { token: viewer.token, headers: { 'if-none-match': etag } })
  assert.equal(nm.status, 304)
  assert.equal(nm.text, '')
  assert.equal(nm.headers.get('etag'), etag)
})

test('entries written with an API key carry authorApiKeyId', async () => {
  const r = await c.checked(api, 'POST', E(), { token: keyMember, body: { content: 'from a key' } })
  assert.equal(r.status, 201)
  assert.equal(r.body.authorUserId, null)
  assert.ok(r.body.authorApiKeyId)
})

test('content rules: 1 to 100,000 characters of UTF-8 without NUL; unknown fields refused', async () => {
  problem(await c.checked(api, 'POST', E(), { token: member.token, body: { content: '' } }), 422, 'validation_failed')
  problem(await c.checked(api, 'POST', E(), { token: member.token, body: {} }), 422, 'validation_failed')
  problem(await c.checked(api, 'POST', E(), { token: member.token, body: { content: 5 } }), 422, 'validation_failed')
  problem(await c.checked(api, 'POST', E(), { token: member.token, body: { content: 'x', mood: 'happy' } }), 422, 'validation_failed')
  const max = await c.checked(api, 'POST', E(), { token: member.token, body: { content: 'é'.repeat(100000) } })
  assert.equal(max.status, 201)
  const over = await c.checked(api, 'POST', E(), { token: member.token, body: { content: 'a'.repeat(100001) } })
  problem(over, 422, 'validation_failed')
  assert.equal(over.body.errors[0].field, 'content')
  assert.equal(over.body.errors[0].code, 'too_long')
  const escaped = await c.checked(api, 'POST', E(), { token: member.token, raw: '{"content":"a\\u0000b"}', headers: { 'content-type': 'application/json' } })
  problem(escaped, 422, 'validation_failed')
  assert.equal(escaped.body.errors[0].field, 'content')
  // a raw NUL byte inside the string: refused as well, never stored cut short
  const before = sql('SELECT count(*) FROM journal_entries')
  const rawNul = await c.checked(api, 'POST', E(), { token: member.token, raw: Buffer.from('{"content":"ab\u0000cd"}', 'latin1'), headers: { 'content-type': 'application/json' } })
  problem(rawNul, 422, 'validation_failed')
  assert.equal(rawNul.body.errors[0].field, 'content')
  assert.equal(sql('SELECT count(*) FROM journal_entries'), before)
  // an invalid UTF-8 byte, sent as raw bytes
  const bad = await raw(api.port, Buffer.from(`POST ${E()} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${member.token}\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{"content":"\xff"}`, "latin1"))
  assert.match(bad.data, /^HTTP\/1\.1 422 /)
  problem(await c.checked(api, 'POST', E(), { token: member.token, raw: 'content=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported_media_type')
  problem(await c.checked(api, 'POST', E(), { token: member.token, raw: '{"content":', headers: { 'content-type': 'application/json' } }), 400, 'malformed_json')
})

test('roles: viewers and outsiders cannot write; outsiders cannot read', async () => {
  problem(await c.checked(api, 'POST', E(), { token: viewer.token, body: { content: 'x' } }), 403, 'forbidden')
  problem(await c.checked(api, 'POST', E(), { token: outsider.token, body: { content: 'x' } }), 404, 'not_found')
  problem(await c.checked(api, 'GET', E(), { token: outsider.token }), 404, 'not_found')
  problem(await c.checked(api, 'GET', E()), 401, 'unauthenticated')
})

test('PATCH: author or admin; If-Match mismatch is 412; ETag changes with every edit', async () => {
  const e = (await c.checked(api, 'POST', E(), { token: member.token, body: { content: 'draft' } })).body
  const url = `${E()}/${e.journalEntryId}`
  const first = (await c.checked(api, 'GET', url, { token: member.token })).headers.get('etag')
  problem(await c.checked(api, 'PATCH', url, { token: viewer.token, body: { content: 'x' } }), 403, 'forbidden')
  const other = await signup(api)
  await addMember(api, owner.token, team.teamId, other.email, 'member')
  problem(await c.checked(api, 'PATCH', url, { token: other.token, body: { content: 'x' } }), 403, 'forbidden')
  problem(await c.checked(api, 'PATCH', url, { token: keyMember, body: { content: 'x' } }), 403, 'forbidden')
  const p = await c.checked(api, 'PATCH', url, { token: member.token, headers: { 'if-match': first }, body: { content: 'final' } })
  assert.equal(p.status, 200)
  assert.equal(p.body.content, 'final')
  const second = p.headers.get('etag')
  assert.notEqual(second, first)
  assert.ok(Date.parse(p.body.updatedAt) > Date.parse(p.body.createdAt))
  problem(await c.checked(api, 'PATCH', url, { token: member.token, headers: { 'if-match': first }, body: { content: 'stale' } }), 412, 'precondition_failed')
  const byAdmin = await c.checked(api, 'PATCH', url, { token: admin.token, body: { content: 'moderated' } })
  assert.equal(byAdmin.status, 200)
  problem(await c.checked(api, 'PATCH', url, { token: member.token, body: {} }), 422, 'validation_failed')
  problem(await c.checked(api, 'PATCH', `${E()}/${uniqId()}`, { token: member.token, body: { content: 'x' } }), 404, 'not_found')
})

function uniqId () {
  const h = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-7${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`
}

test('DELETE is a soft delete: later GET is 404 and the row stays with deleted_at', async () => {
  const e = (await c.checked(api, 'POST', E(), { token: member.token, body: { content: 'to go' } })).body
  const url = `${E()}/${e.journalEntryId}`
  problem(await c.checked(api, 'DELETE', url, { token: member.token, headers: { 'if-match': '"999"' } }), 412, 'precondition_failed')
  assert.equal((await c.checked(api, 'DELETE', url, { token: member.token })).status, 204)
  problem(await c.checked(api, 'GET', url, { token: member.token }), 404, 'not_found')
  problem(await c.checked(api, 'DELETE', url, { token: member.token }), 404, 'not_found')
  assert.equal(sql(`SELECT deleted_at IS NOT NULL FROM journal_entries WHERE journal_entry_id = '${e.journalEntryId}'`), 't')
  const list = (await c.checked(api, 'GET', `${E()}?limit=200`, { token: member.token })).body.items
  assert.ok(!list.some((x) => x.journalEntryId === e.journalEntryId))
})

test('prompts: global ones and the team\'s own, merged; admins create and delete; globals are 403', async () => {
  // the 54 global prompts of migration 0002, nine in each of six categories
  const all = await c.checked(api, 'GET', `/v1/teams/${team.teamId}/prompts?limit=200`, { token: viewer.token })
  assert.equal(all.body.items.length, 54)
  assert.equal(all.body.nextCursor, null)
  assert.ok(all.body.items.every((p) => p.teamId === null))
  const cats = [...new Set(all.body.items.map((p) => p.category))].sort()
  assert.deepEqual(cats, ['creativity', 'goals', 'gratitude', 'reflection', 'wellbeing', 'work'])
  const goals = await c.checked(api, 'GET', `/v1/teams/${team.teamId}/prompts?category=goals`, { token: viewer.token })
  assert.equal(goals.body.items.length, 9)
  assert.ok(goals.body.items.every((p) => p.category === 'goals'))
  problem(await c.checked(api, 'POST', `/v1/teams/${team.teamId}/prompts`, { token: member.token, body: { text: 'Q?', category: 'team' } }), 403, 'forbidden')
  const mine = await c.checked(api, 'POST', `/v1/teams/${team.teamId}/prompts`, { token: admin.token, body: { text: 'What did we ship?', category: 'team' } })
  assert.equal(mine.status, 201)
  assert.equal(mine.body.teamId, team.teamId)
  const merged = await c.checked(api, 'GET', `/v1/teams/${team.teamId}/prompts?limit=200`, { token: viewer.token })
  assert.ok(merged.body.items.some((p) => p.promptId === mine.body.promptId))
  const other = await makeTeam(api, outsider.token)
  const theirs = (await c.checked(api, 'GET', `/v1/teams/${other.teamId}/prompts?limit=200`, { token: outsider.token })).body.items
  assert.ok(!theirs.some((p) => p.promptId === mine.body.promptId), 'team prompts stay in their team')
  // entries may use a global prompt or the team's, and filter by it
  const withPrompt = await c.checked(api, 'POST', E(), { token: member.token, body: { content: 'answer', promptId: mine.body.promptId } })
  assert.equal(withPrompt.body.promptId, mine.body.promptId)
  const byPrompt = await c.checked(api, 'GET', `${E()}?promptId=${mine.body.promptId}`, { token: member.token })
  assert.deepEqual(byPrompt.body.items.map((x) => x.journalEntryId), [withPrompt.body.journalEntryId])
  problem(await c.checked(api, 'POST', `/v1/teams/${other.teamId}/journal-entries`, { token: outsider.token, body: { content: 'x', promptId: mine.body.promptId } }), 422, 'validation_failed')
  const globalId = all.body.items[0].promptId
  problem(await c.checked(api, 'DELETE', `/v1/teams/${team.teamId}/prompts/${globalId}`, { token: admin.token }), 403, 'forbidden')
  assert.equal((await c.checked(api, 'DELETE', `/v1/teams/${team.teamId}/prompts/${mine.body.promptId}`, { token: admin.token })).status, 204)
  problem(await c.checked(api, 'DELETE', `/v1/teams/${team.teamId}/prompts/${mine.body.promptId}`, { token: admin.token }), 404, 'not_found')
})

test('the daily prompt is never a deleted one: a pick deleted during the day is picked again', async () => {
  const t = await makeTeam(api, owner.token)
  const P = `/v1/teams/${t.teamId}/prompts`
  const mine = await c.checked(api, 'POST', P, { token: owner.token, body: { text: 'What would you redo?', category: 'team' } })
  assert.equal((await c.checked(api, 'GET', `${P}/daily`, { token: owner.token })).status, 200)
  // today's pick is the team's own prompt (the pick is a hash: set it rather than search for it)
  sql(`UPDATE daily_prompts SET prompt_id = '${mine.body.promptId}' WHERE team_id = '${t.teamId}'`)
  assert.equal((await c.checked(api, 'GET', `${P}/daily`, { token: owner.token })).body.promptId, mine.body.promptId)
  assert.equal((await c.checked(api, 'DELETE', `${P}/${mine.body.promptId}`, { token: owner.token })).status, 204)
  const d = await c.checked(api, 'GET', `${P}/daily`, { token: owner.token })
  assert.equal(d.status, 200, d.text)
  assert.notEqual(d.body.promptId, mine.body.promptId)
  assert.equal(d.body.deletedAt, null)
  // the new pick stays for the rest of the day
  assert.deepEqual((await c.checked(api, 'GET', `${P}/daily`, { token: owner.token })).body, d.body)
})

test('keyset pages stay correct while another client inserts', async () => {
  const t = await makeTeam(api, owner.token)
  const url = `/v1/teams/${t.teamId}/journal-entries`
  const post = async (content) => {
    const r = await http(api, 'POST', url, { token: owner.token, body: { content } })
    assert.equal(r.status, 201, r.text)
    return r.body.journalEntryId
  }
  const before = []
  for (let i = 0; i < 25; i++) before.push(await post(`old ${i}`))
  // Another client inserts between every two pages: newer entries, which the pages already
  // read past; the walk must still see every older entry exactly once, newest first.
  const seen = []
  const inserted = []
  let cursor = null
  let pages = 0
  do {
    const r = await c.checked(api, 'GET', `${url}?limit=4${cursor ? `&cursor=${cursor}` : ''}`, { token: owner.token })
    assert.equal(r.status, 200)
    seen.push(...r.body.items.map((x) => x.journalEntryId))
    cursor = r.body.nextCursor
    pages++
    inserted.push(await post('concurrent'))
  } while (cursor)
  assert.equal(pages, 7) // 25 entries, 4 a page
  assert.equal(inserted.length, 7)
  assert.deepEqual(seen, [...before].reverse(), 'every entry that existed, once, newest first; none inserted later')
  problem(await c.checked(api, 'GET', `${url}?limit=0`, { token: owner.token }), 422, 'validation_failed')
  problem(await c.checked(api, 'GET', `${url}?cursor=not-a-cursor`, { token: owner.token }), 422, 'validation_failed')
  const auditCursor = (await http(api, 'GET', `/v1/teams/${t.teamId}/audit-log?limit=1`, { token: owner.token })).body.nextCursor
  problem(await c.checked(api, 'GET', `${url}?cursor=${auditCursor}`, { token: owner.token }), 422, 'validation_failed')
  problem(await c.checked(api, 'GET', `${url}?authorUserId=zzz`, { token: owner.token }), 422, 'validation_failed')
})

const counter = (text, name) => Number((text.match(new RegExp(`^${name} (\\S+)$`, 'm')) || [])[1])

test('concurrent creations are group-committed: each one whole, with its event and audit row', async () => {
  const teams = [await makeTeam(api, owner.token), await makeTeam(api, owner.token), team]
  const before = (await http(api, 'GET', '/metrics')).text
  const posts = []
  for (let i = 0; i < 120; i++) {
    const t = teams[i % 3]
    const token = t === team && i % 2 ? member.token : owner.token
    posts.push(c.checked(api, 'POST', `/v1/teams/${t.teamId}/journal-entries`, { token, body: { content: `group ${i} "q" \\ {x,y}` } })
      .then((r) => ({ r, i, t })))
  }
  const done = await Promise.all(posts)
  for (const { r, i, t } of done) {
    assert.equal(r.status, 201, r.text)
    assert.equal(r.body.content, `group ${i} "q" \\ {x,y}`)
    const got = await http(api, 'GET', `/v1/teams/${t.teamId}/journal-entries/${r.body.journalEntryId}`, { token: owner.token })
    assert.equal(got.status, 200)
    assert.deepEqual(got.body, r.body)
    assert.equal(got.headers.get('etag'), '"1"')
    assert.equal(r.headers.get('location'), `/v1/teams/${t.teamId}/journal-entries/${r.body.journalEntryId}`)
  }
  const ids = done.map(({ r }) => `'${r.body.journalEntryId}'`).join(',')
  assert.equal(sql(`SELECT count(*) FROM audit_log WHERE action = 'journal_entry.create' AND target_id IN (${ids})`), '120')
  assert.equal(sql(`SELECT count(*) FROM changes WHERE event = 1 AND entity_id IN (${ids})`), '120')
  const after = (await http(api, 'GET', '/metrics')).text
  // how many batches those took depends on timing; the next test groups deterministically
  const items = counter(after, 'quill_group_commit_items_total') - counter(before, 'quill_group_commit_items_total')
  assert.equal(items, 120)
  const verify = await run(`${BIN}/quill-admin`, ['audit-verify'], { DATABASE_URL: DB })
  assert.equal(verify.code, 0, verify.stdout + verify.stderr)
})

// Hold a team's audit chain head (what a creation's audit row locks until COMMIT) so a first
// creation stays in flight; creations that arrive meanwhile wait for the group and are then
// written together, in one second batch.
test('creations that arrive while a batch is in flight are written in one batch', async () => {
  const h = await start('quill-api', { ...ENV, QUILL_DB_POOL: '16' })
  const locker = psqlSession()
  try {
    const t = await makeTeam(h, owner.token)
    const url = `/v1/teams/${t.teamId}/journal-entries`
    const metrics = async () => (await http(h, 'GET', '/metrics')).text
    const before = await metrics()
    locker.write(`BEGIN; SELECT 1 FROM audit_heads WHERE chain = 'team:${t.teamId}' FOR UPDATE; SELECT 'locked';`)
    assert.ok(await waitFor(() => locker.output().includes('locked')))
    const first = http(h, 'POST', url, { token: owner.token, body: { content: 'first' } })
    const waitingFor = (n) => waitFor(async () => counter(await metrics(), 'quill_group_commit_waiting') === n)
    // the first batch is in flight: its COMMIT waits for the chain head
    assert.ok(await waitFor(() => sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") === '1'))
    assert.equal(counter(await metrics(), 'quill_group_commit_waiting'), 0)
    const rest = []
    for (let i = 0; i < 10; i++) rest.push(http(h, 'POST', url, { token: owner.token, body: { content: `waiting ${i}` } }))
    assert.ok(await waitingFor(10), 'ten creations wait for the group')
    locker.write('COMMIT;')
    for (const r of [await first, ...await Promise.all(rest)]) assert.equal(r.status, 201, r.text)
    const after = await metrics()
    const delta = (name) => counter(after, name) - counter(before, name)
    assert.equal(delta('quill_group_commit_items_total'), 11)
    assert.equal(delta('quill_group_commit_batches_total'), 2)
    assert.equal(counter(after, 'quill_group_commit_waiting'), 0)
    assert.equal(sql(`SELECT count(*) FROM journal_entries WHERE team_id = '${t.teamId}'`), '11')
  } finally { await locker.close(); await stop(h) }
})

test('every entry change writes its audit row', async () => {
  const t = await makeTeam(api, owner.token)
  const url = `/v1/teams/${t.teamId}/journal-entries`
  const e = (await http(api, 'POST', url, { token: owner.token, body: { content: 'a' } })).body
  await http(api, 'PATCH', `${url}/${e.journalEntryId}`, { token: owner.token, body: { content: 'b' } })
  await http(api, 'DELETE', `${url}/${e.journalEntryId}`, { token: owner.token })
  const log = (await http(api, 'GET', `/v1/teams/${t.teamId}/audit-log`, { token: owner.token })).body.items
  assert.deepEqual(log.slice(0, 3).map((x) => [x.action, x.targetId]), [
    ['journal_entry.delete', e.journalEntryId], ['journal_entry.update', e.journalEntryId], ['journal_entry.create', e.journalEntryId]])
})

test('Idempotency-Key: replay with Idempotent-Replayed, 422 for another body, scoped per caller', async () => {
  const key = uniq('idem')
  const a = await c.checked(api, 'POST', E(), { token: member.token, headers: { 'idempotency-key': key }, body: { content: 'once' } })
  assert.equal(a.status, 201)
  const b = await c.checked(api, 'POST', E(), { token: member.token, headers: { 'idempotency-key': key }, body: { content: 'once' } })
  assert.equal(b.status, 201)
  assert.equal(b.headers.get('idempotent-replayed'), 'true')
  assert.deepEqual(b.body, a.body)
  assert.equal(b.headers.get('location'), a.headers.get('location'))
  assert.equal(b.headers.get('etag'), a.headers.get('etag'))
  assert.equal(sql(`SELECT count(*) FROM journal_entries WHERE content = 'once' AND author_user_id = '${member.user.userId}'`), '1')
  problem(await c.checked(api, 'POST', E(), { token: member.token, headers: { 'idempotency-key': key }, body: { content: 'twice' } }), 422, 'idempotency_key_reused')
  // another caller with the same key is another request
  const other = await c.checked(api, 'POST', E(), { token: owner.token, headers: { 'idempotency-key': key }, body: { content: 'once' } })
  assert.equal(other.status, 201)
  assert.notEqual(other.body.journalEntryId, a.body.journalEntryId)
  problem(await c.checked(api, 'POST', E(), { token: member.token, headers: { 'idempotency-key': 'has space' }, body: { content: 'x' } }), 422, 'validation_failed')
  // errors are replayed too
  const k2 = uniq('idem')
  problem(await c.checked(api, 'POST', E(), { token: member.token, headers: { 'idempotency-key': k2 }, body: { content: '' } }), 422, 'validation_failed')
  const again = await c.checked(api, 'POST', E(), { token: member.token, headers: { 'idempotency-key': k2 }, body: { content: '' } })
  assert.equal(again.status, 422)
  assert.equal(again.headers.get('idempotent-replayed'), 'true')
})

test('Idempotency-Key on signup and API keys: replays without storing secrets in the clear', async () => {
  const key = uniq('signup')
  const email = `${uniq('idem')}@example.com`
  const body = { email, password: 'correct horse battery', displayName: 'Idem' }
  const a = await http(api, 'POST', '/v1/auth/signup', { headers: { 'idempotency-key': key }, body })
  const b = await http(api, 'POST', '/v1/auth/signup', { headers: { 'idempotency-key': key }, body })
  assert.equal(a.status, 201)
  assert.equal(b.status, 201)
  assert.equal(b.headers.get('idempotent-replayed'), 'true')
  assert.equal(b.body.session.token, a.body.session.token)
  // the replay carries the session token as the first answer did: no cache may keep either
  assert.equal(a.headers.get('cache-control'), 'no-store')
  assert.equal(b.headers.get('cache-control'), 'no-store')
  const stored = sql(`SELECT encode(response, 'escape') FROM idempotency_keys WHERE key = '${key}'`)
  assert.ok(stored.length > 0)
  assert.ok(!stored.includes(a.body.session.token), 'the stored response is sealed')
  const k = uniq('key')
  const x = await http(api, 'POST', `/v1/teams/${team.teamId}/api-keys`, { token: owner.token, headers: { 'idempotency-key': k }, body: { name: 'ci', role: 'viewer' } })
  const y = await http(api, 'POST', `/v1/teams/${team.teamId}/api-keys`, { token: owner.token, headers: { 'idempotency-key': k }, body: { name: 'ci', role: 'viewer' } })
  assert.equal(y.body.key, x.body.key)
  assert.equal(sql(`SELECT count(*) FROM api_keys WHERE api_key_id = '${x.body.apiKeyId}'`), '1')
})

// The first request holds the key's lock until its transaction ends; to keep it there, the
// test holds the team's audit chain head, which the request's audit row waits for at COMMIT.
test('a second request with a key in use gets 409; after the first commits, the replay', async () => {
  const key = uniq('race')
  const post = () => http(api, 'POST', E(), { token: member.token, headers: { 'idempotency-key': key }, body: { content: `race ${key}` } })
  const locker = psqlSession()
  try {
    locker.write(`BEGIN; SELECT 1 FROM audit_heads WHERE chain = 'team:${team.teamId}' FOR UPDATE; SELECT 'locked';`)
    assert.ok(await waitFor(() => locker.output().includes('locked')))
    const first = post()
    assert.ok(await waitFor(() => sql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") === '1'), 'the first request waits at COMMIT')
    const second = await post()
    problem(second, 409, 'idempotency_in_progress')
    assert.equal(second.headers.get('idempotent-replayed'), null)
    locker.write('COMMIT;')
    const a = await first
    assert.equal(a.status, 201, a.text)
    const b = await post()
    assert.equal(b.status, 201, b.text)
    assert.equal(b.headers.get('idempotent-replayed'), 'true')
    assert.equal(b.body.journalEntryId, a.body.journalEntryId)
    assert.equal(sql(`SELECT count(*) FROM journal_entries WHERE content = 'race ${key}'`), '1')
  } finally { await locker.close() }
})

test('an idempotent POST is replayed after the server restarts', async () => {
  const key = uniq('restart')
  const a = await http(api, 'POST', E(), { token: member.token, headers: { 'idempotency-key': key }, body: { content: 'survives restarts' } })
  assert.equal(a.status, 201)
  await stop(api)
  api = await start('quill-api', ENV)
  const b = await http(api, 'POST', E(), { token: member.token, headers: { 'idempotency-key': key }, body: { content: 'survives restarts' } })
  assert.equal(b.status, 201)
  assert.equal(b.headers.get('idempotent-replayed'), 'true')
  assert.equal(b.body.journalEntryId, a.body.journalEntryId)
})

test('a statement past QUILL_STATEMENT_TIMEOUT_MS answers 503 and is counted; the pool thread is free again', async () => {
  const h = await start('quill-api', { ...ENV, QUILL_STATEMENT_TIMEOUT_MS: '300', QUILL_DB_POOL: '1' })
  const locker = psqlSession()
  try {
    const e = await http(h, 'POST', E(), { token: member.token, body: { content: 'locked away' } })
    assert.equal(e.status, 201)
    locker.write(`BEGIN; SELECT 1 FROM journal_entries WHERE journal_entry_id = '${e.body.journalEntryId}' FOR UPDATE; SELECT 'locked';`)
    assert.ok(await waitFor(() => locker.output().includes('locked')))
    const t0 = Date.now()
    const r = await http(h, 'PATCH', `${E()}/${e.body.journalEntryId}`, { token: member.token, body: { content: 'never' } })
    assert.equal(r.status, 503, r.text)
    assert.equal(r.body.code, 'unavailable')
    assert.ok(r.headers.get('retry-after'))
    assert.ok(Date.now() - t0 < 5000)
    const m = (await http(h, 'GET', '/metrics')).text
    assert.ok(counter(m, 'quill_db_statement_timeouts_total') >= 1)
    // the one pool thread serves the next request
    const g = await http(h, 'GET', E(), { token: member.token })
    assert.equal(g.status, 200)
    locker.write('ROLLBACK;')
    assert.equal(sql(`SELECT content FROM journal_entries WHERE journal_entry_id = '${e.body.journalEntryId}'`), 'locked away')
  } finally {
    await locker.close()
    await stop(h)
  }
})

test('every journal operation was checked against the document', async () => {
  for (const op of ['POST /v1/teams/{teamId}/journal-entries 201', 'GET /v1/teams/{teamId}/journal-entries 200',
    'GET /v1/teams/{teamId}/journal-entries/{journalEntryId} 304', 'PATCH /v1/teams/{teamId}/journal-entries/{journalEntryId} 412',
    'DELETE /v1/teams/{teamId}/journal-entries/{journalEntryId} 204', 'GET /v1/teams/{teamId}/prompts 200',
    'POST /v1/teams/{teamId}/prompts 201', 'DELETE /v1/teams/{teamId}/prompts/{promptId} 403']) {
    assert.ok(c.seen.has(op), op)
  }
})

test('an admin removed while their prompt writes wait for the team writes nothing', async () => {
  const o = await signup(api); const a = await signup(api)
  const t = await makeTeam(api, o.token)
  await addMember(api, o.token, t.teamId, a.email, 'admin')
  const P = `/v1/teams/${t.teamId}/prompts`
  const mine = await http(api, 'POST', P, { token: o.token, body: { text: 'Kept?', category: 'team' } })
  assert.equal(mine.status, 201, mine.text)
  const teamPrompts = () => sql(`SELECT count(*) FROM prompts WHERE team_id = '${t.teamId}' AND deleted_at IS NULL`)
  // a creation queues on the team's row behind the removal
  const [removal, creation] = await inTurn(teamRow(t.teamId),
    () => http(api, 'DELETE', `/v1/teams/${t.teamId}/members/${a.user.userId}`, { token: o.token }),
    () => http(api, 'POST', P, { token: a.token, body: { text: 'Late?', category: 'team' } }))
  assert.equal(removal.status, 204)
  assert.equal(creation.status, 404)
  // a deletion queues on the team's audit chain behind a removal (here of the admin, again)
  await addMember(api, o.token, t.teamId, a.email, 'admin')
  const [again, deletion] = await inTurn(teamChain(t.teamId),
    () => http(api, 'DELETE', `/v1/teams/${t.teamId}/members/${a.user.userId}`, { token: o.token }),
    () => http(api, 'DELETE', `${P}/${mine.body.promptId}`, { token: a.token }))
  assert.equal(again.status, 204)
  assert.equal(deletion.status, 404)
  assert.equal(teamPrompts(), '1')
})
