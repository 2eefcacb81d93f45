/*
 * webhook.h - a team's webhook endpoints, the fan-out of its changes into deliveries, and
 * the delivery of each message, signed per the Standard Webhooks specification.
 *
 *   endpoints   an admin registers a URL and the events it wants; the signing secret
 *               ("whsec_" and base64 of 32 random bytes) is shown once and stored sealed
 *               under a key derived from QUILL_SECRET.
 *   fan-out     a consumer of the change log (ql_webhooks_consume): for each change whose
 *               event an enabled endpoint of its team wants, one delivery (a message id, the
 *               event, the body to send) and one job "webhook.deliver", in the transaction
 *               that advances the consumer.  A team without endpoints costs one lookup a
 *               batch.
 *   delivery    the job (ql_webhook_deliver): sign, POST through the outbound port, record
 *               the attempt; on a failure (no answer, or not 2xx) try again after the next
 *               delay of QUILL_WEBHOOK_RETRY_SCHEDULE (+/-10 % jitter).  The same message id
 *               and body go out on every attempt and on a redelivery.  An endpoint whose
 *               attempts fail QUILL_WEBHOOK_DISABLE_AFTER times in a row is disabled.
 *   retention   the hourly job "purge.webhooks" (ql_webhooks_purge) ends failed the
 *               pending deliveries no job will attempt any more (a worker died during the
 *               last attempt), and deletes finished deliveries and their attempts after
 *               QUILL_WEBHOOK_RETENTION_HOURS.
 */
#ifndef QL_WEBHOOK_H
#define QL_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

struct ql_ctx;
struct ql_change;
struct ql_job;

/* "whsec_" + base64 of 32 bytes, NUL included. */
#define QL_WEBHOOK_SECRET_LEN 52
/* "v1," + base64 of 32 bytes, NUL included. */
#define QL_WEBHOOK_SIGNATURE_LEN 48

/* The events an endpoint may subscribe to; NULL-terminated. */
extern const char *const ql_webhook_events[];

/*
 * Register an endpoint of team (admins): url (n bytes), the events it wants (names of
 * ql_webhook_events, at least one), a description (may be NULL).  *out gets the endpoint
 * (arena) and secret the signing secret, which is never shown again.  QL_EVALIDATION for
 * a URL that is not http(s) (https unless private targets are allowed), has no host, or
 * carries a user name; an unknown or repeated event.  QL_ECONFLICT when the team has
 * QL_WEBHOOKS_MAX endpoints already (deleted ones do not count, disabled ones do).  Creating
 * and deleting decide again under the team's lock with the caller's role as it is then
 * (ql_team_lock_authorize): an admin removed meanwhile gets QL_ENOT_FOUND; the cap is counted
 * under that lock too, so registrations at the same time cannot pass it together.
 */
#define QL_WEBHOOKS_MAX 20
int ql_webhook_create(struct ql_ctx *cx, const struct ql_uuid *team, const char *url, size_t n,
                      const char *const *events, int nevents, const char *description,
                      size_t description_n, struct ql_webhook *out,
                      char secret[QL_WEBHOOK_SECRET_LEN]);

/* A team's endpoints, newest first, without secrets (admins). */
int ql_webhook_list(struct ql_ctx *cx, const struct ql_uuid *team, const char *cursor,
                    size_t cursor_n, int limit, struct ql_webhook **out, int *n,
                    const char **next_cursor);

/* Delete an endpoint (admins): nothing more is delivered to it.  QL_ENOT_FOUND. */
int ql_webhook_delete(struct ql_ctx *cx, const struct ql_uuid *team, const struct ql_uuid *id);

/* The attempts of an endpoint's deliveries, newest first (admins). */
int ql_webhook_attempts(struct ql_ctx *cx, const struct ql_uuid *team,
                        const struct ql_uuid *webhook, const char *cursor, size_t cursor_n,
                        int limit, struct ql_delivery_attempt **out, int *n,
                        const char **next_cursor);

/*
 * Send a delivery again, with its message id and body, on the whole retry schedule
 * (admins; the operator too).  QL_ENOT_FOUND when the endpoint or the delivery is not
 * the team's.  An admin's request decides again under the team's lock with their role as
 * it is then (ql_team_lock_authorize), like creating and deleting an endpoint.
 */
int ql_webhook_redeliver(struct ql_ctx *cx, const struct ql_uuid *team,
                         const struct ql_uuid *webhook, const struct ql_uuid *delivery);

/* The newest failed attempts of every team, for the operators' dashboard. */
int ql_webhook_failures(struct ql_ctx *cx, int limit, struct ql_delivery_attempt **out, int *n);

/* The consumer of the change log that makes deliveries (see ql_consume). */
int ql_webhooks_consume(struct ql_ctx *cx, const struct ql_change *changes, int n);

/* The job "webhook.deliver": one attempt of the delivery its payload names. */
int ql_webhook_deliver(struct ql_ctx *cx, const struct ql_job *job);

/*
 * The job "purge.webhooks" (hourly): ends failed the pending deliveries that no job will
 * attempt any more, then deletes finished deliveries, with their attempts, once
 * QUILL_WEBHOOK_RETENTION_HOURS old and that long past their last attempt.
 */
int ql_webhooks_purge(struct ql_ctx *cx, const struct ql_job *job);

/*
 * The Standard Webhooks signature of body for message id at timestamp (seconds) under
 * secret ("whsec_..."): "v1," and base64 of HMAC-SHA256 over "id.timestamp.body".
 */
int ql_webhook_sign(struct ql_ctx *cx, const char *secret, const char *id, int64_t timestamp,
                    const char *body, size_t body_n, char out[QL_WEBHOOK_SIGNATURE_LEN]);

#endif
