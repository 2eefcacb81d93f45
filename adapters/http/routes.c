/*
 * routes.c - the routing table of quill-api.  Every route here must appear in the
 * OpenAPI document (apps/api/openapi.json) and the suite checks both directions.
 * Order matters only where a literal segment and a parameter share a position: the
 * literal route comes first.
 */
#include "internal.h"

void ql__h_livez(struct ql_http_req *r);
void ql__h_readyz(struct ql_http_req *r);
void ql__h_metrics(struct ql_http_req *r);
void ql__h_version(struct ql_http_req *r);
void ql__h_openapi(struct ql_http_req *r);
void ql__h_signup(struct ql_http_req *r);
void ql__h_login(struct ql_http_req *r);
void ql__h_logout(struct ql_http_req *r);
void ql__h_me(struct ql_http_req *r);
void ql__h_me_update(struct ql_http_req *r);
void ql__h_me_password(struct ql_http_req *r);
void ql__h_sessions_list(struct ql_http_req *r);
void ql__h_sessions_revoke(struct ql_http_req *r);
void ql__h_sessions_revoke_others(struct ql_http_req *r);
void ql__h_totp_enrol(struct ql_http_req *r);
void ql__h_totp_confirm(struct ql_http_req *r);
void ql__h_totp_disable(struct ql_http_req *r);
void ql__h_auth_mfa(struct ql_http_req *r);
void ql__h_me_delete(struct ql_http_req *r);
void ql__h_export_create(struct ql_http_req *r);
void ql__h_export_get(struct ql_http_req *r);
void ql__h_team_create(struct ql_http_req *r);
void ql__h_team_list(struct ql_http_req *r);
void ql__h_team_get(struct ql_http_req *r);
void ql__h_team_update(struct ql_http_req *r);
void ql__h_team_delete(struct ql_http_req *r);
void ql__h_member_list(struct ql_http_req *r);
void ql__h_member_add(struct ql_http_req *r);
void ql__h_member_update(struct ql_http_req *r);
void ql__h_member_remove(struct ql_http_req *r);
void ql__h_key_create(struct ql_http_req *r);
void ql__h_key_list(struct ql_http_req *r);
void ql__h_key_delete(struct ql_http_req *r);
void ql__h_audit_list(struct ql_http_req *r);
void ql__h_entry_create(struct ql_http_req *r);
void ql__h_entry_list(struct ql_http_req *r);
void ql__h_entry_get(struct ql_http_req *r);
void ql__h_entry_update(struct ql_http_req *r);
void ql__h_entry_delete(struct ql_http_req *r);
void ql__h_prompt_list(struct ql_http_req *r);
void ql__h_prompt_create(struct ql_http_req *r);
void ql__h_prompt_delete(struct ql_http_req *r);
void ql__h_prompt_daily(struct ql_http_req *r);
void ql__h_sync(struct ql_http_req *r);
void ql__h_sync_stream(struct ql_http_req *r);
void ql__h_team_activity(struct ql_http_req *r);
void ql__h_admin_jobs(struct ql_http_req *r);
void ql__h_admin_stats(struct ql_http_req *r);
void ql__h_admin_retry(struct ql_http_req *r);
void ql__h_admin_cancel(struct ql_http_req *r);
void ql__h_admin_page(struct ql_http_req *r);
void ql__h_subscription_get(struct ql_http_req *r);   /* h_usage.c */
void ql__h_admin_subscription(struct ql_http_req *r); /* h_usage.c */
void ql__h_webhook_create(struct ql_http_req *r);
void ql__h_webhook_list(struct ql_http_req *r);
void ql__h_webhook_delete(struct ql_http_req *r);
void ql__h_webhook_deliveries(struct ql_http_req *r);
void ql__h_webhook_redeliver(struct ql_http_req *r);
void ql__h_admin_webhook_failures(struct ql_http_req *r);
void ql__h_password_reset(struct ql_http_req *r);
void ql__h_password_reset_confirm(struct ql_http_req *r);
void ql__h_email_verification(struct ql_http_req *r);
void ql__h_verify_email(struct ql_http_req *r);
void ql__h_admin_mail(struct ql_http_req *r);
void ql__h_docs(struct ql_http_req *r);
void ql__h_docs_slash(struct ql_http_req *r);
void ql__h_team_flags(struct ql_http_req *r);
void ql__h_admin_flags(struct ql_http_req *r);
void ql__h_admin_flag_get(struct ql_http_req *r);
void ql__h_admin_flag_put(struct ql_http_req *r);
void ql__h_admin_flag_delete(struct ql_http_req *r);
void ql__h_admin_flag_teams(struct ql_http_req *r);
void ql__h_admin_flag_team_put(struct ql_http_req *r);
void ql__h_admin_flag_team_delete(struct ql_http_req *r);

