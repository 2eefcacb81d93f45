/*
 * Unit tests of quill-worker's job engine (adapters/engine) on fake ports: an in-memory
 * queue with the claim/complete/fail semantics of the PostgreSQL one, a database port whose
 * sessions share it, a notification port the test drives, and a clock the test moves.  The
 * engine's own threads and loop are real.  Every wait is bounded and checks a state, never
 * a duration.
 */
#include "engine_world.h"

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_every_job_runs_once_and_succeeds(void)
{
    struct world w;
    start(&w, 3);
    for (int i = 0; i < 40; i++)
        enqueue(&w, "noop", "{}", 3);
    WAIT_FOR(count(&w, "succeeded") == 40);
    stop(&w);
    for (int i = 0; i < 40; i++) {
        ASSERT_INT_EQ(w.queue.jobs[i].attempts, 1);
        ASSERT_INT_EQ(w.queue.jobs[i].completions, 1);
        ASSERT_INT_EQ(w.queue.jobs[i].fails, 0);
    }
}

static void test_a_failing_job_backs_off_then_is_discarded(void)
{
    struct world w;
    start(&w, 1);
    enqueue(&w, "debug.fail", "{}", 3);
    int64_t t0 = tc_now(&w.clock.base);
    WAIT_FOR(job(&w, 0).fails == 1);
    struct tjob j = job(&w, 0);
    ASSERT_STR_EQ(j.state, "failed");
    ASSERT_NOT_NULL(strstr(j.last_error, "deliberate failure"));
    /* the first retry waits the base delay, with at most 25 % jitter; time stands still */
    ASSERT_TRUE(j.run_at_ms >= t0 + 750 && j.run_at_ms <= t0 + 1250);
    int64_t wait1 = j.run_at_ms - t0;
    advance(&w.clock, wait1);
    WAIT_FOR(job(&w, 0).fails == 2);
    j = job(&w, 0);
    ASSERT_STR_EQ(j.state, "failed");
    int64_t wait2 = j.run_at_ms - tc_now(&w.clock.base);
    ASSERT_TRUE(wait2 >= 1500 && wait2 <= 2500); /* doubled */
    advance(&w.clock, wait2);
    WAIT_FOR(job(&w, 0).fails == 3);
    ASSERT_STR_EQ(job(&w, 0).state, "discarded");
    ASSERT_INT_EQ(job(&w, 0).attempts, 3);
    stop(&w);
}

static void test_a_run_sees_its_deadline_on_the_clock(void)
{
    struct world w;
    start(&w, 1);
    enqueue(&w, "debug.sleep", "{\"ms\":60000}", 1);
    WAIT_FOR(job(&w, 0).progressed); /* a runner took it: its deadline is set */
    /* the kind's timeout is 1 s: past it (but within the engine's grace), the handler stops */
    advance(&w.clock, 1200);
    WAIT_FOR(job(&w, 0).fails == 1);
    struct tjob j = job(&w, 0);
    ASSERT_STR_EQ(j.state, "discarded"); /* its only attempt */
    ASSERT_NOT_NULL(strstr(j.last_error, "deadline exceeded"));
    ASSERT_INT_EQ(j.completions, 0);
    stop(&w);
}

static void test_stopping_finishes_running_jobs_and_releases_the_rest(void)
{
    struct world w;
    start(&w, 1);
    for (int i = 0; i < 4; i++)
        enqueue(&w, "debug.sleep", "{\"ms\":300}", 3);
    /* running on a runner, not only claimed: a claimed job no runner took yet goes back */
    WAIT_FOR(job(&w, 0).progressed || job(&w, 1).progressed || job(&w, 2).progressed ||
             job(&w, 3).progressed);
    stop(&w);
    /* the running one finished; the others were never attempted */
    ASSERT_INT_EQ(count(&w, "succeeded"), 1);
    ASSERT_INT_EQ(count(&w, "available"), 3);
    for (int i = 0; i < 4; i++)
        if (!strcmp(w.queue.jobs[i].state, "available"))
            ASSERT_INT_EQ(w.queue.jobs[i].attempts, 0);
}

/*
 * A job still running while the worker stops keeps its lease: its heartbeats go on until it
 * ends or the shutdown timeout hands it back.  Without them the leader of another worker
 * takes it for lost once QUILL_JOB_RESCUE_AFTER_MS passes and runs it a second time while
 * this one is still running it.
 */
static void test_stopping_keeps_sending_heartbeats_for_running_jobs(void)
{
    struct world w;
    start(&w, 1);
    enqueue(&w, "debug.sleep", "{\"ms\":60000}", 1);
    WAIT_FOR(job(&w, 0).progressed);
    ql_engine_stop(w.engine);
    for (int i = 0; i < 3; i++) { /* one may have come before the engine saw the stop */
        int seen = job(&w, 0).heartbeats;
        advance(&w.clock, 150); /* a heartbeat period, well within the job's deadline */
        WAIT_FOR(job(&w, 0).heartbeats > seen);
    }
    advance(&w.clock, 1200); /* past the kind's 1 s deadline: the handler gives up */
    pthread_join(w.thread, NULL);
    ASSERT_INT_EQ(w.rc, QL_OK);
    ASSERT_STR_EQ(job(&w, 0).state, "discarded"); /* its only attempt, counted */
    ASSERT_INT_EQ(job(&w, 0).completions, 0);
    ql_engine_destroy(w.engine);
    pthread_mutex_destroy(&w.queue.lock);
}

