/*
 * quill-stream-bench - live sync streams under a steady write load, measured from the client
 * side (run by tools/bench/bench.sh, `streams`; not installed).
 *
 * Over loopback, against quill-api on --port (whose pid is --pid):
 *
 *   1. warm-up   10 streams open while --warm-seconds of writes go out at the measured pace
 *                (see 3) and reach them; then they close.  quill-api's one-time allocations
 *                (write pool threads, topics, buffers) happen here, not in the figures
 *                below.  Then quill-api's idle RSS (/proc/<pid>/status).
 *   2. open      --streams GET /v1/teams/<--team>/sync/stream, round-robin over the bearer
 *                tokens peer-token-<u> of --users A-B (members of the team), at most 64
 *                connects at a time.  A stream counts as open when its ": connected" comment
 *                arrives.  Then the RSS with the streams open.
 *   3. write     one POST /v1/teams/<--team>/journal-entries every --interval-ms for
 *                --seconds, as peer-token-<--writer>, from a thread and event loop of their
 *                own over --writers keep-alive connections (a POST goes out on a free one,
 *                and counts as late when it leaves more than 2 ms after its time).  The
 *                content of write k is "sb <k> " padded to 150 characters.  The RSS, and the
 *                CPU time quill-api and this program used, at the end of this phase.
 *   4. drain     until every stream has seen every write, or --drain-ms pass; then the
 *                streams close and, a second later, the RSS once more.
 *
 * The main loop reads every stream (chunked transfer coding, then Server-Sent Events) and
 * matches each "data:" line to its write by k.  Delivery latency is the arrival time minus
 * the time the POST was sent (sent_*), and minus the time its 201 arrived (answered_*;
 * negative when the event came first).  Everything is bounded in time (--timeout for the
 * whole run).  Output: progress on stderr, one line on stdout:
 *
 *   result streams=.. open=.. writes=.. events=.. expected=.. per_stream_open_b=.. ...
 */
#include "stream_bench.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct opts o = {58091, 1000, 1, 10, 1, 10, 10, 8, 2, 3000, 120, 0, NULL};
uv_loop_t *loop;
const char *volatile phase = "start";
int write_base;
int nwrites;

int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void die(const char *what, const char *detail)
{
    fprintf(stderr, "quill-stream-bench: %s%s%s (%s)\n", what, detail ? ": " : "",
            detail ? detail : "", phase);
    exit(1);
}

/* ---- what the server does: RSS and CPU of --pid -------------------------------------------- */

static long rss_kib(void)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", o.pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

/* utime + stime of --pid, in seconds. */
static double cpu_s(void)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%ld/stat", o.pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return 0;
    unsigned long long ut = 0, st = 0;
    /* after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- phases: run the main loop until a condition holds or a deadline passes ----------------- */

static uv_timer_t tick;
static int (*phase_done)(void);
static int64_t phase_deadline;
static int64_t run_deadline;
static int answers_wanted;

static void on_tick(uv_timer_t *t)
{
    (void)t;
    int64_t now = now_ns();
    if (phase_done() || now >= phase_deadline || now >= run_deadline)
        uv_stop(loop);
}

/* Run the loop until done() says so, or ms pass; 1 if done() held. */
static int run_until(int (*done)(void), int64_t ms)
{
    phase_done = done;
    phase_deadline = now_ns() + ms * 1000000;
    uv_timer_start(&tick, on_tick, 1, 1);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_timer_stop(&tick);
    return done();
}

static int done_writers(void)
{
    return atomic_load(&writers_ready) == o.writers;
}
static int done_opened(void)
{
    return opened + failed_streams >= stream_phase_target;
}
static int done_answers(void)
{
    return atomic_load(&answered) >= answers_wanted;
}
static int done_warm_events(void)
{
    for (int i = 0; i < stream_phase_target; i++)
        if (!sc[i].failed && sc[i].open && sc[i].warm < write_base)
            return 0;
    return 1;
}
static int done_closed(void)
{
    return closed_streams >= started;
}
static int done_delivered(void)
{
    return nevents + (size_t)events_dropped >= (size_t)nwrites * (size_t)(opened - failed_streams);
}
static int never(void)
{
    return 0;
}

/* ---- percentiles -------------------------------------------------------------------------- */

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const int64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return (double)v[i] / 1e6;
}

/* ---- main ---------------------------------------------------------------------------------- */

