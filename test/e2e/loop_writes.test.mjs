// Creations submitted from the event loop: a POST of a journal entry without an
// Idempotency-Key is prepared on the loop and handed to the group commit, whose batches a
// write pool thread leads, instead of occupying a write pool thread of its own.  Every
// answer must be the one the pool gives, every creation stored exactly once, what the loop
// cannot do (an Idempotency-Key, a promptId to check) must go to the write pool, and
// SIGTERM must let the creations in flight finish.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { start, stop, http, raw, waitFor, signup, makeTeam, addMember, hold, queued, teamChain, sql, metric, loopAndPool } from './lib.mjs'

const ENV = { QUILL_AUTH_IP_LIMIT: '100000', QUILL_RATE_LIMIT: '100000' }
let loop, pool
loopAndPool(ENV, (l, p) => { loop = l; pool = p })

// What must not depend on where a creation was answered: its status, its body's fields
// (values of ids and times aside) and, for a problem, the whole problem.
function shape (r) {
  const body = { ...(r.body || {}) }
  delete body.traceId
  if (r.status === 201) {
    for (const k of ['journalEntryId', 'createdAt', 'updatedAt']) body[k] = typeof body[k]
  }
  return { status: r.status, type: r.headers.get('content-type'), location: r.status === 201 && r.headers.get('location') !== null, body }
}

test('a creation on the loop answers every case as the write pool does', async () => {
  const owner = await signup(loop)
  const viewer = await signup(loop)
  const outsider = await signup(loop)
  const team = await makeTeam(loop, owner.token)
  await addMember(loop, owner.token, team.teamId, viewer.email, 'viewer')
  const path = `/v1/teams/${team.teamId}/journal-entries`
  const cases = [
    ['a member writes', owner.token, { content: 'from the loop ✓' }],
    ['no content', owner.token, {}],
    ['empty content', owner.token, { content: '' }],
    ['content too long', owner.token, { content: 'x'.repeat(100001) }],
    ['content not a string', owner.token, { content: 7 }],
    ['a null promptId', owner.token, { content: 'no prompt', promptId: null }],
    ['a bad promptId', owner.token, { content: 'bad prompt', promptId: 'nope' }],
    ['an unknown field', owner.token, { content: 'x', mood: 'happy' }],
    ['a viewer', viewer.token, { content: 'read only' }],
    ['not a member', outsider.token, { content: 'outside' }],
    ['no token', null, { content: 'anonymous' }]
  ]
  const before = await metric(loop, 'quill_loop_writes_total')
  const made = []
  for (const [what, token, body] of cases) {
    // twice on the loop: the first may load the principal on the pool, the second is cached
    for (let i = 0; i < 2; i++) {
      const a = await http(loop, 'POST', path, { token, body })
      const b = await http(pool, 'POST', path, { token, body })
      assert.deepEqual(shape(a), shape(b), what)
      for (const r of [a, b]) if (r.status === 201) made.push(r.body)
    }
  }
  assert.ok(await metric(loop, 'quill_loop_writes_total') - before >= cases.length, 'answered on the loop')
  assert.equal(await metric(pool, 'quill_loop_writes_total'), null, 'no loop sessions: no loop writes')
  assert.ok(made.length >= 8, 'two cases at least are creations')
  // Each creation is stored once, as its answer said.
  const page = await http(loop, 'GET', `${path}?limit=200`, { token: owner.token })
  assert.deepEqual(page.body.items.map((e) => e.journalEntryId).sort(), made.map((e) => e.journalEntryId).sort())
  for (const e of made) assert.deepEqual(page.body.items.find((x) => x.journalEntryId === e.journalEntryId), e)
})

test('concurrent creations from the loop: each answered 201 once and stored once, in groups', async () => {
  const owner = await signup(loop)
  const team = await makeTeam(loop, owner.token)
  const path = `/v1/teams/${team.teamId}/journal-entries`
  await http(loop, 'POST', path, { token: owner.token, body: { content: 'warm the cache' } })
  const writes = await metric(loop, 'quill_loop_writes_total')
  const toPool = await metric(loop, 'quill_loop_writes_to_pool_total')
  const items = await metric(loop, 'quill_group_commit_items_total')
  const n = 120
  const answers = await Promise.all(Array.from({ length: n }, (_, i) =>
    http(loop, 'POST', path, { token: owner.token, body: { content: `entry ${i}` } })))
  assert.deepEqual(answers.map((r) => r.status), Array(n).fill(201))
  const ids = new Set(answers.map((r) => r.body.journalEntryId))
  assert.equal(ids.size, n)
  for (const r of answers) assert.match(r.body.content, /^entry \d+$/)
  assert.equal(await metric(loop, 'quill_loop_writes_total') - writes, n)
  assert.equal(await metric(loop, 'quill_loop_writes_to_pool_total') - toPool, 0)
  assert.equal(await metric(loop, 'quill_group_commit_items_total') - items, n)
  const stored = sql(`SELECT count(*), count(DISTINCT content) FROM journal_entries WHERE team_id = '${team.teamId}' AND content LIKE 'entry %'`)
  assert.equal(stored, `${n}|${n}`)
  const audit = sql(`SELECT count(*) FROM audit_log WHERE chain = 'team:${team.teamId}' AND action = 'journal_entry.create'`)
  assert.equal(Number(audit), n + 1)
  for (const id of ids) {
    const one = sql(`SELECT count(*) FROM changes WHERE entity_id = '${id}'`)
    assert.equal(Number(one), 1, `one change for ${id}`)
  }
})