/*
 * A handler stuck past its deadline while the worker stops (in a call that does not look at
 * the deadline) is timed out as it would be while the worker runs: its attempt is recorded
 * as failed and counted, and it waits its backoff.  It is not left running until the
 * shutdown timeout and then handed back as never attempted, to be run again at once.
 */
static void test_stopping_times_out_a_run_past_its_deadline(void)
{
    struct world w;
    start(&w, 1);
    hold_progress(&w, 1);
    enqueue(&w, "debug.sleep", "{\"ms\":60000}", 3);
    WAIT_FOR(held(&w) == 1); /* a runner took it: its 1 s deadline runs */
    ql_engine_stop(w.engine);
    advance(&w.clock, 1600); /* past the deadline and the grace; the shutdown timeout is 5 s */
    WAIT_FOR(job(&w, 0).fails == 1);
    struct tjob j = job(&w, 0);
    ASSERT_STR_EQ(j.state, "failed");
    ASSERT_NOT_NULL(strstr(j.last_error, "timed out"));
    ASSERT_INT_EQ(j.attempts, 1);
    ASSERT_INT_EQ(w.queue.releases, 0);
    hold_progress(&w, 0);
    pthread_join(w.thread, NULL);
    ASSERT_INT_EQ(w.rc, QL_OK);
    ASSERT_INT_EQ(job(&w, 0).completions, 0);
    ql_engine_destroy(w.engine);
    pthread_mutex_destroy(&w.queue.lock);
    pthread_cond_destroy(&w.queue.held_cond);
}

/* The cron ticks enqueued so far: how many, and the earliest and latest of them. */
static void ticks(struct world *w, int *n, int64_t *oldest, int64_t *newest)
{
    pthread_mutex_lock(&w->queue.lock);
    *n = w->queue.ticks;
    *oldest = w->queue.oldest_tick;
    *newest = w->queue.newest_tick;
    w->queue.ticks = 0;
    pthread_mutex_unlock(&w->queue.lock);
}

static int64_t newest_tick(struct world *w)
{
    pthread_mutex_lock(&w->queue.lock);
    int64_t t = w->queue.ticks ? w->queue.newest_tick : 0;
    pthread_mutex_unlock(&w->queue.lock);
    return t;
}

/*
 * A leader that could not run cron for hours while it kept the lead (its process was
 * suspended, or its clock stepped forward) looks back no further than a new leader does: it
 * does not enqueue every tick it missed in one burst.
 */
static void test_a_leader_back_after_hours_enqueues_no_burst_of_missed_ticks(void)
{
    struct world w;
    start(&w, 1);
    pthread_mutex_lock(&w.queue.lock);
    w.queue.leader = 1;
    pthread_mutex_unlock(&w.queue.lock);
    int64_t t0 = tc_now(&w.clock.base); /* a minute's start: its ticks come with the lookback */
    WAIT_FOR(newest_tick(&w) == t0);
    int n;
    int64_t oldest, newest;
    ticks(&w, &n, &oldest, &newest);
    ASSERT_TRUE(oldest > t0 - 5 * 60000); /* a new leader looks back 5 minutes */
    advance(&w.clock, 2 * 3600000);
    int64_t t1 = tc_now(&w.clock.base);
    WAIT_FOR(newest_tick(&w) == t1);
    ticks(&w, &n, &oldest, &newest);
    ASSERT_TRUE(oldest > t1 - 5 * 60000); /* not the ticks of the two hours before */
    stop(&w);
}

static int rescues(struct world *w)
{
    pthread_mutex_lock(&w->queue.lock);
    int n = w->queue.rescues;
    pthread_mutex_unlock(&w->queue.lock);
    return n;
}

/*
 * The leader measures a heartbeat's age on the database's clock, which stamps heartbeats: a
 * worker whose clock runs ahead of the database's (here by a minute) does not take a job
 * that is sending heartbeats for lost, and have it run a second time.
 */
static void test_a_leader_whose_clock_runs_ahead_rescues_no_live_job(void)
{
    struct world w;
    start(&w, 1);
    pthread_mutex_lock(&w.queue.lock);
    w.queue.db_skew_ms = -60000;
    w.queue.leader = 1;
    pthread_mutex_unlock(&w.queue.lock);
    enqueue(&w, "debug.sleep", "{\"ms\":60000}", 3);
    WAIT_FOR(job(&w, 0).progressed);
    int seen = rescues(&w);
    atomic_fetch_add(&w.clock.now_ms, 2100); /* wall time only: the job's deadline stays off */
    WAIT_FOR(rescues(&w) > seen);            /* the next rescue pass, after a heartbeat */
    ASSERT_STR_EQ(job(&w, 0).state, "running");
    advance(&w.clock, 1200); /* past the kind's 1 s deadline: the handler gives up */
    WAIT_FOR(job(&w, 0).fails == 1);
    stop(&w);
}

