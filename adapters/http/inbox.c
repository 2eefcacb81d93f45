/*
 * inbox.c - notifications into the event loops, for live streams (stream.c).
 *
 * The notification port calls on_changes and on_auth on its own thread; they queue the
 * payload in every loop's inbox under the loop's lock and wake the loop, which takes the
 * inbox on its next turn (ql__inbox_take).  Revocations (QL_NOTIFY_AUTH: a principal-cache
 * key) are numbered as they arrive; a loop keeps the last QL__HISTORY_MAX it took, so a
 * stream whose handler authenticated before a revocation but joins after the loop took it
 * is still found (ql__revoked_since).
 */
#include "internal.h"

#include "auth/auth.h"
#include "b64/b64.h"
#include "err/err.h"
#include "model/model.h"
#include "notify/notify.h"
#include "uuid/uuid.h"

#include <stdio.h>
#include <string.h>

/* ---- the inbox (the notification port's thread -> the loop) -------------------------------- */

static void inbox_put(struct ql__loop *l, struct ql__inbox *in, uint64_t seq, const char *key)
{
    pthread_mutex_lock(&l->inbox_lock);
    if (!l->inbox_closed) {
        int dup = 0;
        for (int i = 0; key && i < in->n && !dup; i++)
            dup = strcmp(in->keys[i], key) == 0;
        if (key == NULL || (!dup && in->n == QL__INBOX_MAX))
            in->overflow = 1;
        else if (!dup)
            snprintf(in->keys[in->n++], sizeof(in->keys[0]), "%s", key);
        if (seq > in->seq)
            in->seq = seq;
        uv_async_send(&l->wake);
    }
    pthread_mutex_unlock(&l->inbox_lock);
}

static void on_changes(void *ud, enum ql_notify_event ev, const char *payload)
{
    struct ql_http_server *s = ud;
    if (ev == QL_NOTIFY_LOST)
        return; /* the heartbeat reads cover the gap; LISTENING then reads everything */
    for (int i = 0; i < s->nloops; i++)
        inbox_put(&s->loops[i], &s->loops[i].change_inbox, 0,
                  ev == QL_NOTIFY_MESSAGE ? payload : "*");
}

/*
 * Revocations.  One may have been missed while the port was not listening: after the
 * connection came back, every stream ends (and resumes, authenticated again).
 */
static void on_auth(void *ud, enum ql_notify_event ev, const char *payload)
{
    struct ql_http_server *s = ud;
    if (ev == QL_NOTIFY_LOST)
        atomic_store(&s->auth_lost, 1);
    if (ev == QL_NOTIFY_LOST || (ev == QL_NOTIFY_LISTENING && !atomic_exchange(&s->auth_lost, 0)))
        return; /* lost, or listening for the first time: nothing was missed yet */
    uint64_t seq = atomic_fetch_add(&s->auth_seq, 1) + 1;
    for (int i = 0; i < s->nloops; i++)
        inbox_put(&s->loops[i], &s->loops[i].auth_inbox, seq,
                  ev == QL_NOTIFY_MESSAGE ? payload : NULL);
}

int ql__streams_subscribe(struct ql_http_server *s)
{
    if (s->env->notify == NULL)
        return QL_OK; /* no notification port: no live streams (the handler answers 503) */
    int rc = ql_notify_subscribe(s->env->notify, QL_NOTIFY_CHANGES, on_changes, s, &s->sub_changes);
    if (rc == QL_OK)
        rc = ql_notify_subscribe(s->env->notify, QL_NOTIFY_AUTH, on_auth, s, &s->sub_auth);
    return rc;
}

void ql__streams_unsubscribe(struct ql_http_server *s)
{
    if (s->env->notify && s->sub_changes)
        ql_notify_unsubscribe(s->env->notify, s->sub_changes);
    if (s->env->notify && s->sub_auth)
        ql_notify_unsubscribe(s->env->notify, s->sub_auth);
    s->sub_changes = s->sub_auth = 0;
}

/* ---- revocations ------------------------------------------------------------------------------
 */

/* Does the invalidation key name this stream's credential or user? */
int ql__revoked(const struct ql__reader *st, const char *key)
{
    size_t n = strlen(key);
    struct ql_uuid u;
    if (n == 2 + QL_UUID_STR_LEN && key[1] == ':' &&
        ql_uuid_parse(key + 2, QL_UUID_STR_LEN, &u) == QL_OK) {
        if (key[0] == 'u')
            return st->kind == QL_PRINCIPAL_USER && memcmp(u.b, st->user.b, 16) == 0;
        if (key[0] == 'k')
            return st->kind == QL_PRINCIPAL_API_KEY && memcmp(u.b, st->credential.b, 16) == 0;
        if (key[0] == 't')
            return memcmp(u.b, st->team.b, 16) == 0;
    }
    if (n == 2 + 2 * QL_DIGEST_LEN && key[0] == 'd' && key[1] == ':') {
        for (int i = 0; i < QL_DIGEST_LEN; i++) {
            int hi = ql_hex_digit(key[2 + 2 * i]), lo = ql_hex_digit(key[3 + 2 * i]);
            if (hi < 0 || lo < 0 || (uint8_t)(hi << 4 | lo) != st->digest[i])
                return 0;
        }
        return 1;
    }
    return 1; /* a key it cannot read: end it, as the cache forgets everything */
}

/* Remember a revocation the loop took, for streams that join after it. */
static void history_add(struct ql__hub *h, uint64_t seq, const char *key)
{
    struct ql__revocation *v = &h->history[h->nhistory++ % QL__HISTORY_MAX];
    v->seq = seq;
    snprintf(v->key, sizeof(v->key), "%s", key ? key : "");
}

/*
 * Was st revoked by what the loop took since its handler authenticated: by a revocation
 * numbered after the handler looked?  The one numbered last when it looked does not count:
 * the principal cache subscribed before the server (apps/api/main.c opens the database
 * first) and the port tells subscribers in that order, so the cache had forgotten the
 * credential and the handler checked it afresh.  Counting it would end at once every stream
 * its user opens until someone else's credential changes (each reconnection too).
 */
int ql__revoked_since(const struct ql__hub *h, const struct ql__reader *st)
{
    if (h->nhistory == 0 || h->taken_seq <= st->auth_seq)
        return 0;
    int wrapped = h->nhistory > QL__HISTORY_MAX;
    int kept = wrapped ? QL__HISTORY_MAX : (int)h->nhistory;
    uint64_t oldest = UINT64_MAX;
    for (int i = 0; i < kept; i++) {
        const struct ql__revocation *v = &h->history[i];
        if (v->seq < oldest)
            oldest = v->seq;
        if (v->seq > st->auth_seq && (v->key[0] == '\0' || ql__revoked(st, v->key)))
            return 1;
    }
    return wrapped && oldest > st->auth_seq; /* what it forgot may have named st */
}

void ql__inbox_take(struct ql__loop *l, struct ql__inbox *changes, struct ql__inbox *auth)
{
    pthread_mutex_lock(&l->inbox_lock);
    *changes = l->change_inbox;
    *auth = l->auth_inbox;
    l->change_inbox.n = l->auth_inbox.n = 0;
    l->change_inbox.overflow = l->auth_inbox.overflow = 0;
    pthread_mutex_unlock(&l->inbox_lock);
    struct ql__hub *h = &l->hub;
    if (auth->n == 0 && !auth->overflow)
        return;
    for (int i = 0; i < auth->n; i++)
        history_add(h, auth->seq, auth->keys[i]);
    if (auth->overflow)
        history_add(h, auth->seq, NULL);
    h->taken_seq = auth->seq;
}