test('an Idempotency-Key or a promptId sends the creation to the write pool, which answers it', async () => {
  const owner = await signup(loop)
  const team = await makeTeam(loop, owner.token)
  const path = `/v1/teams/${team.teamId}/journal-entries`
  await http(loop, 'POST', path, { token: owner.token, body: { content: 'warm the cache' } })
  const toPool = await metric(loop, 'quill_loop_writes_to_pool_total')
  const headers = { 'idempotency-key': `k-${team.teamId}` }
  const first = await http(loop, 'POST', path, { token: owner.token, headers, body: { content: 'once' } })
  const again = await http(loop, 'POST', path, { token: owner.token, headers, body: { content: 'once' } })
  assert.equal(first.status, 201)
  assert.equal(again.status, 201)
  assert.equal(again.body.journalEntryId, first.body.journalEntryId)
  assert.equal(again.headers.get('idempotent-replayed'), 'true')
  const prompt = await http(loop, 'POST', `/v1/teams/${team.teamId}/prompts`, { token: owner.token, body: { text: 'Why?', category: 'c' } })
  assert.equal(prompt.status, 201)
  const answered = await http(loop, 'POST', path, { token: owner.token, body: { content: 'an answer', promptId: prompt.body.promptId } })
  assert.equal(answered.status, 201)
  assert.equal(answered.body.promptId, prompt.body.promptId)
  const unknown = await http(loop, 'POST', path, { token: owner.token, body: { content: 'x', promptId: '018f0000-0000-7000-8000-000000000000' } })
  assert.equal(unknown.status, 422)
  assert.equal(await metric(loop, 'quill_loop_writes_to_pool_total') - toPool, 4)
  assert.equal(sql(`SELECT count(*) FROM journal_entries WHERE team_id = '${team.teamId}' AND content = 'once'`), '1')
})

test('SIGTERM while creations wait for their group: each is answered 201 and stored', async () => {
  const h = await start('quill-api', ENV)
  try {
    const owner = await signup(h)
    const team = await makeTeam(h, owner.token)
    const path = `/v1/teams/${team.teamId}/journal-entries`
    await http(h, 'POST', path, { token: owner.token, body: { content: 'warm the cache' } })
    const chain = await hold(teamChain(team.teamId)) // the group's audit row waits for it
    const sent = Array.from({ length: 5 }, (_, i) =>
      http(h, 'POST', path, { token: owner.token, body: { content: `in flight ${i}` } }))
    await queued(1) // the first group waits on the chain's head; the others queue behind it
    h.proc.kill('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(h.exited, null, 'still running while creations are in flight')
    await chain.release()
    const answers = await Promise.all(sent)
    assert.deepEqual(answers.map((r) => r.status), Array(5).fill(201))
    assert.deepEqual(await h.exit, { code: 0, signal: null })
    assert.equal(sql(`SELECT count(*) FROM journal_entries WHERE team_id = '${team.teamId}' AND content LIKE 'in flight %'`), '5')
  } finally { await stop(h) }
})

test('a client that goes away while its creation waits: the creation is stored, the server carries on', async () => {
  const owner = await signup(loop)
  const team = await makeTeam(loop, owner.token)
  const path = `/v1/teams/${team.teamId}/journal-entries`
  await http(loop, 'POST', path, { token: owner.token, body: { content: 'warm the cache' } })
  const chain = await hold(teamChain(team.teamId))
  const gone = []
  for (let i = 0; i < 3; i++) {
    const body = JSON.stringify({ content: `abandoned ${i}` })
    const req = `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${owner.token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    gone.push(raw(loop.port, req, { timeout: 200 })) // closes after 200 ms, unanswered
  }
  const left = await Promise.all(gone)
  assert.deepEqual(left.map((r) => r.data), ['', '', ''], 'no answer while the chain is held')
  await chain.release()
  const stored = () => sql(`SELECT count(*) FROM journal_entries WHERE team_id = '${team.teamId}' AND content LIKE 'abandoned %'`) === '3'
  assert.ok(await waitFor(stored, { timeout: 5000, every: 50 }), 'each submitted creation was written')
  const after = await http(loop, 'POST', path, { token: owner.token, body: { content: 'after' } })
  assert.equal(after.status, 201)
})
