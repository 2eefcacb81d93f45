/*
 * fake_changes.c - the change log and the activity counts of the fake store.
 *
 * One process, one thread, no concurrent transactions: every committed change is visible,
 * a snapshot starts after the last transaction, and the consumers are "activity" and "webhooks"
 * (busy when the test says so).  Changes live in the table range that begin() saves, so a
 * rollback takes them back like any other write.
 */
#include "fake_internal.h"

#include "clock/clock.h"
#include "ctx/ctx.h"
#include "err/err.h"
#include "trace/trace.h"

#include <stdio.h>
#include <stdlib.h>

static int append_one(struct fake_store *s, struct ql_ctx *cx, const struct ql_uuid *team,
                      int event, const struct ql_uuid *id, const char *traceparent)
{
    if (s->nchanges == FAKE_CHANGES_MAX)
        return ql_error_set(&cx->err, QL_EINTERNAL, "fake change log full");
    struct fake_change *c = &s->changes[s->nchanges++];
    c->pos = (struct ql_change_pos){s->txno, ++s->seq};
    c->team = *team;
    c->event = event;
    c->id = *id;
    c->at_ms = cx->ports.clock ? ql_clock_now_ms(cx->ports.clock) : 0;
    c->in_tx = s->in_tx;
    snprintf(c->traceparent, sizeof(c->traceparent), "%s", traceparent ? traceparent : "");
    return QL_OK;
}

static int c_append(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team, int event,
                    const struct ql_uuid *id)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    if (!s->in_tx)
        s->txno++;
    return append_one(s, cx, team, event, id, ql_trace_context_of(cx, cx));
}

static int c_append_many(struct ql_store *self, struct ql_ctx *cx,
                         const struct ql_uuid *const *teams, const int *events,
                         const struct ql_uuid *const *ids, const char *const *traceparents, int n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    if (!s->in_tx)
        s->txno++;
    const char *own = traceparents ? NULL : ql_trace_context_of(cx, cx);
    for (int i = 0; rc == QL_OK && i < n; i++)
        rc = append_one(s, cx, teams[i], events[i], ids[i], traceparents ? traceparents[i] : own);
    return rc;
}

/* The current state of a change's thing, or a tombstone. */
static int item_of(struct fake_store *s, struct ql_ctx *cx, const struct ql_uuid *team, int kind,
                   const struct ql_uuid *id, struct ql_sync_item *it)
{
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    it->id = *id;
    it->deleted = 1;
    for (int i = 0; kind == QL_CHANGE_ENTRY && i < s->nentries; i++) {
        const struct ql_entry *e = &s->entries[i].e;
        if (fake__same(&e->id, id) && fake__same(&e->team_id, team) && e->deleted_ms == 0) {
            it->entry = e;
            it->deleted = 0;
        }
    }
    for (int i = 0; kind == QL_CHANGE_PROMPT && i < s->nprompts; i++) {
        const struct ql_prompt *p = &s->prompts[i].p;
        if (fake__same(&p->id, id) && p->deleted_ms == 0) {
            it->prompt = p;
            it->deleted = 0;
        }
    }
    for (int i = 0; kind == QL_CHANGE_MEMBER && i < s->nmembers; i++) {
        const struct fake_member *m = &s->members[i];
        if (!fake__same(&m->team, team) || !fake__same(&m->user, id))
            continue;
        const struct fake_user *u = fake__user_by(s, &m->user, NULL);
        struct ql_member *out = ql_arena_alloc(cx->arena, sizeof(*out));
        if (out == NULL)
            return ql_error_set(&cx->err, QL_ENOMEM, NULL);
        *out = (struct ql_member){m->user, u ? u->u.email : "", u ? u->u.display_name : "", m->role,
                                  m->joined};
        it->member = out;
        it->deleted = 0;
    }
    return QL_OK;
}

/* Where a snapshot taken now starts: after the last transaction, or at the horizon. */
static struct ql_change_pos start_now(const struct fake_store *s)
{
    struct ql_change_pos p = {s->in_tx ? s->txno : s->txno + 1, 0};
    if (s->horizon && s->horizon < p.txid)
        p.txid = s->horizon; /* as if the transaction "horizon" were still running */
    return p;
}

