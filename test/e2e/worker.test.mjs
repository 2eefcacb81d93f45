// quill-worker end to end: real processes, the real PostgreSQL, faults injected with signals
// and a database restart.  Jobs of the debug kinds (QUILL_WORKER_DEBUG_JOBS=1) are inserted
// with SQL so each test controls exactly what is in the queue.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  start, stop, http, sql, pg, run, sleep, waitFor, signup, makeTeam, clearJobs, FAST_WORKER as FAST, ADMIN_TOKEN
} from './lib.mjs'

let api
before(async () => {
  api = await start('quill-api', { QUILL_AUTH_IP_LIMIT: '100000', QUILL_RATE_LIMIT: '100000' })
  clearJobs()
})
after(async () => { await stop(api) })

async function worker (env = {}) {
  const w = await start('quill-worker', { ...FAST, ...env }, 'quill-worker ready')
  const line = JSON.parse(w.lines.find((l) => l.includes('"msg":"quill-worker starting"')))
  w.id = line.worker
  if (line.metrics) w.url = `http://${line.metrics}`
  return w
}

// Insert n jobs of a kind with SQL and wake the workers; returns their ids.
function enqueue (kind, payload, n = 1, { maxAttempts = 3, queue = 'default', runAt = 'now()' } = {}) {
  const ids = sql(`WITH j AS (INSERT INTO jobs (kind, payload, max_attempts, queue, run_at)
    SELECT '${kind}', '${JSON.stringify(payload)}'::jsonb, ${maxAttempts}, '${queue}', ${runAt}
    FROM generate_series(1, ${n}) RETURNING job_id)
    SELECT job_id FROM j ORDER BY job_id`)
  sql(`SELECT pg_notify('quill_jobs', '${queue}')`)
  return ids.split('\n').map(Number)
}

const count = (where) => Number(sql(`SELECT count(*) FROM jobs WHERE ${where}`))

// Every attempt but a running or successful last one recorded an error: no attempt
// happened unseen, and none finished twice.
function assertAttemptsMatchErrors (where) {
  const bad = sql(`SELECT job_id, state, attempts, jsonb_array_length(errors) FROM jobs
    WHERE ${where} AND jsonb_array_length(errors) <>
      CASE WHEN state IN ('running', 'succeeded') THEN attempts - 1 ELSE attempts END`)
  assert.equal(bad, '', 'jobs whose attempts and recorded errors disagree')
}

test('an entry write records its change in its transaction and the activity consumer counts it once', async () => {
  clearJobs()
  const w = await worker()
  try {
    const u = await signup(api)
    const team = await makeTeam(api, u.token)
    const tid = team.teamId
    for (let i = 0; i < 3; i++) {
      const r = await http(api, 'POST', `/v1/teams/${tid}/journal-entries`, { token: u.token, body: { content: `day ${i}` } })
      assert.equal(r.status, 201, r.text)
    }
    // A rejected write leaves no change behind.
    const bad = await http(api, 'POST', `/v1/teams/${tid}/journal-entries`, { token: u.token, body: { content: '' } })
    assert.equal(bad.status, 422)
    assert.equal(sql(`SELECT count(*) FROM changes WHERE team_id = '${tid}' AND event = 1`), '3')
    const ok = await waitFor(async () => (await http(api, 'GET', `/v1/teams/${tid}/activity`, { token: u.token })).body.entriesCreated === 3)
    assert.ok(ok, 'the activity summary counts the three entries')
    const act = await http(api, 'GET', `/v1/teams/${tid}/activity`, { token: u.token })
    assert.equal(act.status, 200)
    assert.deepEqual({ ...act.body, lastActivityAt: null }, {
      teamId: tid, entriesCreated: 3, entriesUpdated: 0, entriesDeleted: 0, membersAdded: 1, membersRemoved: 0, lastActivityAt: null
    })
    assert.ok(Date.parse(act.body.lastActivityAt) > 0)
    // No job per event any more (in one query: the worker may enqueue cron ticks meanwhile).
    assert.equal(count(`queue <> 'cron'`), 0, sql('SELECT kind, queue FROM jobs'))
    const m = await http({ url: w.url }, 'GET', '/metrics')
    assert.match(m.text, /quill_changes_consumed_total [1-9]/)
  } finally {
    assert.equal((await stop(w)).code, 0)
  }
})

