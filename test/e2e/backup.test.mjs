// Backup drills with pgBackRest, on a cluster of their own made by tools/quill (QUILL_DATA_DIR
// in a temporary directory, extra port 1 of cluster.mjs): point-in-time recovery into a separate
// cluster and in place, and an anonymised copy for staging.  Each checks the data through
// SQL, quill-admin audit-verify and a quill-api serving the result.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { start, stop, http, signup, makeTeam, makeKey, uniq, BIN, PASSWORD } from './lib.mjs'
import { cluster, destroy, psql, exec, extraPort, urlOf } from './cluster.mjs'

const LIMITS = { QUILL_RATE_LIMIT: '100000', QUILL_AUTH_IP_LIMIT: '100000' }
let c, api, owner, teamId, key, hookUrl
const written = { before: [], after: [] } // entry ids acknowledged before and after the noted time

async function write (n, tag, into) {
  for (let i = 0; i < n; i++) {
    const r = await http(api, 'POST', `/v1/teams/${teamId}/journal-entries`, {
      token: owner.token, body: { content: `${tag} ${i} by ${owner.email}: private words ${uniq('w')}` }
    })
    assert.equal(r.status, 201, r.text)
    into.push(r.body.journalEntryId)
  }
}

const counts = (url) => psql(url, `SELECT (SELECT count(*) FROM journal_entries) || ' ' || (SELECT count(*) FROM users) ||
  ' ' || (SELECT count(*) FROM audit_log) || ' ' || (SELECT count(*) FROM changes)`)

async function auditVerify (url) {
  const r = await exec(`${BIN}/quill-admin`, ['audit-verify'], { DATABASE_URL: url })
  assert.equal(r.code, 0, r.stdout + r.stderr)
  return r.stdout.trim()
}

before(async () => {
  c = await cluster('backup', 1).create()
  api = await start('quill-api', { ...LIMITS, DATABASE_URL: c.url() })
  owner = await signup(api, `${uniq('owner')}@example.com`, { displayName: 'Ada Lovelace-Drill' })
  teamId = (await makeTeam(api, owner.token, 'Analytical Engine Society')).teamId
  key = await makeKey(api, owner.token, teamId)
  hookUrl = `https://hooks.example.com/${uniq('hook')}`
  const h = await http(api, 'POST', `/v1/teams/${teamId}/webhooks`, { token: owner.token, body: { url: hookUrl, events: ['journal_entry.created'] } })
  assert.equal(h.status, 201, h.text)
})

after(async () => {
  if (api) await stop(api)
  await destroy(c?.dir)
})

test('point-in-time recovery: a restore to a noted time has what was written before it, and nothing after', async (t) => {
  await write(5, 'before the full backup', written.before)
  await c.tools('backup', '--full')
  await write(5, 'between the backups', written.before)
  await c.tools('backup') // incremental: it builds on the full one
  const info = (await c.tools('backup', '--info')).stdout
  assert.match(info, /full backup/)
  assert.match(info, /incr backup/)
  await write(5, 'after the backups', written.before)
  const other = await signup(api) // a second user, before the time too
  // The time to restore to, from the database's clock; everything acknowledged so far
  // committed before it.
  const at = await psql(c.url(), 'SELECT clock_timestamp()')
  const atCounts = await counts(c.url())
  await write(5, 'after the noted time', written.after)
  const late = await signup(api) // a user who must not exist in the restored copy
  const lateTeam = await makeTeam(api, other.token)

  const r = await c.tools('restore', '--time', at, '--port', String(extraPort(2)))
  const copy = urlOf(extraPort(2))
  t.diagnostic(`restore to ${at} (a full and an incremental backup, then WAL) took ${r.ms} ms`)
  assert.equal(await counts(copy), atCounts, 'entries, users, audit rows and changes as they were at the time')
  const ids = (await psql(copy, `SELECT journal_entry_id FROM journal_entries WHERE team_id = '${teamId}'`)).split('\n')
  assert.deepEqual(ids.sort(), [...written.before].sort(), 'the entries written before the time, and only those')
  assert.equal(await psql(copy, `SELECT count(*) FROM users WHERE user_id IN ('${late.user.userId}')`), '0', 'the later user is gone')
  assert.equal(await psql(copy, `SELECT count(*) FROM teams WHERE team_id = '${lateTeam.teamId}'`), '0', 'the later team is gone')
  t.diagnostic(`audit-verify on the copy: ${await auditVerify(copy)}`)

  // A quill-api on the copy serves it: the owner's session was there at the time.
  const api2 = await start('quill-api', { ...LIMITS, DATABASE_URL: copy })
  try {
    const list = await http(api2, 'GET', `/v1/teams/${teamId}/journal-entries?limit=100`, { token: owner.token })
    assert.equal(list.status, 200, list.text)
    assert.equal(list.body.items.length, written.before.length)
    assert.equal((await http(api2, 'GET', '/v1/me', { token: late.token })).status, 401, 'the later session is gone')
  } finally { await stop(api2) }
})