static int num(int argc, char **argv, int *i, const char *name, int *v)
{
    if (strcmp(argv[*i], name) != 0 || *i + 1 >= argc)
        return 0;
    *v = atoi(argv[++*i]);
    if (*v < 0)
        die(name, "needs a number");
    return 1;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (num(argc, argv, &i, "--port", &o.port) ||
            num(argc, argv, &i, "--streams", &o.streams) ||
            num(argc, argv, &i, "--writer", &o.writer) ||
            num(argc, argv, &i, "--interval-ms", &o.interval_ms) ||
            num(argc, argv, &i, "--seconds", &o.seconds) ||
            num(argc, argv, &i, "--writers", &o.writers) ||
            num(argc, argv, &i, "--warm-seconds", &o.warm_seconds) ||
            num(argc, argv, &i, "--drain-ms", &o.drain_ms) ||
            num(argc, argv, &i, "--timeout", &o.timeout_s))
            continue;
        if (strcmp(argv[i], "--team") == 0 && i + 1 < argc)
            o.team = argv[++i];
        else if (strcmp(argv[i], "--pid") == 0 && i + 1 < argc)
            o.pid = atol(argv[++i]);
        else if (strcmp(argv[i], "--users") == 0 && i + 1 < argc &&
                 sscanf(argv[i + 1], "%d-%d", &o.users_from, &o.users_to) == 2)
            i++;
        else
            die("unknown option (see the comment at the top of stream_bench.c)", argv[i]);
    }
    if (o.team == NULL || o.pid <= 0 || o.streams < 1 || o.interval_ms < 1 || o.writers < 1 ||
        o.seconds < 1 || o.users_to < o.users_from)
        die("usage: quill-stream-bench --team UUID --pid API_PID [--port 58091] [--streams 1000] "
            "[--users 1-10] [--writer 1] [--interval-ms 10] [--seconds 10] [--writers 8] "
            "[--warm-seconds 2] [--drain-ms 3000] [--timeout 120]",
            NULL);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)o.streams + 64)
        die("too few file descriptors for that many streams", NULL);

    loop = uv_default_loop();
    uv_timer_init(loop, &tick);
    run_deadline = now_ns() + (int64_t)o.timeout_s * 1000000000;
    int warm_writes = o.warm_seconds * 1000 / o.interval_ms;
    nwrites = o.seconds * 1000 / o.interval_ms;
    int total = warm_writes + nwrites;
    sent_ns = calloc((size_t)total + 1, sizeof(int64_t));
    answered_ns = calloc((size_t)total + 1, sizeof(int64_t));
    events_cap = (size_t)nwrites * (size_t)o.streams;
    events = malloc(events_cap * sizeof(*events) + 1);
    sc = calloc((size_t)o.streams, sizeof(*sc));
    if (!sent_ns || !answered_ns || !events || !sc)
        die("out of memory", NULL);

    /* 1. warm-up: the writers, a few streams, paced writes that reach them */
    phase = "warm-up";
    write_base = warm_writes; /* data lines below it count as warm-up */
    writers_start();
    if (!run_until(done_writers, 5000))
        die("the writers did not connect", NULL);
    stream_phase_target = o.streams < 10 ? o.streams : 10;
    open_more();
    if (!run_until(done_opened, 10000) || failed_streams)
        die("the warm-up streams did not open", NULL);
    answers_wanted = warm_writes;
    if (warm_writes > 0) {
        writers_batch(0, warm_writes);
        run_until(done_answers, (int64_t)o.warm_seconds * 1000 + 10000);
        run_until(done_warm_events, 3000);
    }
    phase = "closing the warm-up streams";
    close_streams(0, started);
    run_until(done_closed, 3000);
    run_until(never, 500); /* the server lets the closed streams go */
    long rss_idle = rss_kib();

    /* 2. open the streams */
    phase = "opening the streams";
    started = connecting = opened = closed_streams = failed_streams = 0;
    stream_phase_target = o.streams;
    int64_t t_open = now_ns();
    open_more();
    run_until(done_opened, (int64_t)o.timeout_s * 1000 / 2);
    double open_s = (double)(now_ns() - t_open) / 1e9;
    fprintf(stderr, "# %d of %d streams open in %.1f s (%d failed)\n", opened, o.streams, open_s,
            failed_streams);
    run_until(never, 500);
    long rss_open = rss_kib();

    /* 3. write */
    phase = "writing";
    double api0 = cpu_s(), self0 = self_cpu_s();
    int64_t w0 = now_ns();
    answers_wanted = warm_writes + nwrites;
    writers_batch(warm_writes, nwrites);
    run_until(done_answers, (int64_t)o.seconds * 1000 + 10000);
    int64_t w1 = now_ns();
    double api_cpu = cpu_s() - api0, self_cpu = self_cpu_s() - self0;
    long rss_busy = rss_kib();

    /* 4. drain, then let the streams go */
    phase = "draining";
    run_until(done_delivered, o.drain_ms);
    int open_streams = opened - failed_streams;
    size_t expected = (size_t)nwrites * (size_t)(open_streams > 0 ? open_streams : 0);
    int short_streams = 0;
    for (int i = 0; i < started; i++)
        if (sc[i].open && !sc[i].failed && sc[i].got < nwrites)
            short_streams++;
    phase = "closing the streams";
    close_streams(0, started);
    run_until(done_closed, 3000);
    run_until(never, 1000);
    long rss_closed = rss_kib();
    writers_stop();
    int done_writes = atomic_load(&answered) - warm_writes;

    int64_t *by_sent = malloc(nevents * sizeof(int64_t) + 1);
    int64_t *by_answer = malloc(nevents * sizeof(int64_t) + 1);
    int64_t *post_lat = malloc((size_t)nwrites * sizeof(int64_t) + 1);
    if (!by_sent || !by_answer || !post_lat)
        die("out of memory", NULL);
    size_t na = 0, ns = 0;
    for (size_t i = 0; i < nevents; i++) {
        int k = write_base + events[i].k;
        if (sent_ns[k])
            by_sent[ns++] = events[i].at - sent_ns[k];
        if (answered_ns[k])
            by_answer[na++] = events[i].at - answered_ns[k];
    }
    size_t np = 0;
    for (int k = write_base; k < write_base + nwrites; k++)
        if (answered_ns[k] && sent_ns[k])
            post_lat[np++] = answered_ns[k] - sent_ns[k];
    qsort(by_sent, ns, sizeof(int64_t), cmp64);
    qsort(by_answer, na, sizeof(int64_t), cmp64);
    qsort(post_lat, np, sizeof(int64_t), cmp64);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);

    double secs = (double)(w1 - w0) / 1e9;
    long per_open = open_streams > 0 ? (rss_open - rss_idle) * 1024 / open_streams : 0;
    long per_busy = open_streams > 0 ? (rss_busy - rss_idle) * 1024 / open_streams : 0;
    fprintf(stderr,
            "# %d writes in %.2f s (%d late, %d errors); %zu of %zu events (%d streams short, "
            "%ld stray); quill-api RSS: idle %ld KiB, streams open %ld KiB, end of writes %ld "
            "KiB, streams closed %ld KiB\n",
            done_writes, secs, atomic_load(&late), atomic_load(&write_errors), nevents, expected,
            short_streams, stray, rss_idle, rss_open, rss_busy, rss_closed);
    printf("result streams=%d open=%d failed=%d open_s=%.2f writes=%d write_s=%.2f "
           "write_errors=%d late=%d reconnects=%d events=%zu expected=%zu dropped=%ld "
           "short_streams=%d rss_idle_kib=%ld rss_open_kib=%ld rss_busy_kib=%ld rss_closed_kib=%ld "
           "per_stream_open_b=%ld per_stream_busy_b=%ld sent_p50_ms=%.2f sent_p99_ms=%.2f "
           "sent_max_ms=%.2f answered_p50_ms=%.2f answered_p99_ms=%.2f post_p50_ms=%.2f "
           "post_p99_ms=%.2f api_cpu_s=%.2f client_cpu_s=%.2f\n",
           o.streams, opened, failed_streams, open_s, done_writes, secs, atomic_load(&write_errors),
           atomic_load(&late), reconnects, nevents, expected, events_dropped, short_streams,
           rss_idle, rss_open, rss_busy, rss_closed, per_open, per_busy, pct(by_sent, ns, 50),
           pct(by_sent, ns, 99), pct(by_sent, ns, 100), pct(by_answer, na, 50),
           pct(by_answer, na, 99), pct(post_lat, np, 50), pct(post_lat, np, 99), api_cpu, self_cpu);
    return 0;
}