// Changes inserted with SQL for a team of this test, in one transaction.
function bulkChanges (tid, n) {
  sql(`INSERT INTO changes (team_id, kind, event, entity_id)
    SELECT '${tid}', 1, 1, gen_random_uuid() FROM generate_series(1, ${n})`)
  sql(`SELECT pg_notify('quill_changes', '${tid}')`)
}
const created = (tid) => Number(sql(`SELECT coalesce((SELECT entries_created FROM team_activity WHERE team_id = '${tid}'), 0)`))
const consumerAt = () => sql("SELECT txid::text || '/' || seq FROM change_consumers WHERE name = 'activity'")

test('a consumer killed with SIGKILL mid-batch: after restart every change counts exactly once', async () => {
  const u = await signup(api)
  const { teamId: tid } = await makeTeam(api, u.token)
  const n = 200000
  bulkChanges(tid, n)
  const a = await worker()
  const moving = await waitFor(() => created(tid) > 0, { timeout: 20000, every: 5 })
  assert.ok(moving, 'worker A consumes')
  a.proc.kill('SIGKILL')
  await a.exit
  // What was counted is exactly what lies behind the stored position: the batch that was
  // running when A died left neither counts nor a position.  Both are read in one snapshot:
  // A sends a batch's BEGIN..COMMIT in one pipeline, so a COMMIT it sent just before the
  // kill may still land after A is gone, between two separate reads.
  const [before, behind] = sql(`SELECT coalesce((SELECT entries_created FROM team_activity WHERE team_id = '${tid}'), 0)
    || ' ' || (SELECT count(*) FROM changes c, change_consumers p
    WHERE p.name = 'activity' AND c.team_id = '${tid}' AND c.event = 1 AND (c.txid, c.seq) <= (p.txid, p.seq))`).split(' ').map(Number)
  assert.ok(before > 0 && before < n, `killed mid-way (${before} of ${n})`)
  assert.equal(before, behind)
  // Two workers share the consumer from here; neither counts a change twice.
  const b = await worker()
  const c = await worker()
  try {
    // Bounded by progress, not by a deadline: a loaded machine is slower, but a stall of
    // 30 s (or a count past n) ends the wait.
    let last = -1
    let since = Date.now()
    for (;;) {
      const got = created(tid)
      if (got >= n) break
      if (got !== last) [last, since] = [got, Date.now()]
      else if (Date.now() - since > 30000) break
      await sleep(200)
    }
    assert.equal(created(tid), n, 'all counted')
    const end = consumerAt()
    await sleep(300)
    assert.equal(created(tid), n, 'nothing counted twice')
    assert.equal(consumerAt(), end)
  } finally {
    assert.equal((await stop(b)).code, 0)
    assert.equal((await stop(c)).code, 0)
  }
})

test('kill -9 in the middle of a job: another worker runs it again and nothing is lost', async () => {
  clearJobs()
  const ids = enqueue('debug.sleep', { ms: 400 }, 30)
  const a = await worker({ QUILL_WORKER_CONCURRENCY: '10' })
  const running = await waitFor(() => count(`job_id = ANY ('{${ids}}') AND state = 'running' AND locked_by = '${a.id}'`) >= 5)
  assert.ok(running, 'worker A took jobs')
  a.proc.kill('SIGKILL')
  await a.exit
  // What A held when it died is in the table now, and nothing else touches it until B starts.
  const held = count(`job_id = ANY ('{${ids}}') AND state = 'running' AND locked_by = '${a.id}'`)
  const finished = count(`job_id = ANY ('{${ids}}') AND state = 'succeeded'`)
  assert.ok(held > 0, `A died holding jobs (${held})`)
  assert.equal(held + finished + count(`job_id = ANY ('{${ids}}') AND state = 'available'`), ids.length)
  const b = await worker({ QUILL_WORKER_CONCURRENCY: '10' })
  try {
    const done = await waitFor(() => count(`job_id = ANY ('{${ids}}') AND state = 'succeeded'`) === ids.length, { timeout: 20000 })
    assert.ok(done, `all jobs succeeded: ${sql("SELECT state, count(*) FROM jobs GROUP BY state")}`)
    assertAttemptsMatchErrors('true')
    // every job A held, and only those, ran a second time with the reason recorded
    const retried = count(`job_id = ANY ('{${ids}}') AND attempts = 2 AND errors->0->>'error' = 'worker ${a.id} stopped sending heartbeats'`)
    assert.equal(retried, held)
    assert.equal(count(`job_id = ANY ('{${ids}}') AND attempts = 1`), ids.length - held)
    assert.equal(count(`locked_by = '${a.id}'`), 0)
  } finally {
    assert.equal((await stop(b)).code, 0)
  }
})

