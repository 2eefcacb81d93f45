/*
 * policy.c - the policy as a table: for each action, the lowest role that may do it and
 * whether API keys may do it at all.  Keeping it a table makes the whole matrix visible in
 * one screen and lets the unit test walk every cell.
 */
#include "policy/policy.h"

#include "ctx/ctx.h"
#include "err/err.h"
#include "model/model.h"

struct rule {
    const char *name;
    int min_role;
    int keys_allowed;
};

static const struct rule rules[QL_ACT_COUNT] = {
    [QL_ACT_TEAM_READ] = {"team.read", QL_ROLE_VIEWER, 1},
    [QL_ACT_TEAM_UPDATE] = {"team.update", QL_ROLE_ADMIN, 0},
    [QL_ACT_TEAM_DELETE] = {"team.delete", QL_ROLE_OWNER, 0},
    [QL_ACT_MEMBER_LIST] = {"member.list", QL_ROLE_VIEWER, 1},
    [QL_ACT_MEMBER_MANAGE] = {"member.manage", QL_ROLE_ADMIN, 0},
    [QL_ACT_MEMBER_GRANT_OWNER] = {"member.grant_owner", QL_ROLE_OWNER, 0},
    [QL_ACT_MEMBER_LEAVE] = {"member.leave", QL_ROLE_VIEWER, 0},
    [QL_ACT_KEY_MANAGE] = {"api_key.manage", QL_ROLE_ADMIN, 0},
    [QL_ACT_AUDIT_READ] = {"audit.read", QL_ROLE_ADMIN, 0},
    [QL_ACT_ENTRY_READ] = {"entry.read", QL_ROLE_VIEWER, 1},
    [QL_ACT_ENTRY_CREATE] = {"entry.create", QL_ROLE_MEMBER, 1},
    [QL_ACT_ENTRY_EDIT_OWN] = {"entry.edit_own", QL_ROLE_MEMBER, 1},
    [QL_ACT_ENTRY_EDIT_ANY] = {"entry.edit_any", QL_ROLE_ADMIN, 0},
    [QL_ACT_PROMPT_READ] = {"prompt.read", QL_ROLE_VIEWER, 1},
    [QL_ACT_PROMPT_MANAGE] = {"prompt.manage", QL_ROLE_ADMIN, 0},
    [QL_ACT_WEBHOOK_MANAGE] = {"webhook.manage", QL_ROLE_ADMIN, 0},
    [QL_ACT_SUBSCRIPTION_READ] = {"subscription.read", QL_ROLE_ADMIN, 0},
    [QL_ACT_SYNC_READ] = {"sync.read", QL_ROLE_VIEWER, 1},
    [QL_ACT_OPERATE] = {"operate", QL_ROLE_NONE, 0},
};

const char *ql_action_name(int action)
{
    return action >= 0 && action < QL_ACT_COUNT ? rules[action].name : "unknown";
}

int ql_policy_decide(const struct ql_principal *p, int action, int role)
{
    if (p == NULL || p->kind == QL_PRINCIPAL_NONE)
        return QL_EUNAUTHENTICATED;
    if (action < 0 || action >= QL_ACT_COUNT)
        return QL_EFORBIDDEN;
    if (action == QL_ACT_OPERATE)
        return p->kind == QL_PRINCIPAL_OPERATOR ? QL_OK : QL_EFORBIDDEN;
    /* Team actions: the operator is nobody's member. */
    if (p->kind == QL_PRINCIPAL_OPERATOR || role <= QL_ROLE_NONE)
        return QL_ENOT_FOUND;
    const struct rule *r = &rules[action];
    if (p->kind == QL_PRINCIPAL_API_KEY && !r->keys_allowed)
        return QL_EFORBIDDEN;
    return role >= r->min_role ? QL_OK : QL_EFORBIDDEN;
}

int ql_authorize(struct ql_ctx *cx, int action, const struct ql_uuid *team)
{
    int role = team ? ql_principal_role(cx->principal, team) : QL_ROLE_NONE;
    int rc = ql_policy_decide(cx->principal, action, role);
    switch (rc) {
    case QL_OK:
        return QL_OK;
    case QL_ENOT_FOUND:
        return ql_error_set(&cx->err, rc, "No such team.");
    case QL_EUNAUTHENTICATED:
        return ql_error_set(&cx->err, rc, NULL);
    default:
        return ql_error_set(&cx->err, rc, "Your role in this team does not allow %s.",
                            ql_action_name(action));
    }
}
