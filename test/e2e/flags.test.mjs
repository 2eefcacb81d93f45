// Feature flags end to end: the operator manages them through the operator API of one
// quill-api, members read their team's values through another, and a change made through
// one instance reaches the other's cache at once (NOTIFY quill_flags).  The /admin
// dashboard shows and edits them in headless Chromium.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { start, stop, http, sql, sleep, signup, makeTeam, addMember, makeKey, uniq, ADMIN_TOKEN } from './lib.mjs'
import { withBrowser } from './browser.mjs'

const ENV = { QUILL_AUTH_IP_LIMIT: '100000', QUILL_RATE_LIMIT: '100000' }
const admin = { token: ADMIN_TOKEN }
let a, b, owner, viewer, team

before(async () => {
  a = await start('quill-api', ENV)
  b = await start('quill-api', ENV)
  owner = await signup(a)
  viewer = await signup(a)
  team = await makeTeam(a, owner.token)
  await addMember(a, owner.token, team.teamId, viewer.email, 'viewer')
})
after(async () => { await stop(a); await stop(b) })

const flagKey = () => uniq('flag').toLowerCase()
const put = (h, key, body) => http(h, 'PUT', `/v1/admin/flags/${key}`, { ...admin, body })
const values = async (h, token, teamId = team.teamId) => {
  const r = await http(h, 'GET', `/v1/teams/${teamId}/flags`, { token })
  assert.equal(r.status, 200, r.text)
  return r.body.flags
}

// The bucket of a team for a flag, as docs/api.md defines it: FNV-1a (32 bits) of
// "<flagKey>:<teamId>", modulo 100.
function bucket (key, teamId) {
  let h = 0x811c9dc5
  for (const c of Buffer.from(`${key}:${teamId}`)) h = Math.imul(h ^ c, 0x01000193) >>> 0
  return h % 100
}

// Poll `read` on the other instance until it gives `want`, for at most 1 s; until then it
// must keep giving `was` (any other value fails at once).  Returns true when it arrived.
async function arrives (read, was, want) {
  const t0 = Date.now()
  while (Date.now() - t0 < 1000) {
    const v = await read()
    if (v === want) return true
    assert.equal(v, was)
    await sleep(10)
  }
  return false
}

test('a flag changed through one instance is seen through the other at once', async () => {
  const key = flagKey()
  const made = await put(a, key, { enabled: false, description: 'The new editor' })
  assert.equal(made.status, 201, made.text)
  const flagId = sql(`SELECT flag_id FROM feature_flags WHERE key = '${key}'`)
  assert.deepEqual({ ...made.body, createdAt: 0, updatedAt: 0 },
    { flagKey: key, description: 'The new editor', enabled: false, rolloutPercent: 0, createdAt: 0, updatedAt: 0 })
  // b reads (and caches) the team's values a few times
  for (let i = 0; i < 3; i++) assert.equal((await values(b, viewer.token))[key], false)
  // b answers from its cache: a change behind its back (no NOTIFY) is not seen...
  sql(`UPDATE feature_flags SET rollout_percent = 100 WHERE key = '${key}'`)
  for (let i = 0; i < 3; i++) assert.equal((await values(b, viewer.token))[key], false)
  // ...until a notification says flags changed
  sql(`SELECT pg_notify('quill_flags', '${key}')`)
  assert.ok(await arrives(async () => (await values(b, viewer.token))[key], false, true), 'b never heard of it')
  assert.equal((await put(a, key, { enabled: false, description: 'The new editor' })).status, 200)
  assert.ok(await arrives(async () => (await values(b, viewer.token))[key], true, false))
  // an override for the team, through a
  const o = await http(a, 'PUT', `/v1/admin/flags/${key}/teams/${team.teamId}`, { ...admin, body: { enabled: true } })
  assert.equal(o.status, 201, o.text)
  assert.equal(o.body.enabled, true)
  assert.ok(await arrives(async () => (await values(b, viewer.token))[key], false, true), 'b never saw the override')
  // the override goes, through b; a (which cached it too) sees the flag off again
  assert.equal((await values(a, viewer.token))[key], true)
  assert.equal((await http(b, 'DELETE', `/v1/admin/flags/${key}/teams/${team.teamId}`, admin)).status, 204)
  assert.ok(await arrives(async () => (await values(a, viewer.token))[key], true, false))
  // on for every team, through b; then deleted, through a
  assert.equal((await put(b, key, { enabled: true })).status, 200)
  assert.ok(await arrives(async () => (await values(a, viewer.token))[key], false, true))
  assert.equal((await http(a, 'DELETE', `/v1/admin/flags/${key}`, admin)).status, 204)
  assert.ok(await arrives(async () => (await values(b, viewer.token))[key], true, undefined))
  // every change left an audit row by the operator: global ones in the account chain, the
  // override's in the team's own
  const rows = sql(`SELECT action || ' ' || actor || ' ' || (team_id IS NOT NULL) FROM audit_log
    WHERE target_type = 'FeatureFlag' AND target_id = '${flagId}' ORDER BY at, seq`)
  for (const want of ['flag.create Operator false', 'flag.team_set Operator true', 'flag.team_clear Operator true',
    'flag.update Operator false', 'flag.delete Operator false']) {
    assert.ok(rows.split('\n').includes(want), `${want} in ${rows}`)
  }
  assert.equal(rows.split('\n').length, 6) // two updates
})

