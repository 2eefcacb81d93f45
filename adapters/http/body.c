/*
 * body.c - reading the transport shape of a request: the JSON body against a list of
 * allowed fields, query parameters, path parameters.  Failures answer the request with a
 * problem (400 malformed_json, 422 validation_failed with field errors) and return non-zero,
 * so a handler can simply return.
 */
#include "internal.h"

#include "arena/arena.h"
#include "b64/b64.h"
#include "err/err.h"
#include "uuid/uuid.h"
#include "validate/validate.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

/*
 * cJSON's strings end at a NUL, whether it came raw or as "\u0000": the text would be
 * stored cut short.  Find one first, and the top-level member it is in (into key, "body"
 * when it is in none), walking the body as JSON tokens: strings, and the nesting around
 * them.  1 when there is a NUL.
 */
static int nul_field(const char *s, size_t n, char *key, size_t cap)
{
    int depth = 0, expect_key = 0, in_str = 0, is_key = 0;
    size_t start = 0;
    snprintf(key, cap, "body");
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\' && i + 1 < n) {
                if (s[i + 1] == 'u' && i + 5 < n && memcmp(s + i + 2, "0000", 4) == 0)
                    return 1;
                i++; /* the escaped character, so "\\u0000" is not taken for an escape */
            } else if (ch == '\0') {
                return 1;
            } else if (ch == '"') {
                in_str = 0;
                if (is_key)
                    snprintf(key, cap, "%.*s", (int)(i - start), s + start);
            }
            continue;
        }
        if (ch == '\0')
            return 1;
        if (ch == '"') {
            in_str = 1;
            is_key = depth == 1 && expect_key;
            if (is_key)
                snprintf(key, cap, "body"); /* a NUL inside the key itself */
            start = i + 1;
        } else if (ch == '{' || ch == '[') {
            depth++;
            expect_key = depth == 1 && ch == '{';
        } else if (ch == '}' || ch == ']') {
            depth--;
        } else if (depth == 1 && (ch == ',' || ch == ':')) {
            expect_key = ch == ',';
        }
    }
    return 0;
}

/* The name a field error gives a member: its own, or "body" when it is not UTF-8 text. */
static const char *member_name(const char *key)
{
    return ql_utf8_count(key, strlen(key)) >= 0 ? key : "body";
}

static const char *type_name(int type)
{
    switch (type) {
    case QL__JSON_STRING:
        return "a string";
    case QL__JSON_STRING_OR_NULL:
        return "a string or null";
    case QL__JSON_INT:
        return "an integer";
    case QL__JSON_BOOL:
        return "a boolean";
    case QL__JSON_ARRAY:
        return "an array";
    default:
        return "an object";
    }
}

static int type_ok(const cJSON *v, int type)
{
    switch (type) {
    case QL__JSON_STRING:
        return cJSON_IsString(v);
    case QL__JSON_STRING_OR_NULL:
        return cJSON_IsString(v) || cJSON_IsNull(v);
    case QL__JSON_INT: /* whole, and within +-2^53 so the cast is defined and exact */
        return cJSON_IsNumber(v) && v->valuedouble >= -9007199254740992.0 &&
               v->valuedouble <= 9007199254740992.0 &&
               v->valuedouble == (double)(long long)v->valuedouble;
    case QL__JSON_BOOL:
        return cJSON_IsBool(v);
    case QL__JSON_ARRAY:
        return cJSON_IsArray(v);
    default:
        return cJSON_IsObject(v);
    }
}