static int c_page(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                  const struct ql_change_pos *after, int limit, int keep,
                  struct ql_change_page *out)
{
    (void)keep; /* the fake keeps nothing */
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    memset(out, 0, sizeof(*out));
    if (rc)
        return rc;
    out->start = start_now(s);
    out->floor = s->floor;
    out->items = ql_arena_calloc(cx->arena, (size_t)limit + 1, sizeof(*out->items));
    if (out->items == NULL)
        return ql_error_nomem(&cx->err);
    int below_floor = ql_change_pos_cmp(after, &s->floor) < 0;
    size_t bytes = 0; /* the page's entry content so far: it ends at QL_PAGE_CONTENT_MAX too */
    for (int i = 0; rc == QL_OK && !below_floor && i < s->nchanges; i++) {
        const struct fake_change *c = &s->changes[i];
        if (!fake__same(&c->team, team) || ql_change_pos_cmp(&c->pos, after) <= 0 ||
            (s->in_tx && c->pos.txid == s->txno) || ql_change_kind_of(c->event) == QL_CHANGE_TEAM)
            continue; /* team events are for webhooks, not sync */
        if (c->pos.txid >= out->start.txid) {
            out->held = 1; /* committed, behind a transaction still running */
            break;
        }
        if (out->n == limit || bytes >= QL_PAGE_CONTENT_MAX) {
            out->more = 1;
            break;
        }
        rc = item_of(s, cx, team, ql_change_kind_of(c->event), &c->id, &out->items[out->n]);
        if (out->items[out->n].entry)
            bytes += out->items[out->n].entry->content_n;
        out->items[out->n++].pos = c->pos;
    }
    return rc;
}

static int c_bounds(struct ql_store *self, struct ql_ctx *cx, struct ql_change_pos *start,
                    struct ql_change_pos *floor)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    *start = start_now(s);
    *floor = s->floor;
    return QL_OK;
}

/* Live things of kind in keyset order (entries newest first), after (num, after). */
static int c_live(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team, int kind,
                  int64_t num, const struct ql_uuid *after, int limit, struct ql_sync_item **out,
                  int *n, int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = *more = 0;
    *out = rc ? NULL : ql_arena_calloc(cx->arena, FAKE_MAX + 1, sizeof(**out));
    if (rc == QL_OK && *out == NULL)
        rc = ql_error_set(&cx->err, QL_ENOMEM, NULL);
    if (rc)
        return rc;
    size_t bytes = 0; /* the page's entry content so far: it ends at QL_PAGE_CONTENT_MAX too */
    for (;;) {        /* pick the next in order, one at a time: the tables are small */
        const struct ql_uuid *best = NULL;
        int64_t best_ms = 0;
        for (int i = 0; kind == QL_CHANGE_ENTRY && i < s->nentries; i++) {
            const struct ql_entry *e = &s->entries[i].e;
            if (!fake__same(&e->team_id, team) || e->deleted_ms ||
                (after && fake__cmp_pos(e->created_ms, &e->id, num, after) >= 0))
                continue;
            if (best == NULL || fake__cmp_pos(e->created_ms, &e->id, best_ms, best) > 0)
                best = &e->id, best_ms = e->created_ms;
        }
        for (int i = 0; kind == QL_CHANGE_PROMPT && i < s->nprompts; i++) {
            const struct ql_prompt *p = &s->prompts[i].p;
            if ((p->has_team && !fake__same(&p->team_id, team)) || p->deleted_ms ||
                (after && memcmp(p->id.b, after->b, 16) <= 0))
                continue;
            if (best == NULL || memcmp(p->id.b, best->b, 16) < 0)
                best = &p->id;
        }
        for (int i = 0; kind == QL_CHANGE_MEMBER && i < s->nmembers; i++) {
            const struct fake_member *m = &s->members[i];
            if (!fake__same(&m->team, team) || (after && memcmp(m->user.b, after->b, 16) <= 0))
                continue;
            if (best == NULL || memcmp(m->user.b, best->b, 16) < 0)
                best = &m->user;
        }
        if (best == NULL)
            return QL_OK;
        if (*n == limit || bytes >= QL_PAGE_CONTENT_MAX) {
            *more = 1;
            return QL_OK;
        }
        struct ql_uuid id = *best;
        rc = item_of(s, cx, team, kind, &id, &(*out)[(*n)++]);
        if (rc)
            return rc;
        if ((*out)[*n - 1].entry)
            bytes += (*out)[*n - 1].entry->content_n;
        num = best_ms;
        after = &(*out)[*n - 1].id;
    }
}

/* Where consumer name is; NULL for a consumer the fake does not know. */
static struct ql_change_pos *consumer_of(struct fake_store *s, const char *name)
{
    if (strcmp(name, "activity") == 0)
        return &s->consumer;
    if (strcmp(name, "webhooks") == 0)
        return &s->consumer_hooks;
    return NULL;
}

static int c_consumer_lock(struct ql_store *self, struct ql_ctx *cx, const char *name,
                           struct ql_change_pos *pos)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    const struct ql_change_pos *at = consumer_of(s, name);
    if (at == NULL || s->consumer_busy)
        return ql_error_set(&cx->err, QL_ENOT_FOUND, NULL);
    *pos = *at;
    return QL_OK;
}