static int purges(struct world *w)
{
    pthread_mutex_lock(&w->queue.lock);
    int n = w->queue.purges;
    pthread_mutex_unlock(&w->queue.lock);
    return n;
}

/*
 * A new leader looks back 5 minutes for cron ticks and skips those whose job still exists
 * (the unique key): with QUILL_JOB_RETENTION_HOURS=0 the jobs of the ticks that ran must
 * outlive that lookback, or a leader change (a deploy) runs each of them a second time.
 */
static void test_retention_keeps_finished_jobs_for_the_cron_lookback(void)
{
    struct world w;
    start(&w, 1);
    w.cfg.job_retention_ms = 0; /* read by the leader only, after the lock below */
    pthread_mutex_lock(&w.queue.lock);
    w.queue.leader = 1;
    pthread_mutex_unlock(&w.queue.lock);
    int64_t now = tc_now(&w.clock.base);
    WAIT_FOR(purges(&w) > 0);
    pthread_mutex_lock(&w.queue.lock);
    int64_t purged_to = w.queue.purged_to;
    pthread_mutex_unlock(&w.queue.lock);
    ASSERT_TRUE(purged_to <= now - 5 * 60000);
    stop(&w);
}

/*
 * A retry waits its backoff on the database's clock, which claims read: a worker whose clock
 * runs behind the database's (here by a minute) does not retry a failing job at once, and
 * spend its attempts in a burst.
 */
static void test_a_worker_whose_clock_runs_behind_still_backs_off(void)
{
    struct world w;
    start(&w, 1);
    pthread_mutex_lock(&w.queue.lock);
    w.queue.db_skew_ms = 60000;
    pthread_mutex_unlock(&w.queue.lock);
    enqueue(&w, "debug.fail", "{}", 3);
    WAIT_FOR(job(&w, 0).fails >= 1);
    struct tjob j = job(&w, 0);
    ASSERT_INT_EQ(j.fails, 1);
    ASSERT_STR_EQ(j.state, "failed");
    int64_t db = tc_now(&w.clock.base) + 60000;
    ASSERT_TRUE(j.run_at_ms >= db + 750 && j.run_at_ms <= db + 1250);
    stop(&w);
}

/*
 * A leader that stops keeps the lead (its session holds the lock) until it exits, which may
 * be QUILL_SHUTDOWN_TIMEOUT_MS later: meanwhile it goes on enqueueing cron ticks, or those
 * older than a new leader's look-back would be lost, and no job of a lost worker rescued.
 */
static void test_a_stopping_leader_keeps_running_cron(void)
{
    struct world w;
    start(&w, 1);
    pthread_mutex_lock(&w.queue.lock);
    w.queue.leader = 1;
    pthread_mutex_unlock(&w.queue.lock);
    int64_t t0 = tc_now(&w.clock.base);
    WAIT_FOR(newest_tick(&w) == t0);
    enqueue(&w, "debug.sleep", "{\"ms\":60000}", 1);
    WAIT_FOR(job(&w, 0).progressed);     /* it keeps the worker stopping for a while */
    w.cfg.shutdown_timeout_ms = 3600000; /* read by the loop when it sees the stop */
    ql_engine_stop(w.engine);
    int seen = rescues(&w);
    atomic_fetch_add(&w.clock.now_ms, 60000); /* wall time only: the job's deadline stays off */
    WAIT_FOR(newest_tick(&w) == t0 + 60000);  /* the next minute's tick */
    WAIT_FOR(rescues(&w) > seen);
    advance(&w.clock, 1200); /* past the kind's 1 s deadline: the handler gives up */
    pthread_join(w.thread, NULL);
    ASSERT_INT_EQ(w.rc, QL_OK);
    ql_engine_destroy(w.engine);
    pthread_mutex_destroy(&w.queue.lock);
}

int main(int argc, char **argv)
{
    static const struct ql_test tests[] = {
        TEST(test_every_job_runs_once_and_succeeds),
        TEST(test_a_failing_job_backs_off_then_is_discarded),
        TEST(test_a_run_sees_its_deadline_on_the_clock),
        TEST(test_stopping_finishes_running_jobs_and_releases_the_rest),
        TEST(test_stopping_keeps_sending_heartbeats_for_running_jobs),
        TEST(test_stopping_times_out_a_run_past_its_deadline),
        TEST(test_a_leader_back_after_hours_enqueues_no_burst_of_missed_ticks),
        TEST(test_a_leader_whose_clock_runs_ahead_rescues_no_live_job),
        TEST(test_retention_keeps_finished_jobs_for_the_cron_lookback),
        TEST(test_a_worker_whose_clock_runs_behind_still_backs_off),
        TEST(test_a_stopping_leader_keeps_running_cron),
    };
    return ql_test_run(tests, QL_NTESTS(tests), argc, argv);
}
