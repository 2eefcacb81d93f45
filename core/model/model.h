/*
 * model.h - Quill's domain records: users, sessions, teams, members, API keys, audit
 * entries and the principal a request acts as.
 *
 * Records are plain structs.  String members point into the arena of the context that
 * produced them ("arena" memory) unless a comment says otherwise.  Times are wall-clock
 * milliseconds since the epoch; 0 means "not set" for optional times.
 */
#ifndef QL_MODEL_H
#define QL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "uuid/uuid.h"

/* Team roles, ordered so a higher value can do everything a lower one can. */
enum ql_role {
    QL_ROLE_NONE = 0,
    QL_ROLE_VIEWER = 1,
    QL_ROLE_MEMBER = 2,
    QL_ROLE_ADMIN = 3,
    QL_ROLE_OWNER = 4,
};

/* "owner" ... "viewer"; "none" for QL_ROLE_NONE. */
const char *ql_role_name(int role);
/* Parse a role name (n bytes); QL_ROLE_NONE when it is not one. */
int ql_role_parse(const char *s, size_t n);

struct ql_user {
    struct ql_uuid id;
    const char *email;
    const char *display_name;
    const char *password_hash; /* NULL when the user has no password (OIDC only) */
    int64_t created_ms;
    int64_t updated_ms;
    int mfa_enabled; /* a confirmed TOTP enrolment exists (read back; ignored on insert) */
    int64_t email_verified_ms; /* when the email was proven to reach the user; 0: not yet */
};

struct ql_team {
    struct ql_uuid id;
    const char *name;
    int64_t created_ms;
    int64_t updated_ms;
};

/* A team as seen by one user: the team and the user's role in it. */
struct ql_team_role {
    struct ql_uuid team_id;
    const char *name;
    int role;
};

struct ql_member {
    struct ql_uuid user_id;
    const char *email;
    const char *display_name;
    int role;
    int64_t joined_ms;
};

struct ql_api_key {
    struct ql_uuid id;
    struct ql_uuid team_id;
    const char *name;
    int role;
    const char *prefix;
    int64_t created_ms;
    int64_t expires_ms; /* 0: never */
    int64_t last_used_ms;
};

struct ql_audit_entry {
    struct ql_uuid id;
    int64_t seq; /* position in its chain (set when read back) */
    int64_t at_ms;
    const char *actor;       /* "User:<id>", "ApiKey:<id>", "Job:<name>", "Operator" */
    const char *action;      /* "team.create" */
    const char *target_type; /* "Team" */
    const char *target_id;
};

struct ql_entry {
    struct ql_uuid id;
    struct ql_uuid team_id;
    int has_author_user;
    struct ql_uuid author_user;
    int has_author_key;
    struct ql_uuid author_key;
    int has_prompt;
    struct ql_uuid prompt;
    const char *content;
    size_t content_n;
    int version; /* the ETag: bumped by every change */
    int64_t created_ms;
    int64_t updated_ms;
    int64_t deleted_ms;
};

struct ql_prompt {
    struct ql_uuid id;
    int has_team; /* 0: a global prompt */
    struct ql_uuid team_id;
    const char *text;
    const char *category;
    int64_t created_ms;
    int64_t updated_ms;
    int64_t deleted_ms;
};

/* A stored idempotent response. */
struct ql_idem_record {
    uint8_t fingerprint[QL_DIGEST_LEN];
    int status;
    const uint8_t *sealed; /* the sealed response (status line aside), arena */
    size_t sealed_n;
    int64_t created_ms;
    int64_t expires_ms;
};

enum ql_principal_kind {
    QL_PRINCIPAL_NONE = 0,
    QL_PRINCIPAL_USER = 1,     /* a session, or an OIDC user */
    QL_PRINCIPAL_API_KEY = 2,  /* acts inside its own team with its role */
    QL_PRINCIPAL_OPERATOR = 3, /* QUILL_ADMIN_TOKEN */
};

/* How the credential arrived. */
enum ql_via { QL_VIA_BEARER = 1, QL_VIA_COOKIE = 2, QL_VIA_OIDC = 3, QL_VIA_ADMIN = 4 };

struct ql_membership {
    struct ql_uuid team_id;
    int role;
};

/*
 * Who a request acts as.  For a session or API key, digest is the keyed digest of the
 * token and credential_id the session or key id; memberships (users only) list every team
 * the user belongs to.
 */
struct ql_principal {
    int kind;
    int via;
    struct ql_uuid user_id;
    struct ql_uuid credential_id;
    struct ql_uuid key_team_id;
    int key_role;
    uint8_t digest[QL_DIGEST_LEN];
    int64_t created_ms;
    int64_t expires_ms;   /* absolute expiry; 0: none */
    int64_t last_seen_ms; /* session: last activity; key: last use (0: never used) */
    int nteams;
    const struct ql_membership *teams;
};

/* The principal's role in team (QL_ROLE_NONE when it has none there). */
int ql_principal_role(const struct ql_principal *p, const struct ql_uuid *team);

/* "User:<id>", "ApiKey:<id>" or "Operator" into out (at least 48 bytes). */
void ql_principal_actor(const struct ql_principal *p, char *out, size_t cap);

/* A team's activity: what the activity consumer counted from the change log. */
struct ql_activity {
    struct ql_uuid team;
    int64_t entries_created;
    int64_t entries_updated;
    int64_t entries_deleted;
    int64_t members_added;
    int64_t members_removed;
    int64_t last_ms; /* when something was last counted; 0: never */
};

/* A team's webhook endpoint.  Strings and the events array are arena memory. */
#define QL_WEBHOOK_EVENTS_MAX 8
struct ql_webhook {
    struct ql_uuid id;
    struct ql_uuid team_id;
    const char *url;
    const char *description;
    int nevents;
    const char *events[QL_WEBHOOK_EVENTS_MAX];
    int failures; /* failed attempts in a row */
    int64_t created_ms;
    int64_t disabled_ms; /* 0: enabled */
};

/* One message to one endpoint (its id is the webhook-id), fixed when it is made. */
struct ql_delivery {
    struct ql_uuid id;
    struct ql_uuid webhook_id;
    struct ql_uuid team_id;
    const char *event;
    const char *body; /* the JSON sent on every attempt */
    int64_t created_ms;
    int attempts;
    int succeeded; /* read by the store's target: a 2xx came since it was last (re)opened */
};

/* One attempt of a delivery, as the deliveries list shows it. */
struct ql_delivery_attempt {
    struct ql_uuid delivery_id;
    struct ql_uuid webhook_id;
    struct ql_uuid team_id;
    const char *event;
    int attempt;
    int ok;              /* a 2xx answer came */
    int response_status; /* 0: no answer */
    const char *error;   /* NULL when ok */
    int duration_ms;
    int64_t at_ms;
};

#endif