static int c_consumer_read(struct ql_store *self, struct ql_ctx *cx,
                           const struct ql_change_pos *after, int limit, struct ql_change **out,
                           int *n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = 0;
    *out = rc ? NULL : ql_arena_calloc(cx->arena, (size_t)limit + 1, sizeof(**out));
    if (rc == QL_OK && *out == NULL)
        rc = ql_error_set(&cx->err, QL_ENOMEM, NULL);
    for (int i = 0; rc == QL_OK && i < s->nchanges && *n < limit; i++) {
        const struct fake_change *c = &s->changes[i];
        if (ql_change_pos_cmp(&c->pos, after) <= 0 || (s->in_tx && c->pos.txid == s->txno))
            continue;
        (*out)[(*n)++] = (struct ql_change){c->pos, c->team, c->event, c->id,
                                            c->traceparent[0] ? c->traceparent : NULL};
    }
    return rc;
}

static int c_consumer_advance(struct ql_store *self, struct ql_ctx *cx, const char *name,
                              const struct ql_change_pos *from, const struct ql_change_pos *to)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    struct ql_change_pos *at = rc ? NULL : consumer_of(s, name);
    if (at && ql_change_pos_cmp(at, from) != 0)
        return ql_error_set(&cx->err, QL_ECONFLICT, "consumer %s was moved by another run", name);
    if (at)
        *at = *to;
    return rc;
}

/* Raise the floor to the newest change older than before_ms that both consumers read. */
static int c_compact(struct ql_store *self, struct ql_ctx *cx, int64_t now_ms, int64_t before_ms)
{
    (void)now_ms;
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    for (int i = 0; i < s->nchanges; i++) {
        const struct fake_change *c = &s->changes[i];
        if (c->at_ms < before_ms && ql_change_pos_cmp(&c->pos, &s->consumer) <= 0 &&
            ql_change_pos_cmp(&c->pos, &s->consumer_hooks) <= 0 &&
            ql_change_pos_cmp(&c->pos, &s->floor) > 0)
            s->floor = c->pos;
    }
    return QL_OK;
}

/* Delete at most limit changes at or below the floor (this fake's floor is the last gone). */
static int c_compact_batch(struct ql_store *self, struct ql_ctx *cx, int limit, int64_t *n,
                           int *more)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    *n = 0;
    *more = 0;
    if (rc)
        return rc;
    int k = 0;
    for (int i = 0; i < s->nchanges; i++) {
        const struct fake_change *c = &s->changes[i];
        if (ql_change_pos_cmp(&c->pos, &s->floor) <= 0) {
            if (*n < limit) {
                (*n)++;
                continue;
            }
            *more = 1;
        }
        s->changes[k++] = *c;
    }
    s->nchanges = k;
    s->compact_batches++;
    return QL_OK;
}

const struct ql_changes_ops fake__changes_ops = {
    .append = c_append,
    .append_many = c_append_many,
    .page = c_page,
    .bounds = c_bounds,
    .live = c_live,
    .consumer_lock = c_consumer_lock,
    .consumer_read = c_consumer_read,
    .consumer_advance = c_consumer_advance,
    .compact = c_compact,
    .compact_batch = c_compact_batch,
};

static int a_add(struct ql_store *self, struct ql_ctx *cx, const struct ql_activity *rows, int n)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    for (int i = 0; rc == QL_OK && i < n; i++) {
        if (!fake__team_live(s, &rows[i].team))
            continue;
        int j = 0;
        while (j < s->nactivity && !fake__same(&s->activity[j].team, &rows[i].team))
            j++;
        if (j == s->nactivity) {
            if (j == FAKE_MAX)
                return ql_error_set(&cx->err, QL_EINTERNAL, "fake activity full");
            memset(&s->activity[j], 0, sizeof(s->activity[j]));
            s->activity[j].team = rows[i].team;
            s->nactivity++;
        }
        struct ql_activity *a = &s->activity[j];
        a->entries_created += rows[i].entries_created;
        a->entries_updated += rows[i].entries_updated;
        a->entries_deleted += rows[i].entries_deleted;
        a->members_added += rows[i].members_added;
        a->members_removed += rows[i].members_removed;
        if (rows[i].last_ms > a->last_ms)
            a->last_ms = rows[i].last_ms;
    }
    return rc;
}

static int a_get(struct ql_store *self, struct ql_ctx *cx, const struct ql_uuid *team,
                 struct ql_activity *out)
{
    struct fake_store *s = fake__store(self);
    int rc = fake__enter(s, cx);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    out->team = *team;
    for (int j = 0; j < s->nactivity; j++)
        if (fake__same(&s->activity[j].team, team))
            *out = s->activity[j];
    return QL_OK;
}

const struct ql_maint_ops fake__maint_ops = {.activity_add = a_add, .activity_get = a_get};
