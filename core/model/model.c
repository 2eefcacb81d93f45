/*
 * model.c - small helpers over the domain records.
 */
#include "model/model.h"

#include <stdio.h>
#include <string.h>

static const char *const role_names[] = {"none", "viewer", "member", "admin", "owner"};

const char *ql_role_name(int role)
{
    return role >= 0 && role <= QL_ROLE_OWNER ? role_names[role] : "none";
}

int ql_role_parse(const char *s, size_t n)
{
    for (int r = QL_ROLE_VIEWER; r <= QL_ROLE_OWNER; r++)
        if (strlen(role_names[r]) == n && memcmp(role_names[r], s, n) == 0)
            return r;
    return QL_ROLE_NONE;
}

int ql_principal_role(const struct ql_principal *p, const struct ql_uuid *team)
{
    if (p == NULL)
        return QL_ROLE_NONE;
    if (p->kind == QL_PRINCIPAL_API_KEY)
        return memcmp(p->key_team_id.b, team->b, 16) == 0 ? p->key_role : QL_ROLE_NONE;
    if (p->kind != QL_PRINCIPAL_USER)
        return QL_ROLE_NONE;
    for (int i = 0; i < p->nteams; i++)
        if (memcmp(p->teams[i].team_id.b, team->b, 16) == 0)
            return p->teams[i].role;
    return QL_ROLE_NONE;
}

void ql_principal_actor(const struct ql_principal *p, char *out, size_t cap)
{
    char id[QL_UUID_STR_LEN + 1];
    if (p == NULL || p->kind == QL_PRINCIPAL_NONE) {
        snprintf(out, cap, "Anonymous");
    } else if (p->kind == QL_PRINCIPAL_OPERATOR) {
        snprintf(out, cap, "Operator");
    } else if (p->kind == QL_PRINCIPAL_API_KEY) {
        ql_uuid_format(&p->credential_id, id);
        snprintf(out, cap, "ApiKey:%s", id);
    } else {
        ql_uuid_format(&p->user_id, id);
        snprintf(out, cap, "User:%s", id);
    }
}
