/*
 * loopgroup.c - group commit from the event loops.
 *
 * A creation that joins a group from a pool thread costs that thread a sleep and a wake
 * per write, and its request a hop from the loop to the pool and back: under load most of
 * quill-api's CPU per POST went to those switches.  So a loop does not hand such a write
 * to a thread: its group port submits the prepared write to the process's queue
 * (env->group) and the request waits, as a loop read does.  A thread of the write
 * pool leads: asked for by the queue when a submitted write is first in line and a
 * writer's slot is free, it writes batch after batch while writes wait, so under load
 * nothing sleeps between them.  Each write done comes back to its loop like a finished
 * pool task (the loop's completion list and one coalescing uv_async_send), where its
 * continuation answers the request.
 *
 * Lifetimes: a submitted item, its hop and the request they belong to stay alive while
 * the request waits; the write pool stops only after the loops have finished every
 * request (ql_http_server_run), so a queued write always finds a leader.
 */
#include "internal.h"

#include "arena/arena.h"
#include "ctx/ctx.h"
#include "err/err.h"

#include <stdlib.h>

/* The way back to the submitting loop: a task with nothing to run on the pool. */
struct hop {
    struct ql__task task; /* first: the loop's completion list holds tasks */
    struct ql_group_item *item;
};

/* A write pool thread's turn at leading the queue's batches. */
struct lead {
    struct ql__task task; /* first */
    struct ql_http_server *server;
};

/* On the loop: the item is done, its continuation answers. */
static void hop_done(struct ql__task *t)
{
    struct ql_group_item *it = ((struct hop *)t)->item;
    it->then(it->cx, it->rc, it->then_arg);
}

static int lg_join(struct ql_group *self, struct ql_ctx *cx, struct ql_group_item *item,
                   ql_group_write_fn write)
{
    (void)self, (void)cx, (void)write;
    return item->rc = QL_ERETRY; /* a loop never sleeps: written alone, where the loop refuses */
}

static int lg_submit(struct ql_group *self, struct ql_ctx *cx, struct ql_group_item *item,
                     ql_group_write_fn write, ql_done_fn then, void *arg)
{
    struct ql__loop_group *g = (struct ql__loop_group *)self;
    struct hop *h = ql_arena_alloc(cx->arena, sizeof(*h));
    if (h == NULL)
        return ql_error_set(&cx->err, QL_ENOMEM, NULL);
    *h = (struct hop){.task = {.done = hop_done, .owner = g->loop}, .item = item};
    item->wait = h;
    if (ql_group_submit(g->inner, cx, item, write, then, arg) == QL_OK)
        return QL_OK;
    /* Nothing queued: the pool writes it, or answers 503 when it is stopping too. */
    return ql_error_set(&cx->err, QL_EWOULD_BLOCK, "no thread can lead the group");
}

static void lg_stats(struct ql_group *self, struct ql_group_stats *out)
{
    ql_group_stats(((struct ql__loop_group *)self)->inner, out);
}

static const struct ql_group_ops lg_ops = {.join = lg_join, .submit = lg_submit, .stats = lg_stats};

/* Between two batches: what the last one allocated goes. */
static void lead_reset(struct ql_ctx *cx)
{
    ql_arena_reset(cx->arena);
    ql_error_clear(&cx->err);
}

static void lead_run(struct ql__task *t, struct ql_ports *ports)
{
    struct ql_http_server *s = ((struct lead *)t)->server;
    struct ql_arena arena;
    ql_arena_init(&arena, 16384, 0);
    struct ql_ctx cx = {
        .arena = &arena, .ports = *ports, .cfg = s->env->core, .request_id = "group-leader"};
    ql_group_lead(s->env->group, &cx, lead_reset);
    ql_arena_cleanup(&arena);
}

static void lead_done(struct ql__task *t)
{
    free(t);
}

/* The group asks for a leader (its lock held): the first task of the write pool. */
int ql_http_group_lead(void *ud)
{
    struct ql_http_server *s = ud;
    struct lead *ld = malloc(sizeof(*ld));
    if (ld == NULL)
        return -1;
    *ld = (struct lead){.task = {.run = lead_run, .done = lead_done}, .server = s};
    if (ql__pool_submit_first(&s->writes, &ld->task) != QL_OK) {
        free(ld);
        return -1;
    }
    return 0;
}

void ql_http_group_done(void *ud, struct ql_group_item *item)
{
    (void)ud;
    ql__task_post_back(&((struct hop *)item->wait)->task);
}

void ql__loopgroup_start(struct ql_http_server *s)
{
    const struct ql_http_env *env = s->env;
    if (env->group == NULL || !env->group_hosted || s->writes.nthreads == 0)
        return;
    for (int i = 0; i < s->nloops; i++)
        s->loops[i].group = (struct ql__loop_group){{&lg_ops}, &s->loops[i], env->group};
}

struct ql_group *ql__loopgroup_port(struct ql__loop *l)
{
    /* With a replica, a write records its WAL position on the pool (replica.c): not here. */
    if (l->group.inner == NULL || l->server->replica)
        return NULL;
    return &l->group.base;
}
