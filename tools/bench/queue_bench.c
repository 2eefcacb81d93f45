/*
 * quill-queue-bench - the job engine measured the way ../shared/peers/queue-bench.js
 * measures graphile-worker and pg-boss, on the database DATABASE_URL names (migrated; its
 * jobs table is emptied):
 *
 *   enqueue_single  --jobs no-op jobs, one queue-port call each, --in-flight threads with a
 *                   session each (the adapter the API uses, so the same SQL and NOTIFY)
 *   enqueue_batch   --jobs jobs in calls of --batch, into an empty queue
 *   drain           quill-worker (--worker, concurrency --concurrency) started on those jobs,
 *                   timed from its start until no job is left unfinished
 *   latency         --latency jobs enqueued one at a time, 20 ms apart, into an idle worker:
 *                   p50/p99 of created_at -> locked_at (enqueue to claim, by the database clock)
 *
 * Each phase stops at --timeout seconds and is then reported as partial.  Output: progress on
 * stderr, one line on stdout in the peers' format plus the latency fields.
 */
#include "arena/arena.h"
#include "sysclock/sysclock.h"
#include "ctx/ctx.h"
#include "db/db.h"
#include "err/err.h"
#include "fdlog/fdlog.h"
#include "postgres/pg.h"
#include "queue/queue.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define QUEUE "bench"

struct opts {
    int jobs, in_flight, batch, concurrency, timeout_s, latency;
    const char *worker, *worker_log, *url;
};

struct phase {
    const char *name;
    long done, total;
    double secs;
};

static struct opts o = {20000, 10, 1000, 10, 60, 200, NULL, "/dev/null", NULL};
static struct ql_fdlog quiet;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "quill-queue-bench: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

static PGconn *admin;

/* Run a statement on the admin connection; the first column of the first row, or "". */
static const char *sql1(const char *q, char *out, size_t cap)
{
    PGresult *r = PQexec(admin, q);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        die("%s", PQerrorMessage(admin));
    snprintf(out, cap, "%s", PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return out;
}

static long unfinished(void)
{
    char v[32];
    return atol(sql1("SELECT count(*) FROM jobs WHERE queue = '" QUEUE
                     "' AND state IN ('available', 'running', 'failed')",
                     v, sizeof(v)));
}

static struct ql_pg_notify *notify;
static struct ql_pg_db *db;

/* A session like the API's: jobs wake the workers through the process's notifications. */
static struct ql_db_session *session(void)
{
    struct ql_db_session *pg;
    struct ql_error err = {0};
    if (ql_db_open(ql_pg_db_port(db), QL_DB_BLOCKING, 0, &pg) != QL_OK ||
        ql_db_connect(pg, &err) != QL_OK)
        die("cannot connect: %s", err.msg);
    return pg;
}

static void ctx_for(struct ql_ctx *cx, struct ql_arena *a, struct ql_db_session *pg)
{
    memset(cx, 0, sizeof(*cx));
    cx->arena = a;
    cx->ports.store = ql_db_store(pg);
    cx->ports.queue = ql_db_queue(pg);
    cx->ports.clock = ql_sysclock();
    cx->ports.log = &quiet.base;
}

static const struct ql_job_spec noop = {.kind = "noop", .queue = QUEUE, .max_attempts = 3};

/* ---- enqueue_single: in-flight lanes, each a thread with its own session -------------------- */

static atomic_long next_job, done_jobs;
static double deadline;

static void *lane(void *arg)
{
    (void)arg;
    struct ql_db_session *pg = session();
    struct ql_arena a;
    ql_arena_init(&a, 4096, 0);
    struct ql_ctx cx;
    ctx_for(&cx, &a, pg);
    while (atomic_fetch_add(&next_job, 1) < o.jobs && now_s() < deadline) {
        int64_t id;
        if (ql_queue_enqueue(cx.ports.queue, &cx, &noop, &id) != QL_OK)
            die("enqueue: %s", cx.err.msg);
        atomic_fetch_add(&done_jobs, 1);
        ql_arena_reset(&a);
    }
    ql_arena_cleanup(&a);
    ql_db_session_destroy(pg);
    return NULL;
}

static void enqueue_single(struct phase *p)
{
    pthread_t t[256];
    int n = o.in_flight < 256 ? o.in_flight : 256;
    atomic_store(&next_job, 0);
    atomic_store(&done_jobs, 0);
    double t0 = now_s();
    deadline = t0 + o.timeout_s;
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, lane, NULL);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    p->secs = now_s() - t0;
    p->done = atomic_load(&done_jobs);
}