test('a handler past its deadline and one that always fails are retried with backoff, then discarded and visible to operators', async () => {
  clearJobs()
  const [slow] = enqueue('debug.sleep', { ms: 5000 }, 1, { maxAttempts: 3 })
  const [failing] = enqueue('debug.fail', {}, 1, { maxAttempts: 4 })
  const w = await worker()
  try {
    const done = await waitFor(() => count(`job_id IN (${slow}, ${failing}) AND state = 'discarded'`) === 2, { timeout: 20000 })
    assert.ok(done, sql('SELECT job_id, state, attempts, errors FROM jobs'))
    const r = await http(api, 'GET', '/v1/admin/jobs?state=discarded&limit=10', { token: ADMIN_TOKEN })
    assert.equal(r.status, 200)
    const byId = Object.fromEntries(r.body.items.map((j) => [j.jobId, j]))
    const s = byId[String(slow)]
    const f = byId[String(failing)]
    assert.equal(s.attempts, 3)
    assert.equal(s.errors.length, 3)
    for (const e of s.errors) assert.match(e.error, /deadline/)
    assert.deepEqual(s.errors.map((e) => e.attempt), [1, 2, 3])
    assert.equal(f.attempts, 4)
    assert.deepEqual(f.errors.map((e) => e.attempt), [1, 2, 3, 4])
    assert.match(f.errors[3].error, new RegExp(`deliberate failure of job ${failing} attempt 4`))
    assert.ok(f.finishedAt)
    // A retry never runs before its time: 100 ms doubling, -25 % jitter at most (less a few
    // ms for the errors' times, which are read back to the millisecond).
    const at = f.errors.map((e) => Date.parse(e.at))
    for (let i = 1; i < at.length; i++) {
      assert.ok(at[i] - at[i - 1] >= 0.75 * 100 * 2 ** (i - 1) - 10, `gap ${i}: ${at[i] - at[i - 1]} ms`)
    }
    // The stats see them too.
    const st = await http(api, 'GET', '/v1/admin/jobs/stats', { token: ADMIN_TOKEN })
    const q = st.body.queues.find((x) => x.queue === 'default')
    assert.equal(q.discarded, 2)
    // A retry puts the job back for one more attempt, recorded like the others.
    const rr = await http(api, 'POST', `/v1/admin/jobs/${failing}/retry`, { token: ADMIN_TOKEN })
    assert.equal(rr.status, 202)
    const again = await waitFor(() => sql(`SELECT state || ' ' || attempts FROM jobs WHERE job_id = ${failing}`) === 'discarded 5' &&
      Number(sql(`SELECT jsonb_array_length(errors) FROM jobs WHERE job_id = ${failing}`)) === 5, { timeout: 20000 })
    assert.ok(again, sql(`SELECT state, attempts, errors FROM jobs WHERE job_id = ${failing}`))
  } finally {
    assert.equal((await stop(w)).code, 0)
  }
})

test('SIGTERM lets running jobs finish and exits 0', async () => {
  clearJobs()
  const ids = enqueue('debug.sleep', { ms: 600 }, 4)
  const w = await worker({ QUILL_WORKER_CONCURRENCY: '4' })
  assert.ok(await waitFor(() => count(`job_id = ANY ('{${ids}}') AND state = 'running'`) === 4))
  const r = await stop(w)
  assert.equal(r.code, 0)
  assert.equal(count(`job_id = ANY ('{${ids}}') AND state = 'succeeded' AND attempts = 1`), 4)
  assert.ok(w.lines.some((l) => l.includes('"msg":"quill-worker stopping"')))
})

