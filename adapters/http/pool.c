/*
 * pool.c - the bounded pool of threads that run blocking work (database calls, argon2id).
 *
 * Each thread owns one database session, opened from the server's database port, and the
 * ports over it, for its whole life.  Tasks wait in one FIFO protected by a mutex; a full
 * FIFO refuses new tasks so the loop can answer 503 instead of letting memory grow.  A
 * finished task is handed back to the loop that submitted it through that loop's
 * completion list and uv_async_send, which coalesces wake-ups while the loop is busy.
 */
#include "internal.h"

#include "ctx/ctx.h"
#include "db/db.h"
#include "err/err.h"

#include <stdlib.h>

struct thread_arg {
    struct ql__pool *pool;
    int index;
};

void ql__task_post_back(struct ql__task *t)
{
    struct ql__loop *l = t->owner;
    t->next = NULL;
    pthread_mutex_lock(&l->done_lock);
    if (l->done_tail)
        l->done_tail->next = t;
    else
        l->done_head = t;
    l->done_tail = t;
    pthread_mutex_unlock(&l->done_lock);
    uv_async_send(&l->wake);
}

static void *worker(void *arg)
{
    struct thread_arg *a = arg;
    struct ql__pool *p = a->pool;
    struct ql_ports *ports = &p->ports[a->index];
    int a_index = a->index;
    free(a);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->head == NULL && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        struct ql__task *t = p->head;
        if (t == NULL)
            break; /* stopping and drained */
        p->head = t->next;
        if (p->head == NULL)
            p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->lock);
        atomic_fetch_add_explicit(&p->busy, 1, memory_order_relaxed);
        struct ql_db_session *s = p->sessions[a_index];
        ql_db_route_reads(s, t->replica, t->min_lsn);
        t->run(t, ports);
        ql_db_route_reads(s, 0, 0);
        if (t->want_lsn)
            t->lsn = ql_db_wal_lsn(s);
        atomic_fetch_sub_explicit(&p->busy, 1, memory_order_relaxed);
        if (t->owner)
            ql__task_post_back(t);
        else if (t->done)
            t->done(t); /* no loop waits for it: it ends here */
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int ql__pool_start(struct ql__pool *p, const struct ql_http_env *env, int n, int cap)
{
    *p = (struct ql__pool){.cap = cap};
    atomic_init(&p->busy, 0);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->started = 1;
    p->threads = calloc((size_t)n, sizeof(pthread_t));
    p->ports = calloc((size_t)n, sizeof(*p->ports));
    p->sessions = calloc((size_t)n, sizeof(*p->sessions));
    if (p->threads == NULL || p->ports == NULL || p->sessions == NULL)
        goto fail;
    for (int i = 0; i < n; i++, p->nsessions++) {
        if (ql_db_open(env->db, QL_DB_BLOCKING, 0, &p->sessions[i]) != QL_OK)
            goto fail;
        p->ports[i] = (struct ql_ports){.store = ql_db_store(p->sessions[i]),
                                        .queue = ql_db_queue(p->sessions[i]),
                                        .clock = env->clock,
                                        .auth = env->auth,
                                        .log = env->log,
                                        .group = env->group,
                                        .idp = env->idp,
                                        .tracer = env->tracer};
    }
    for (int i = 0; i < n; i++) {
        struct thread_arg *a = malloc(sizeof(*a));
        if (a == NULL)
            goto fail;
        a->pool = p;
        a->index = i;
        if (pthread_create(&p->threads[i], NULL, worker, a) != 0) {
            free(a);
            goto fail;
        }
        p->nthreads++;
    }
    return QL_OK;
fail:
    ql__pool_stop(p);
    return QL_ENOMEM;
}

int ql__pool_submit(struct ql__pool *p, struct ql__task *t)
{
    t->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->queued >= p->cap || p->stopping || p->nthreads == 0) {
        pthread_mutex_unlock(&p->lock);
        return QL_EUNAVAILABLE;
    }
    if (p->tail)
        p->tail->next = t;
    else
        p->head = t;
    p->tail = t;
    p->queued++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return QL_OK;
}

int ql__pool_submit_first(struct ql__pool *p, struct ql__task *t)
{
    pthread_mutex_lock(&p->lock);
    if (p->stopping || p->nthreads == 0) {
        pthread_mutex_unlock(&p->lock);
        return QL_EUNAVAILABLE;
    }
    t->next = p->head;
    p->head = t;
    if (p->tail == NULL)
        p->tail = t;
    p->queued++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return QL_OK;
}

void ql__pool_stop(struct ql__pool *p)
{
    if (!p->started)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    for (int i = 0; i < p->nsessions; i++)
        ql_db_session_destroy(p->sessions[i]);
    free(p->threads);
    free(p->ports);
    free(p->sessions);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    *p = (struct ql__pool){0};
}
