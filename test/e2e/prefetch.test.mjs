// quill-worker's jobs claimed ahead of its runners, end to end: a worker killed with
// SIGKILL while it holds jobs that no runner started spends none of their attempts.  Real
// processes and the real PostgreSQL; no restart of it (unlike worker.test.mjs).  The order
// of events is read from PostgreSQL (a lock wait), never from a sleep.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { start, stop, sql, hold, queued, waitFor, clearJobs, FAST_WORKER as FAST } from './lib.mjs'

before(() => clearJobs())
after(() => clearJobs())

const worker = (env = {}) => start('quill-worker', { ...FAST, ...env }, 'quill-worker ready')
const count = (where) => Number(sql(`SELECT count(*) FROM jobs WHERE ${where}`))

test('a worker killed while it holds jobs claimed ahead of its runners spends none of their attempts', async () => {
  clearJobs()
  // One runner; short jobs first, so the worker claims ahead of it (while attempts take
  // under 50 ms on average).
  const a = await worker({ QUILL_WORKER_CONCURRENCY: '1', QUILL_JOB_BATCH: '20' })
  let b
  let lock
  try {
    sql(`INSERT INTO jobs (kind, max_attempts, payload) SELECT 'noop', 3, '{"warm":1}' FROM generate_series(1, 40);
      SELECT pg_notify('quill_jobs', 'default')`)
    assert.ok(await waitFor(() => count("payload ? 'warm' AND state = 'succeeded'") === 40),
      sql("SELECT string_agg(state || ' ' || attempts, ', ') FROM jobs"))
    // The runner's next job waits on a lock the test holds; ten jobs of one attempt each
    // come in the same claim, behind it.
    lock = await hold('LOCK TABLE login_failures IN ACCESS EXCLUSIVE MODE')
    sql(`DELETE FROM jobs WHERE payload ? 'warm';
      INSERT INTO jobs (kind, priority, max_attempts) VALUES ('purge.throttles', -1, 5);
      INSERT INTO jobs (kind, max_attempts, payload) SELECT 'noop', 1, jsonb_build_object('n', n)
        FROM generate_series(1, 10) n;
      SELECT pg_notify('quill_jobs', 'default')`)
    await queued(1) // the runner waits in purge.throttles
    const waiting = count("payload ? 'n' AND state = 'running'")
    assert.ok(waiting >= 1, `jobs claimed ahead: ${waiting}`)
    a.proc.kill('SIGKILL')
    await a.exit
    await lock.release()
    lock = null
    // Another worker rescues what the dead one held, and runs it.
    b = await worker()
    assert.ok(await waitFor(() => count("payload ? 'n' AND state IN ('succeeded', 'discarded')") === 10, { timeout: 20000 }),
      sql("SELECT string_agg(state || ' ' || attempts, ', ') FROM jobs WHERE payload ? 'n'"))
    // None was discarded for an attempt it never had: each succeeded.  Those the dead
    // worker held ahead were allowed one more attempt, recorded with the reason, so their
    // attempts and errors still agree.
    assert.equal(sql(`SELECT job_id, attempts, errors FROM jobs WHERE payload ? 'n' AND
      state <> 'succeeded'`), '')
    const held = count(`payload ? 'n' AND attempts = 2 AND max_attempts = 2 AND
      jsonb_array_length(errors) = 1 AND errors->0->>'error' LIKE '%one more attempt is allowed%'`)
    assert.ok(held >= 1)
    assert.equal(count("payload ? 'n' AND attempts = 1 AND errors = '[]'"), 10 - held)
    // The job that was running when the worker died spent its attempt, and ran again.
    assert.ok(await waitFor(() => count("kind = 'purge.throttles' AND priority = -1 AND state = 'succeeded'") === 1, { timeout: 20000 }),
      sql("SELECT string_agg(state || ' ' || attempts || ' ' || errors, ', ') FROM jobs WHERE kind = 'purge.throttles' AND priority = -1"))
    assert.equal(sql("SELECT attempts FROM jobs WHERE kind = 'purge.throttles' AND priority = -1"), '2')
  } finally {
    if (lock) await lock.release()
    if (!a.exited) a.proc.kill('SIGKILL')
    if (b) await stop(b)
  }
})