int ql__body_parse(struct ql_http_req *r, const struct ql__field *fields, int nfields, cJSON **out)
{
    *out = NULL;
    struct ql_error *e = &r->cx.err;
    if (r->body.n == 0) {
        ql_error_set(e, QL_EMALFORMED_JSON, "The request needs a JSON body.");
        ql__res_problem(r, QL_EMALFORMED_JSON);
        return -1;
    }
    char field[256]; /* more than a field error keeps: it cuts the name between characters */
    if (nul_field(r->body.p, r->body.n, field, sizeof(field))) {
        ql_error_field(e, member_name(field), "invalid_text", "must not contain NUL characters");
        ql__res_problem(r, QL_EVALIDATION);
        return -1;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(r->body.p, r->body.n, &end, 0);
    if (root != NULL) {
        while (end < r->body.p + r->body.n &&
               (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t' || *end == '\0'))
            end++;
        if (end != r->body.p + r->body.n) {
            cJSON_Delete(root);
            root = NULL;
        }
    }
    if (root == NULL) {
        ql_error_set(e, QL_EMALFORMED_JSON, "The request body is not valid JSON.");
        ql__res_problem(r, QL_EMALFORMED_JSON);
        return -1;
    }
    if (!cJSON_IsObject(root)) {
        ql_error_field(e, "body", "invalid_type", "must be a JSON object");
        ql__res_problem(r, QL_EVALIDATION);
        cJSON_Delete(root);
        return -1;
    }
    /* A known member given twice is refused: parsers disagree on which one wins. */
    unsigned long long seen = 0;
    for (cJSON *it = root->child; it; it = it->next) {
        int i = 0;
        while (i < nfields && strcmp(it->string, fields[i].name) != 0)
            i++;
        if (i == nfields)
            ql_error_field(e, member_name(it->string), "unknown_field", "is not a known field");
        else if (i < 64 && (seen >> i & 1))
            ql_error_field(e, it->string, "duplicate_field", "appears more than once");
        else if (i < 64)
            seen |= 1ULL << i;
    }
    for (int i = 0; i < nfields; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, fields[i].name);
        if (v == NULL) {
            if (fields[i].required)
                ql_error_field(e, fields[i].name, "required", "is required");
        } else if (!type_ok(v, fields[i].type)) {
            ql_error_field(e, fields[i].name, "invalid_type", "must be %s",
                           type_name(fields[i].type));
        }
    }
    if (e->code) {
        ql__res_problem(r, e->code);
        cJSON_Delete(root);
        return -1;
    }
    r->json = root; /* the request owns it: freed when the response is written */
    *out = root;
    return 0;
}

void ql__req_release(struct ql_http_req *r)
{
    cJSON_Delete(r->json);
    r->json = NULL;
}

const char *ql__json_str(const cJSON *obj, const char *name, size_t *n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(v)) {
        if (n)
            *n = 0;
        return NULL;
    }
    if (n)
        *n = strlen(v->valuestring);
    return v->valuestring;
}

const char *ql__query(struct ql_http_req *r, const char *name, size_t *out_n)
{
    size_t nl = strlen(name);
    const char *q = r->query.p, *end = q + r->query.n;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(stop - q));
        const char *kend = eq ? eq : stop;
        if ((size_t)(kend - q) == nl && memcmp(q, name, nl) == 0) {
            const char *v = eq ? eq + 1 : stop;
            size_t vn = (size_t)(stop - v);
            char *d = ql_arena_alloc(r->cx.arena, vn + 1);
            if (d == NULL)
                return NULL;
            size_t o = 0;
            for (size_t i = 0; i < vn; i++) {
                if (v[i] == '%' && i + 2 < vn && ql_hex_digit(v[i + 1]) >= 0 &&
                    ql_hex_digit(v[i + 2]) >= 0) {
                    unsigned hi = (unsigned)ql_hex_digit(v[i + 1]);
                    unsigned lo = (unsigned)ql_hex_digit(v[i + 2]);
                    d[o++] = (char)(unsigned char)(hi << 4 | lo);
                    i += 2;
                } else if (v[i] == '+') {
                    d[o++] = ' ';
                } else {
                    d[o++] = v[i];
                }
            }
            d[o] = '\0';
            *out_n = o;
            return d;
        }
        q = stop + 1;
    }
    return NULL;
}

int ql__query_limit(struct ql_http_req *r, int *limit)
{
    size_t n;
    const char *v = ql__query(r, "limit", &n);
    *limit = 50;
    if (v == NULL)
        return 0;
    int val = 0;
    int ok = n > 0 && n <= 3;
    for (size_t i = 0; ok && i < n; i++) {
        ok = v[i] >= '0' && v[i] <= '9';
        val = val * 10 + (v[i] - '0');
    }
    if (!ok || val < 1 || val > 200) {
        ql_error_field(&r->cx.err, "limit", "out_of_range", "must be an integer from 1 to 200");
        ql__res_problem(r, QL_EVALIDATION);
        return -1;
    }
    *limit = val;
    return 0;
}

int ql__param_uuid(struct ql_http_req *r, int index, const char *name, struct ql_uuid *out)
{
    if (index < r->nparams && ql_uuid_parse(r->params[index].p, r->params[index].n, out) == QL_OK)
        return 0;
    ql_error_field(&r->cx.err, name, "invalid_format", "must be a UUID");
    ql__res_problem(r, QL_EVALIDATION);
    return -1;
}