test('a percentage rollout follows the documented hash, and a growing one keeps its teams', async () => {
  const key = flagKey()
  const teams = []
  for (let i = 0; i < 12; i++) teams.push((await makeTeam(a, owner.token)).teamId)
  const before = new Map()
  for (const pct of [0, 30, 70, 100]) {
    assert.equal((await put(a, key, { enabled: false, rolloutPercent: pct })).status, pct === 0 ? 201 : 200)
    for (const t of teams) {
      const on = (await values(b, owner.token, t))[key] // b: the other instance, at once
      if (on !== (bucket(key, t) < pct)) {
        // the notification may still be on its way to b: it must arrive within a second
        assert.ok(await arrives(async () => (await values(b, owner.token, t))[key], !(bucket(key, t) < pct), bucket(key, t) < pct))
      }
      if (before.get(t)) assert.equal(bucket(key, t) < pct, true, 'a team that had it keeps it')
      before.set(t, bucket(key, t) < pct)
    }
  }
})

test('who may read and change flags, and what bad input gets', async () => {
  const key = flagKey()
  assert.equal((await put(a, key, { enabled: true })).status, 201)
  // members and API keys of the team read; others get 404
  const k = await makeKey(a, owner.token, team.teamId, 'viewer')
  assert.equal((await values(a, k.key))[key], true)
  const stranger = await signup(a)
  assert.equal((await http(a, 'GET', `/v1/teams/${team.teamId}/flags`, { token: stranger.token })).status, 404)
  // only the operator changes them
  assert.equal((await http(a, 'PUT', `/v1/admin/flags/${key}`, { token: owner.token, body: { enabled: false } })).status, 403)
  assert.equal((await http(a, 'GET', '/v1/admin/flags')).status, 401)
  for (const [path, body, field] of [
    ['/v1/admin/flags/Bad%20Key', { enabled: true }, 'flagKey'],
    [`/v1/admin/flags/${key}`, { enabled: true, rolloutPercent: 150 }, 'rolloutPercent'],
    [`/v1/admin/flags/${key}`, { enabled: 'yes' }, 'enabled'],
    [`/v1/admin/flags/${key}`, { enabled: true, extra: 1 }, 'extra']
  ]) {
    const r = await http(a, 'PUT', path, { ...admin, body })
    assert.equal(r.status, 422, `${path} ${JSON.stringify(body)}: ${r.text}`)
    assert.equal(r.body.code, 'validation_failed')
    assert.ok(r.body.errors.some((e) => e.field === field), r.text)
  }
  const none = await http(a, 'PUT', `/v1/admin/flags/${key}/teams/${'0'.repeat(8)}-0000-7000-8000-${'0'.repeat(12)}`, { ...admin, body: { enabled: true } })
  assert.equal(none.status, 404)
  assert.equal((await http(a, 'GET', `/v1/admin/flags/${flagKey()}`, admin)).status, 404)
  // pages by key
  const second = key + '-b'
  assert.equal((await put(a, second, { enabled: false })).status, 201)
  const page = await http(a, 'GET', `/v1/admin/flags?limit=1&cursor=${key}`, admin)
  assert.equal(page.status, 200)
  assert.equal(page.body.items[0].flagKey, second)
})

test('the /admin dashboard shows flags and edits them in headless Chromium', async () => {
  const key = flagKey()
  assert.equal((await put(a, key, { enabled: false, rolloutPercent: 10, description: 'shown on the dashboard' })).status, 201)
  await withBrowser(async (context) => {
    const page = await context.newPage()
    await page.goto(`${a.url}/admin?token=${ADMIN_TOKEN}`)
    const row = page.locator(`tr[data-flag-key="${key}"]`)
    await row.waitFor({ timeout: 10000 })
    assert.match(await row.innerText(), /shown on the dashboard/)
    // switch it on for every team and raise the rollout, then Save
    await page.getByRole('checkbox', { name: `Enabled ${key}` }).check()
    await page.getByRole('spinbutton', { name: `Rollout ${key}` }).fill('55')
    await page.getByRole('button', { name: `Save ${key}` }).click()
    await page.locator('#flags[aria-busy="false"]').waitFor({ timeout: 10000 })
    const saved = async () => (await http(a, 'GET', `/v1/admin/flags/${key}`, admin)).body
    for (let i = 0; i < 100 && !(await saved()).enabled; i++) await sleep(50)
    assert.deepEqual([(await saved()).enabled, (await saved()).rolloutPercent], [true, 55])
    // an override for the team, from the row's form
    await page.getByRole('textbox', { name: `Team for ${key}` }).fill(team.teamId)
    await page.getByRole('combobox', { name: `Override for ${key}` }).selectOption('off')
    await page.getByRole('button', { name: `Set override ${key}` }).click()
    await page.getByRole('button', { name: `Clear override ${key} ${team.teamId}` }).waitFor({ timeout: 10000 })
    assert.equal((await values(b, viewer.token))[key] === false ||
      await arrives(async () => (await values(b, viewer.token))[key], true, false), true)
    // a new flag from the form at the top
    const fresh = flagKey()
    await page.getByRole('textbox', { name: 'New flag key' }).fill(fresh)
    await page.getByRole('button', { name: 'Create flag' }).click()
    await page.locator(`tr[data-flag-key="${fresh}"]`).waitFor({ timeout: 10000 })
    assert.equal((await http(a, 'GET', `/v1/admin/flags/${fresh}`, admin)).status, 200)
  })
})