test('short jobs are claimed ahead of the runners; SIGTERM hands those back untouched at once', async () => {
  clearJobs()
  const ids = enqueue('debug.sleep', { ms: 5 }, 3000)
  const w = await worker({ QUILL_WORKER_CONCURRENCY: '2', QUILL_JOB_BATCH: '200' })
  // Once jobs prove short the worker holds more claimed jobs than it has runners.
  const ahead = await waitFor(() => count(`job_id = ANY ('{${ids}}') AND state = 'running' AND locked_by = '${w.id}'`) > 2, { every: 20 })
  assert.ok(ahead, 'claimed ahead')
  const r = await stop(w)
  assert.equal(r.code, 0)
  assert.equal(count(`job_id = ANY ('{${ids}}') AND state = 'running'`), 0)
  assertAttemptsMatchErrors(`job_id = ANY ('{${ids}}')`)
  assert.equal(count(`job_id = ANY ('{${ids}}') AND state = 'available' AND attempts = 0`) +
    count(`job_id = ANY ('{${ids}}') AND state = 'succeeded' AND attempts = 1`), ids.length)
  assert.ok(count(`job_id = ANY ('{${ids}}') AND state = 'available'`) > 0, 'jobs were left to hand back')
})

test('SIGTERM past QUILL_SHUTDOWN_TIMEOUT_MS returns unfinished jobs to the queue untouched', async () => {
  clearJobs()
  const ids = enqueue('debug.sleep', { ms: 900 }, 3)
  const w = await worker({ QUILL_WORKER_CONCURRENCY: '3', QUILL_SHUTDOWN_TIMEOUT_MS: '100' })
  // look often: SIGTERM must come while they still run (900 ms), on a busy machine too
  assert.ok(await waitFor(() => count(`job_id = ANY ('{${ids}}') AND state = 'running'`) === 3, { every: 10 }))
  const r = await stop(w)
  assert.equal(r.code, 0)
  assert.equal(count(`job_id = ANY ('{${ids}}') AND state = 'available' AND attempts = 0 AND locked_by IS NULL`), 3)
  assert.ok(w.lines.some((l) => l.includes('"msg":"returned unfinished jobs to the queue"')))
  // The next worker runs them from the start.
  const w2 = await worker({ QUILL_WORKER_CONCURRENCY: '3' })
  try {
    assert.ok(await waitFor(() => count(`job_id = ANY ('{${ids}}') AND state = 'succeeded' AND attempts = 1`) === 3))
  } finally {
    await stop(w2)
  }
})

test('PostgreSQL restarted while jobs flow: the worker reconnects and drains the queue', async () => {
  clearJobs()
  const ids = enqueue('noop', {}, 5000, { maxAttempts: 5 })
  const w = await worker({ QUILL_JOB_BATCH: '50', QUILL_JOB_RESCUE_AFTER_MS: '2000' })
  try {
    assert.ok(await waitFor(() => count(`state = 'succeeded'`) > 200, { every: 5 }), 'jobs flow before the restart')
    await pg('stop')
    await sleep(500)
    await pg('start')
    const done = await waitFor(() => count(`job_id = ANY ('{${ids}}') AND state = 'succeeded'`) === ids.length, { timeout: 60000, every: 250 })
    assert.ok(done, sql('SELECT state, count(*) FROM jobs GROUP BY state'))
    assertAttemptsMatchErrors('true')
    assert.ok(w.lines.some((l) => l.includes('"msg":"quill-worker lost the database"')))
    assert.ok(w.lines.some((l) => l.includes('"msg":"quill-worker connected to the database"')))
  } finally {
    assert.equal((await stop(w)).code, 0)
  }
})

