/*
 * waker.c - wakes quill-worker once jobs have committed: NOTIFY quill_jobs with the
 * queue's name, sent by one thread per process on a connection of its own.
 *
 * Why not NOTIFY inside the enqueuing transaction: PostgreSQL serialises the commits of
 * transactions that notify (a database-wide lock held through the commit's WAL flush), so
 * one NOTIFY per write would end group commit for every writer.  Sessions instead post the
 * queues of their committed jobs here; commits that arrive while a NOTIFY is in flight share
 * the next one, so a burst of writes costs a few notifications.  A queue posted after the
 * thread took the pending set gets another NOTIFY, sent after that commit, so no committed
 * job goes unannounced.  If the database is unreachable the wake-ups are dropped and
 * workers find the jobs by polling.
 */
#include "internal.h"
#include "pg.h"

#include "err/err.h"
#include "log/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ql_pg_waker {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char pending[QL__PG_WAKE][64];
    int npending;
    int stop;
    pthread_t thread;
    char *conninfo;
    struct ql_logger *log;
    PGconn *conn;
};

void ql__pg_wake_merge(char (*set)[64], int *n, const char *queue)
{
    if (strlen(queue) >= 64 || strpbrk(queue, "\"\\{},") != NULL)
        queue = "*"; /* any queue */
    for (int i = 0; i < *n; i++)
        if (strcmp(set[i], queue) == 0)
            return;
    if (*n == QL__PG_WAKE) {
        snprintf(set[*n - 1], 64, "*"); /* too many: the last one stands for any */
        return;
    }
    snprintf(set[(*n)++], 64, "%s", queue);
}

static void notify(struct ql_pg_waker *w, char (*names)[64], int n)
{
    if (w->conn == NULL || PQstatus(w->conn) != CONNECTION_OK) {
        PQfinish(w->conn);
        static const char *const keys[] = {"dbname", "connect_timeout", "application_name", NULL};
        const char *vals[] = {w->conninfo, "3", "quill-waker", NULL};
        w->conn = PQconnectdbParams(keys, vals, 1);
        PGresult *r = NULL;
        if (PQstatus(w->conn) == CONNECTION_OK)
            r = PQprepare(w->conn, ql__pg_stmts[QL__ST_WAKE].name, ql__pg_stmts[QL__ST_WAKE].sql, 1,
                          NULL);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            PQfinish(w->conn);
            w->conn = NULL;
            struct timespec ts = {0, QL_PG_RETRY_MS * 1000000L};
            nanosleep(&ts, NULL); /* the wake-ups are lost: workers poll */
            return;
        }
    }
    char lit[QL__PG_WAKE * 66 + 3];
    size_t len = 0;
    lit[len++] = '{';
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(lit + len, sizeof(lit) - len, "%s%s", i ? "," : "", names[i]);
    snprintf(lit + len, sizeof(lit) - len, "}");
    const char *v[1] = {lit};
    PGresult *r = PQexecPrepared(w->conn, ql__pg_stmts[QL__ST_WAKE].name, 1, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        ql_log(w->log, QL_LOG_WARN, "cannot wake the workers", "error", PQerrorMessage(w->conn),
               NULL);
    PQclear(r);
}

static void *waker_main(void *arg)
{
    struct ql_pg_waker *w = arg;
    char names[QL__PG_WAKE][64];
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->npending == 0 && !w->stop)
            pthread_cond_wait(&w->cond, &w->lock);
        if (w->npending == 0)
            break; /* stopping, and everything was sent */
        int n = w->npending;
        memcpy(names, w->pending, sizeof(names));
        w->npending = 0;
        pthread_mutex_unlock(&w->lock);
        notify(w, names, n);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int ql_pg_waker_create(const char *conninfo, struct ql_logger *log, struct ql_pg_waker **out)
{
    *out = NULL;
    struct ql_pg_waker *w = calloc(1, sizeof(*w));
    if (w == NULL || (w->conninfo = strdup(conninfo)) == NULL) {
        free(w);
        return QL_ENOMEM;
    }
    w->log = log;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    if (pthread_create(&w->thread, NULL, waker_main, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->cond);
        free(w->conninfo);
        free(w);
        return QL_ENOMEM;
    }
    *out = w;
    return QL_OK;
}

void ql_pg_waker_destroy(struct ql_pg_waker *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    PQfinish(w->conn);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
    free(w->conninfo);
    free(w);
}

void ql__pg_waker_post(struct ql_pg_waker *w, char (*names)[64], int n)
{
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < n; i++)
        ql__pg_wake_merge(w->pending, &w->npending, names[i]);
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}