/* ---- enqueue_batch ----------------------------------------------------------------------- */

static void enqueue_batch(struct phase *p)
{
    struct ql_db_session *pg = session();
    struct ql_arena a;
    ql_arena_init(&a, 1 << 20, 0);
    struct ql_ctx cx;
    ctx_for(&cx, &a, pg);
    struct ql_job_spec *specs = calloc((size_t)o.batch, sizeof(*specs));
    if (specs == NULL)
        die("%s", "out of memory");
    for (int i = 0; i < o.batch; i++)
        specs[i] = noop;
    double t0 = now_s();
    long done = 0;
    while (done < o.jobs && now_s() < t0 + o.timeout_s) {
        int k = o.jobs - done < o.batch ? (int)(o.jobs - done) : o.batch;
        if (ql_queue_enqueue_batch(cx.ports.queue, &cx, specs, k, NULL) != QL_OK)
            die("enqueue batch: %s", cx.err.msg);
        done += k;
        ql_arena_reset(&a);
    }
    p->secs = now_s() - t0;
    p->done = done;
    free(specs);
    ql_arena_cleanup(&a);
    ql_db_session_destroy(pg);
}

/* ---- the worker -------------------------------------------------------------------------- */

static pid_t worker_start(void)
{
    char conc[16];
    snprintf(conc, sizeof(conc), "%d", o.concurrency);
    setenv("DATABASE_URL", o.url, 1);
    setenv("QUILL_WORKER_CONCURRENCY", conc, 1);
    setenv("QUILL_JOB_QUEUES", QUEUE, 1);
    setenv("QUILL_WORKER_LISTEN", "off", 1);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, o.worker_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, o.worker_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    char *argv[] = {(char *)o.worker, NULL};
    pid_t pid;
    if (posix_spawn(&pid, o.worker, &fa, NULL, argv, environ) != 0)
        die("cannot start %s", o.worker);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static void worker_stop(pid_t pid)
{
    int status;
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "# quill-worker exited with status %d\n", status);
}

static void drain(struct phase *p)
{
    long queued = unfinished();
    double t0 = now_s();
    pid_t w = worker_start();
    long left = queued;
    while (left > 0 && now_s() < t0 + o.timeout_s) {
        usleep(5000);
        left = unfinished();
    }
    p->secs = now_s() - t0;
    p->done = queued - left;
    p->total = queued;
    worker_stop(w);
}

/* Enqueue-to-claim latency into an idle worker, by the database clock. */
static void latency(double *p50, double *p99)
{
    pid_t w = worker_start();
    usleep(1000 * 1000); /* connected, listening, idle */
    struct ql_db_session *pg = session();
    struct ql_arena a;
    ql_arena_init(&a, 4096, 0);
    struct ql_ctx cx;
    ctx_for(&cx, &a, pg);
    for (int i = 0; i < o.latency; i++) {
        int64_t id;
        if (ql_queue_enqueue(cx.ports.queue, &cx, &noop, &id) != QL_OK)
            die("enqueue: %s", cx.err.msg);
        ql_arena_reset(&a);
        usleep(20000);
    }
    double t0 = now_s();
    while (unfinished() > 0 && now_s() < t0 + 10)
        usleep(10000);
    char v[64];
    *p50 = atof(sql1("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM "
                     "locked_at - created_at) * 1000) FROM jobs WHERE queue = '" QUEUE "'",
                     v, sizeof(v)));
    *p99 = atof(sql1("SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM "
                     "locked_at - created_at) * 1000) FROM jobs WHERE queue = '" QUEUE "'",
                     v, sizeof(v)));
    ql_arena_cleanup(&a);
    ql_db_session_destroy(pg);
    worker_stop(w);
}

