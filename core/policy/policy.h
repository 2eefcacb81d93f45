/*
 * policy.h - the authorization policy: one function decides every action for every kind
 * of principal (session user, API key, OIDC user, operator).  Handlers and use cases never
 * compare roles themselves.
 *
 * Outcomes, per the contract: a principal with no role in the team gets QL_ENOT_FOUND (the
 * team's existence is not revealed); a member whose role is too low, or an API key asking
 * for something keys may never do, gets QL_EFORBIDDEN.
 */
#ifndef QL_POLICY_H
#define QL_POLICY_H

struct ql_ctx;
struct ql_principal;
struct ql_uuid;

enum ql_action {
    QL_ACT_TEAM_READ,
    QL_ACT_TEAM_UPDATE,
    QL_ACT_TEAM_DELETE,
    QL_ACT_MEMBER_LIST,
    QL_ACT_MEMBER_MANAGE,      /* add, change or remove another member */
    QL_ACT_MEMBER_GRANT_OWNER, /* grant, change or remove the owner role */
    QL_ACT_MEMBER_LEAVE,       /* remove oneself */
    QL_ACT_KEY_MANAGE,
    QL_ACT_AUDIT_READ,
    QL_ACT_ENTRY_READ,
    QL_ACT_ENTRY_CREATE,
    QL_ACT_ENTRY_EDIT_OWN,
    QL_ACT_ENTRY_EDIT_ANY,
    QL_ACT_PROMPT_READ,
    QL_ACT_PROMPT_MANAGE,
    QL_ACT_WEBHOOK_MANAGE,
    QL_ACT_SUBSCRIPTION_READ,
    QL_ACT_SYNC_READ,
    QL_ACT_OPERATE, /* the operator API: jobs, subscriptions, dashboard */
    QL_ACT_COUNT
};

/* The action's name ("entry.create") for tests and logs. */
const char *ql_action_name(int action);

/*
 * Decide action for principal p whose role in the team concerned is role (QL_ROLE_NONE
 * when not a member; ignored for QL_ACT_OPERATE).  Returns 0, QL_ENOT_FOUND or
 * QL_EFORBIDDEN.  A NULL or anonymous principal gets QL_EUNAUTHENTICATED.
 */
int ql_policy_decide(const struct ql_principal *p, int action, int role);

/*
 * Decide for cx->principal in team, filling cx->err with a client-safe message on refusal.
 * team may be NULL for QL_ACT_OPERATE.
 */
int ql_authorize(struct ql_ctx *cx, int action, const struct ql_uuid *team);

#endif
