/*
 * fake_tracer.c - the tracer port in memory: spans are kept in an array for the test to read,
 * and ids count up, so a test can name them.
 */
#include "fakes.h"

#include <stdio.h>
#include <string.h>

static void ft_emit(struct ql_tracer *self, const struct ql_trace_span *sp)
{
    struct fake_tracer *t = (struct fake_tracer *)self;
    if (t->n == FAKE_SPANS) {
        t->dropped++;
        return;
    }
    t->spans[t->n++] = *sp;
}

static uint64_t ft_rand(struct ql_tracer *self)
{
    struct fake_tracer *t = (struct fake_tracer *)self;
    return ++t->next_id;
}

static void ft_stats(struct ql_tracer *self, struct ql_trace_stats *out)
{
    struct fake_tracer *t = (struct fake_tracer *)self;
    memset(out, 0, sizeof(*out));
    out->exported = (uint64_t)t->n;
    out->dropped_full = (uint64_t)t->dropped;
    out->capacity = FAKE_SPANS;
}

static void ft_shed(struct ql_tracer *self)
{
    ((struct fake_tracer *)self)->dropped++;
}

static const struct ql_tracer_ops ft_ops = {
    .emit = ft_emit, .rand = ft_rand, .stats = ft_stats, .shed = ft_shed};

void fake_tracer_init(struct fake_tracer *t)
{
    memset(t, 0, sizeof(*t));
    t->base.ops = &ft_ops;
    char why[160];
    ql_sampler_parse("always_on", NULL, &t->base.sampler, why, sizeof(why));
}

const struct ql_trace_span *fake_tracer_find(const struct fake_tracer *t, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < t->n; i++)
        if (t->spans[i].name_len == n && memcmp(t->spans[i].text, name, n) == 0)
            return &t->spans[i];
    return NULL;
}

static const struct ql_span_attr *attr_of(const struct ql_trace_span *sp, const char *key)
{
    for (int i = 0; i < sp->nattrs; i++)
        if (strcmp(sp->attrs[i].key, key) == 0)
            return &sp->attrs[i];
    return NULL;
}

const char *fake_span_str(const struct ql_trace_span *sp, const char *key, char *buf, size_t cap)
{
    const struct ql_span_attr *a = attr_of(sp, key);
    if (a == NULL || a->type != QL_ATTR_STR)
        return NULL;
    snprintf(buf, cap, "%.*s", (int)a->len, sp->text + a->off);
    return buf;
}

int64_t fake_span_int(const struct ql_trace_span *sp, const char *key)
{
    const struct ql_span_attr *a = attr_of(sp, key);
    return a && a->type != QL_ATTR_STR ? a->i : -1;
}