test('worker metrics: jobs by queue and state, attempt durations, outcomes; valid for promtool', async () => {
  clearJobs()
  const ids = enqueue('debug.sleep', { ms: 0 }, 20).concat(enqueue('debug.fail', {}, 1, { maxAttempts: 1 }))
  const w = await worker()
  try {
    assert.ok(await waitFor(() => count(`job_id = ANY ('{${ids}}') AND state IN ('succeeded', 'discarded')`) === 21))
    enqueue('noop', {}, 2, { queue: 'later', runAt: "now() + interval '1 hour'" })
    let text
    assert.ok(await waitFor(async () => {
      const r = await fetch(w.url + '/metrics')
      text = await r.text()
      return /quill_jobs\{queue="later",state="available"\} 2/.test(text)
    }, { timeout: 10000, every: 250 }), 'the metrics count jobs waiting for their time')
    assert.match(text, /quill_jobs\{queue="default",state="succeeded"\} 20/)
    assert.match(text, /quill_jobs\{queue="default",state="discarded"\} 1/)
    assert.match(text, /quill_job_attempts_total\{kind="debug.sleep",outcome="succeeded"\} 20/)
    assert.match(text, /quill_job_attempts_total\{kind="debug.fail",outcome="discarded"\} 1/)
    assert.match(text, /quill_job_attempt_duration_seconds_bucket\{kind="debug.sleep",le="\+Inf"\} 20/)
    assert.match(text, /quill_jobs_oldest_available_age_seconds\{queue="default"\} 0/)
    const live = await fetch(w.url + '/livez')
    assert.equal(live.status, 200)
    const dir = mkdtempSync(join(tmpdir(), 'quill-worker-metrics-'))
    writeFileSync(join(dir, 'm.txt'), text)
    const check = await run('sh', ['-c', `promtool check metrics < ${join(dir, 'm.txt')}`])
    rmSync(dir, { recursive: true })
    assert.equal(check.code, 0, check.stdout + check.stderr)
  } finally {
    await stop(w)
  }
})

test('retention deletes finished jobs older than QUILL_JOB_RETENTION_HOURS and keeps the rest', async () => {
  clearJobs()
  const [old] = enqueue('noop', {}, 1)
  const [oldFailed] = enqueue('noop', {}, 1)
  const [young] = enqueue('noop', {}, 1)
  const [waiting] = enqueue('noop', {}, 1)
  sql(`UPDATE jobs SET state = 'succeeded', finished_at = now() - interval '3 hours' WHERE job_id = ${old}`)
  sql(`UPDATE jobs SET state = 'discarded', finished_at = now() - interval '3 hours' WHERE job_id = ${oldFailed}`)
  sql(`UPDATE jobs SET state = 'succeeded', finished_at = now() - interval '30 minutes' WHERE job_id = ${young}`)
  sql(`UPDATE jobs SET run_at = now() + interval '1 day', created_at = now() - interval '1 day' WHERE job_id = ${waiting}`)
  const w = await worker({ QUILL_JOB_RETENTION_HOURS: '2' })
  try {
    assert.ok(await waitFor(() => count(`job_id IN (${old}, ${oldFailed})`) === 0))
    assert.equal(count(`job_id IN (${young}, ${waiting})`), 2)
  } finally {
    await stop(w)
  }
})

test('the daily prompt is stable, picked on first request, and the midnight job fills every team', async () => {
  clearJobs()
  const u = await signup(api)
  const team = await makeTeam(api, u.token)
  const other = await makeTeam(api, u.token)
  const r1 = await http(api, 'GET', `/v1/teams/${team.teamId}/prompts/daily`, { token: u.token })
  assert.equal(r1.status, 200, r1.text)
  assert.ok(r1.body.promptId)
  const r2 = await http(api, 'GET', `/v1/teams/${team.teamId}/prompts/daily`, { token: u.token })
  assert.deepEqual(r2.body, r1.body)
  assert.equal(sql(`SELECT prompt_id FROM daily_prompts WHERE team_id = '${team.teamId}' AND day = (now() AT TIME ZONE 'UTC')::date`), r1.body.promptId)
  assert.equal(count(`kind = 'prompts.daily_pick'`), 0)
  // The scheduled job picks for the team nobody asked about yet.
  assert.equal(sql(`SELECT count(*) FROM daily_prompts WHERE team_id = '${other.teamId}'`), '0')
  enqueue('prompts.daily_pick', {}, 1)
  const w = await worker()
  try {
    assert.ok(await waitFor(() => sql(`SELECT count(*) FROM daily_prompts WHERE team_id = '${other.teamId}'`) === '1'))
    assert.equal(sql("SELECT count(*) FROM teams t WHERE deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM daily_prompts d WHERE d.team_id = t.team_id AND d.day = (now() AT TIME ZONE 'UTC')::date)"), '0')
    // The job does not change a pick already made.
    const r3 = await http(api, 'GET', `/v1/teams/${team.teamId}/prompts/daily`, { token: u.token })
    assert.deepEqual(r3.body, r1.body)
    const r4 = await http(api, 'GET', `/v1/teams/${other.teamId}/prompts/daily`, { token: u.token })
    assert.equal(r4.body.promptId, sql(`SELECT prompt_id FROM daily_prompts WHERE team_id = '${other.teamId}'`))
  } finally {
    await stop(w)
  }
})