#define GET QL_HTTP_GET
#define POST QL_HTTP_POST
#define PATCH QL_HTTP_PATCH
#define PUT QL_HTTP_PUT
#define DELETE QL_HTTP_DELETE
#define POOL QL_ROUTE_POOL
#define GROUP QL_ROUTE_GROUP
#define LOOP QL_ROUTE_LOOP
#define BODY QL_ROUTE_BODY
#define READ QL_ROUTE_READ

const struct ql_http_route ql__http_routes[] = {
    {GET, "/livez", ql__h_livez, 0},
    {GET, "/readyz", ql__h_readyz, POOL},
    {GET, "/metrics", ql__h_metrics, 0},
    {GET, "/v1/version", ql__h_version, 0},
    {GET, "/v1/openapi.json", ql__h_openapi, 0},
    {POST, "/v1/auth/signup", ql__h_signup, POOL | BODY},
    {POST, "/v1/auth/login", ql__h_login, POOL | BODY},
    {POST, "/v1/auth/logout", ql__h_logout, POOL},
    {GET, "/v1/me", ql__h_me, POOL | LOOP},
    {PATCH, "/v1/me", ql__h_me_update, POOL | BODY},
    {DELETE, "/v1/me", ql__h_me_delete, POOL | BODY},
    {POST, "/v1/me/password", ql__h_me_password, POOL | BODY},
    {POST, "/v1/auth/password-reset", ql__h_password_reset, POOL | BODY},
    {POST, "/v1/auth/password-reset/confirm", ql__h_password_reset_confirm, POOL | BODY},
    {POST, "/v1/me/email-verification", ql__h_email_verification, POOL},
    {POST, "/v1/auth/verify-email", ql__h_verify_email, POOL | BODY},
    {POST, "/v1/me/exports", ql__h_export_create, POOL},
    {GET, "/v1/me/exports/{exportId}", ql__h_export_get, POOL},
    {POST, "/v1/teams", ql__h_team_create, POOL | BODY},
    {GET, "/v1/teams", ql__h_team_list, POOL},
    {GET, "/v1/teams/{teamId}", ql__h_team_get, POOL | READ},
    {PATCH, "/v1/teams/{teamId}", ql__h_team_update, POOL | BODY},
    {DELETE, "/v1/teams/{teamId}", ql__h_team_delete, POOL},
    {GET, "/v1/teams/{teamId}/members", ql__h_member_list, POOL | READ},
    {POST, "/v1/teams/{teamId}/members", ql__h_member_add, POOL | BODY},
    {PATCH, "/v1/teams/{teamId}/members/{userId}", ql__h_member_update, POOL | BODY},
    {DELETE, "/v1/teams/{teamId}/members/{userId}", ql__h_member_remove, POOL},
    {POST, "/v1/teams/{teamId}/api-keys", ql__h_key_create, POOL | BODY},
    {GET, "/v1/teams/{teamId}/api-keys", ql__h_key_list, POOL | READ},
    {DELETE, "/v1/teams/{teamId}/api-keys/{apiKeyId}", ql__h_key_delete, POOL},
    {GET, "/v1/teams/{teamId}/audit-log", ql__h_audit_list, POOL | READ},
    {POST, "/v1/teams/{teamId}/journal-entries", ql__h_entry_create, POOL | BODY | GROUP | LOOP},
    {GET, "/v1/teams/{teamId}/journal-entries", ql__h_entry_list, POOL | READ | LOOP},
    {GET, "/v1/teams/{teamId}/journal-entries/{journalEntryId}", ql__h_entry_get,
     POOL | READ | LOOP},
    {PATCH, "/v1/teams/{teamId}/journal-entries/{journalEntryId}", ql__h_entry_update, POOL | BODY},
    {DELETE, "/v1/teams/{teamId}/journal-entries/{journalEntryId}", ql__h_entry_delete, POOL},
    {GET, "/v1/teams/{teamId}/prompts", ql__h_prompt_list, POOL | READ},
    {POST, "/v1/teams/{teamId}/prompts", ql__h_prompt_create, POOL | BODY},
    {GET, "/v1/teams/{teamId}/prompts/daily", ql__h_prompt_daily, POOL},
    {DELETE, "/v1/teams/{teamId}/prompts/{promptId}", ql__h_prompt_delete, POOL},
    {GET, "/v1/teams/{teamId}/sync/stream", ql__h_sync_stream, POOL},
    {GET, "/v1/teams/{teamId}/sync", ql__h_sync, POOL | LOOP},
    {GET, "/v1/teams/{teamId}/activity", ql__h_team_activity, POOL | READ},
    {GET, "/v1/teams/{teamId}/subscription", ql__h_subscription_get, POOL},
    {POST, "/v1/teams/{teamId}/webhooks", ql__h_webhook_create, POOL | BODY},
    {GET, "/v1/teams/{teamId}/webhooks", ql__h_webhook_list, POOL | READ},
    {DELETE, "/v1/teams/{teamId}/webhooks/{webhookId}", ql__h_webhook_delete, POOL},
    {GET, "/v1/teams/{teamId}/webhooks/{webhookId}/deliveries", ql__h_webhook_deliveries,
     POOL | READ},
    {POST, "/v1/teams/{teamId}/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver",
     ql__h_webhook_redeliver, POOL},
    {GET, "/v1/teams/{teamId}/flags", ql__h_team_flags, POOL},
    {GET, "/v1/admin/webhooks/failures", ql__h_admin_webhook_failures, POOL},
    {GET, "/v1/admin/mail", ql__h_admin_mail, POOL},
    {GET, "/v1/admin/flags", ql__h_admin_flags, POOL},
    {GET, "/v1/admin/flags/{flagKey}", ql__h_admin_flag_get, POOL},
    {PUT, "/v1/admin/flags/{flagKey}", ql__h_admin_flag_put, POOL | BODY},
    {DELETE, "/v1/admin/flags/{flagKey}", ql__h_admin_flag_delete, POOL},
    {GET, "/v1/admin/flags/{flagKey}/teams", ql__h_admin_flag_teams, POOL},
    {PUT, "/v1/admin/flags/{flagKey}/teams/{teamId}", ql__h_admin_flag_team_put, POOL | BODY},
    {DELETE, "/v1/admin/flags/{flagKey}/teams/{teamId}", ql__h_admin_flag_team_delete, POOL},
    {GET, "/v1/admin/jobs/stats", ql__h_admin_stats, POOL},
    {GET, "/v1/admin/jobs", ql__h_admin_jobs, POOL},
    {POST, "/v1/admin/jobs/{jobId}/retry", ql__h_admin_retry, POOL},
    {POST, "/v1/admin/jobs/{jobId}/cancel", ql__h_admin_cancel, POOL},
    {PUT, "/v1/admin/teams/{teamId}/subscription", ql__h_admin_subscription, POOL | BODY},
    {GET, "/admin", ql__h_admin_page, 0},
    {GET, "/docs", ql__h_docs, 0},
    {GET, "/docs/{asset}", ql__h_docs, 0},
    /* Account security.  New routes go last: fuzz_body's corpus names a body route by its
     * place among them in this table. */
    {GET, "/v1/me/sessions", ql__h_sessions_list, POOL},
    {DELETE, "/v1/me/sessions", ql__h_sessions_revoke_others, POOL},
    {DELETE, "/v1/me/sessions/{sessionId}", ql__h_sessions_revoke, POOL},
    {POST, "/v1/me/mfa/totp", ql__h_totp_enrol, POOL | BODY},
    {DELETE, "/v1/me/mfa/totp", ql__h_totp_disable, POOL | BODY},
    {POST, "/v1/me/mfa/totp/confirm", ql__h_totp_confirm, POOL | BODY},
    {POST, "/v1/auth/mfa", ql__h_auth_mfa, POOL | BODY},
    {GET, "/docs/", ql__h_docs_slash, 0}, /* a redirect to /docs ({asset} is never empty) */
};

const int ql__http_nroutes = (int)(sizeof(ql__http_routes) / sizeof(ql__http_routes[0]));