static void report(struct phase *p, char *partial, size_t cap)
{
    double rate = p->secs > 0 ? (double)p->done / p->secs : 0;
    fprintf(stderr, "# quill %s: %ld/%ld jobs in %.2f s = %.0f jobs/s%s\n", p->name, p->done,
            p->total, p->secs, rate, p->done < p->total ? " (stopped at the cap)" : "");
    if (p->done < p->total) {
        size_t n = strlen(partial);
        snprintf(partial + n, cap - n, "%s%s:%ld/%ld", n ? "," : "", p->name, p->done, p->total);
    }
}

static int flag(int argc, char **argv, int *i, const char *name, int *v)
{
    if (strcmp(argv[*i], name) != 0 || *i + 1 >= argc)
        return 0;
    *v = atoi(argv[++*i]);
    if (*v < 1)
        die("%s needs a positive integer", name);
    return 1;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (flag(argc, argv, &i, "--jobs", &o.jobs) ||
            flag(argc, argv, &i, "--in-flight", &o.in_flight) ||
            flag(argc, argv, &i, "--batch", &o.batch) ||
            flag(argc, argv, &i, "--concurrency", &o.concurrency) ||
            flag(argc, argv, &i, "--timeout", &o.timeout_s) ||
            flag(argc, argv, &i, "--latency", &o.latency))
            continue;
        if (strcmp(argv[i], "--worker") == 0 && i + 1 < argc)
            o.worker = argv[++i];
        else if (strcmp(argv[i], "--worker-log") == 0 && i + 1 < argc)
            o.worker_log = argv[++i];
        else
            die("unknown option %s (see the comment at the top of queue_bench.c)", argv[i]);
    }
    o.url = getenv("DATABASE_URL");
    if (o.url == NULL || o.worker == NULL)
        die("%s", "usage: DATABASE_URL=... quill-queue-bench --worker PATH [--jobs N] "
                  "[--in-flight N] [--batch N] [--concurrency N] [--timeout S] [--latency N]");
    pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
    ql_fdlog_init(&quiet, 2, QL_LOG_ERROR, ql_sysclock(), &log_lock);
    admin = PQconnectdb(o.url);
    if (PQstatus(admin) != CONNECTION_OK)
        die("%s", PQerrorMessage(admin));
    if (ql_pg_notify_create(o.url, &quiet.base, &notify) != QL_OK)
        die("%s", "cannot start the notification port");
    const struct ql_pg_db_config dbc = {.conninfo = o.url,
                                        .log = &quiet.base,
                                        .clock = ql_sysclock(),
                                        .notify = ql_pg_notify_port(notify)};
    if (ql_pg_db_create(&dbc, &db) != QL_OK)
        die("%s", "cannot make the session factory");
    char v[64], partial[256] = "";
    sql1("TRUNCATE jobs", v, sizeof(v));

    struct phase single = {"enqueue_single", 0, o.jobs, 0};
    enqueue_single(&single);
    report(&single, partial, sizeof(partial));
    sql1("TRUNCATE jobs", v, sizeof(v));

    struct phase batch = {"enqueue_batch", 0, o.jobs, 0};
    enqueue_batch(&batch);
    report(&batch, partial, sizeof(partial));

    struct phase dr = {"drain", 0, 0, 0};
    drain(&dr);
    report(&dr, partial, sizeof(partial));
    sql1("TRUNCATE jobs", v, sizeof(v));

    double p50 = 0, p99 = 0;
    if (o.latency > 0)
        latency(&p50, &p99);
    fprintf(stderr, "# quill enqueue-to-claim latency, idle worker: p50 %.2f ms, p99 %.2f ms\n",
            p50, p99);
    sql1("TRUNCATE jobs", v, sizeof(v));
    PQfinish(admin);
    ql_pg_db_destroy(db);
    ql_pg_notify_destroy(notify);

    printf("peer=quill jobs=%d in_flight=%d batch=%d concurrency=%d "
           "enqueue_single_jobs_per_s=%.0f enqueue_batch_jobs_per_s=%.0f drain_jobs_per_s=%.0f "
           "latency_p50_ms=%.2f latency_p99_ms=%.2f partial=%s\n",
           o.jobs, o.in_flight, o.batch, o.concurrency,
           single.secs > 0 ? (double)single.done / single.secs : 0,
           batch.secs > 0 ? (double)batch.done / batch.secs : 0,
           dr.secs > 0 ? (double)dr.done / dr.secs : 0, p50, p99, partial[0] ? partial : "none");
    return 0;
}