test('the /admin dashboard retries a discarded job in headless Chromium', async () => {
  clearJobs()
  const [id] = enqueue('noop', {}, 1)
  sql(`UPDATE jobs SET state = 'discarded', attempts = 3, finished_at = now(),
    errors = '[{"attempt": 3, "at": "2026-01-01T00:00:00Z", "error": "boom from the test"}]' WHERE job_id = ${id}`)
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
    const outside = []
    page.on('request', (req) => { if (!req.url().startsWith(api.url)) outside.push(req.url()) })
    await page.goto(`${api.url}/admin?token=${ADMIN_TOKEN}`)
    const button = page.getByRole('button', { name: `Retry job ${id}` })
    await button.waitFor({ timeout: 10000 })
    assert.match(await page.locator(`tr[data-job-id="${id}"]`).innerText(), /boom from the test/)
    assert.match(await page.locator('#queues').innerText(), /default/)
    await button.click()
    assert.ok(await waitFor(() => sql(`SELECT state FROM jobs WHERE job_id = ${id}`) === 'available'))
    // The page refreshes and the job leaves the failed list.
    await page.locator(`tr[data-job-id="${id}"]`).waitFor({ state: 'detached', timeout: 10000 })
    await page.getByText('No failed or discarded jobs.').waitFor({ timeout: 10000 })
    assert.deepEqual(outside, [], 'the page loads nothing from elsewhere')
  } finally {
    await browser.close()
    rmSync(profile, { recursive: true, force: true })
  }
})

// Last: it spans at least one minute boundary.
test('two workers and a per-minute schedule: every tick runs exactly once across a leader kill', async () => {
  clearJobs()
  const t0 = Date.now()
  const tick = (h) => h.lines.some((l) => l.includes('"msg":"quill-worker is the leader"'))
  // The first worker leads before the second starts, so the roles are known.
  const leader = await worker()
  assert.ok(await waitFor(() => tick(leader)), 'the first worker leads')
  const follower = await worker()
  await sleep(500) // a follower tries for the lead at each poll: let it try
  assert.equal(tick(follower), false, 'the second worker follows')
  // Let the leader run a tick that falls after it started, then kill it.
  const firstMinute = Math.ceil(t0 / 60000) * 60000
  const key = (ms) => `cron:debug-tick:${ms}`
  assert.ok(await waitFor(() => count(`unique_key = '${key(firstMinute)}' AND state = 'succeeded'`) === 1, { timeout: 75000, every: 250 }))
  leader.proc.kill('SIGKILL')
  await leader.exit
  assert.ok(await waitFor(() => tick(follower), { timeout: 5000 }), 'the other worker takes over')
  const nextMinute = firstMinute + 60000
  try {
    assert.ok(await waitFor(() => count(`unique_key = '${key(nextMinute)}' AND state = 'succeeded'`) === 1, { timeout: 75000, every: 250 }))
    // Every minute from the lookback to now: one job each, run once.
    const rows = sql(`SELECT unique_key, state, attempts FROM jobs WHERE unique_key LIKE 'cron:debug-tick:%' ORDER BY unique_key`).split('\n')
    const ticks = rows.map((r) => r.split('|'))
    const minutes = ticks.map((t) => Number(t[0].split(':')[2])).sort((x, y) => x - y)
    assert.ok(minutes.length >= 7, `ticks: ${rows}`)
    for (let i = 1; i < minutes.length; i++) assert.equal(minutes[i] - minutes[i - 1], 60000, 'no tick missing')
    for (const [k, state, attempts] of ticks) {
      assert.equal(state, 'succeeded', k)
      assert.equal(attempts, '1', k)
    }
  } finally {
    await stop(follower)
  }
})