test('restore in place to the latest point: nothing acknowledged is lost', async (t) => {
  await write(3, 'just before the restore', written.after)
  const want = await counts(c.url())
  await stop(api)
  const r = await c.tools('restore', '--in-place')
  t.diagnostic(`in-place restore to the end of the archived WAL took ${r.ms} ms`)
  assert.equal(await counts(c.url()), want)
  const ids = (await psql(c.url(), `SELECT journal_entry_id FROM journal_entries WHERE team_id = '${teamId}'`)).split('\n')
  assert.deepEqual(ids.sort(), [...written.before, ...written.after].sort())
  await auditVerify(c.url())
  api = await start('quill-api', { ...LIMITS, DATABASE_URL: c.url() })
  await write(1, 'after the restore', written.after) // writes go on (a new timeline)
  await c.tools('backup') // and are backed up again
})

test('an anonymised copy for staging keeps no email, name or text of the original, and the API serves it', async (t) => {
  const originals = await psql(c.url(), `SELECT string_agg(email || E'\\n' || display_name, E'\\n') FROM users`)
  const secrets = [
    ...originals.split('\n'), 'Analytical Engine Society', hookUrl, 'private words', key.key.slice(0, 11)
  ]
  const want = await psql(c.url(), `SELECT (SELECT count(*) FROM journal_entries) || ' ' || (SELECT count(*) FROM users) ||
    ' ' || (SELECT count(*) FROM teams) || ' ' || (SELECT sum(length(content)) FROM journal_entries)`)
  const r = await exec(`${process.env.QUILL_ROOT}/tools/quill`, ['copy-anonymised', '--port', String(extraPort(3))],
    { ...c.env, QUILL_ANON_PASSWORD: 'staging password 1' }, 300000)
  assert.equal(r.code, 0, r.stderr)
  t.diagnostic(`copy-anonymised took ${r.ms} ms`)
  const staging = c.url('quill_staging')
  assert.equal(await psql(staging, `SELECT (SELECT count(*) FROM journal_entries) || ' ' || (SELECT count(*) FROM users) ||
    ' ' || (SELECT count(*) FROM teams) || ' ' || (SELECT sum(length(content)) FROM journal_entries)`), want, 'same rows, same text lengths')
  // Nothing of the original in a dump of the whole copy.
  const dump = await exec('pg_dump', ['--data-only', staging])
  assert.equal(dump.code, 0, dump.stderr)
  for (const s of secrets) assert.ok(!dump.stdout.includes(s), `the copy still holds ${JSON.stringify(s)}`)
  assert.equal(await psql(staging, 'SELECT count(*) FROM sessions'), '0')
  assert.equal(await psql(staging, 'SELECT count(*) FROM webhooks WHERE disabled_at IS NULL'), '0', 'no webhook fires from staging')
  t.diagnostic(`audit-verify on the copy: ${await auditVerify(staging)}`)

  // A quill-api with staging's own secret serves it: log in with the staging password.
  const sapi = await start('quill-api', { ...LIMITS, DATABASE_URL: staging, QUILL_SECRET: Buffer.alloc(32, 9).toString('base64') })
  try {
    assert.equal((await http(sapi, 'GET', '/v1/me', { token: owner.token })).status, 401, 'production sessions do not work')
    assert.equal((await http(sapi, 'GET', `/v1/teams/${teamId}`, { token: key.key })).status, 401, 'production API keys do not work')
    const login = await http(sapi, 'POST', '/v1/auth/login', { body: { email: `user-${owner.user.userId}@anonymised.invalid`, password: 'staging password 1' } })
    assert.equal(login.status, 200, login.text)
    const token = login.body.session.token
    const list = await http(sapi, 'GET', `/v1/teams/${teamId}/journal-entries?limit=100`, { token })
    assert.equal(list.status, 200, list.text)
    assert.equal(list.body.items.length, written.before.length + written.after.length)
    assert.ok(list.body.items.every((e) => e.content.startsWith('Lorem ipsum')))
    assert.equal((await http(sapi, 'GET', `/v1/teams/${teamId}/sync?limit=100`, { token })).status, 200)
    assert.equal((await http(sapi, 'POST', `/v1/teams/${teamId}/journal-entries`, { token, body: { content: 'staging write' } })).status, 201)
    assert.equal((await http(sapi, 'POST', '/v1/auth/login', { body: { email: owner.email, password: PASSWORD } })).status, 401, 'the original email is unknown')
  } finally { await stop(sapi) }
})
