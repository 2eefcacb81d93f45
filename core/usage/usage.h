/*
 * usage.h - plans, monthly quotas and the metering of API keys.
 *
 * A team has a plan and a monthly quota: the one an operator set (ql_subscription_set), or
 * the default plan "free" with QUILL_FREE_MONTHLY_QUOTA requests.  Every request made with
 * one of the team's API keys uses one unit of the quota of the current period, a calendar
 * month in UTC; once the units are gone the key's requests are refused (QL_EQUOTA) until the
 * next month.  Every such request also leaves a row in the request log.
 *
 * How a process meters without writing per request:
 *
 *   Units are reserved in the database in blocks (ql_usage_reserve: one UPDATE of the
 *   team's usage_periods row) and spent in memory, one per request, from the process's
 *   account of the team (struct ql_usage_account).  A block is QL_USAGE_BLOCK_MS of the
 *   team's recent traffic in this process (QL_USAGE_BLOCK_MIN to QL_USAGE_BLOCK_MAX units),
 *   and the next one is asked for ahead, when half a block is left, so a
 *   request rarely waits for a reservation.  The store grants a block only while at least
 *   two blocks' worth remain unreserved (ql_usage_grant_rule): near the end of the quota
 *   every reservation is exactly one unit, so the last units go to whichever process has
 *   a request for them instead of lying in another process's block.  Units a process has
 *   not spent after QL_USAGE_IDLE_MS without a request of the team, and all of them when it
 *   shuts down, go back (ql_usage_release).  A process whose reservation found nothing left
 *   refuses the team's requests at once, and asks again every QL_USAGE_RECHECK_MS in case
 *   another process gave units back; unless its own background reservation was on its way
 *   then (it may have taken the last units): that one's answer decides, and requests wait
 *   for it (QL_USAGE_WAIT).
 *
 *   The request log is written in batches: each process buffers the rows and records
 *   them with one multi-row INSERT per flush (ql_usage_record), which also adds the
 *   billed rows to the period's used count, and raises the 90 % alert in the transaction
 *   whose requests cross the mark.
 *
 * What "exact" means.  The reserved count of a period never passes the quota (the store
 * cuts a reservation to what is left, atomically), and a process spends only units it
 * reserved, so no more than the quota of requests ever succeed in a period, however many
 * processes run and however their requests interleave.  Units held by a process are not
 * available to another until they come back, so while some are held a request may be
 * refused elsewhere; once every process has given back what it did not spend (idle or
 * shut down), exactly the quota can succeed.  A process that crashes loses the units it
 * held (they stay reserved: the month may end with fewer than the quota spent, never more)
 * and the rows it had not flushed.  A quota lowered below what is already reserved stops
 * new reservations at once; processes are told (the HTTP adapter posts on the notification
 * port) and give back what they hold, and what a reservation asked for before then brings
 * back (it may have read the old quota: ql_usage_granted).
 *
 * What "used" is: the requests recorded, i.e. billed rows of the request log of the
 * period.  It trails the requests by one flush (~200 ms) and never counts a refused one.
 */
#ifndef QL_USAGE_H
#define QL_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "uuid/uuid.h"

struct ql_ctx;
struct ql_usage_flush;

#define QL_PLAN_DEFAULT "free" /* the plan of a team no operator has set one for */
#define QL_PLAN_MAX 50         /* longest plan name */

#define QL_USAGE_BLOCK_MIN 16     /* units in the smallest block */
#define QL_USAGE_BLOCK_MAX 4096   /* and in the largest */
#define QL_USAGE_BLOCK_MS 500     /* a block lasts about this long at the recent rate */
#define QL_USAGE_IDLE_MS 2000     /* unspent units go back after this long without a request */
#define QL_USAGE_RECHECK_MS 1000  /* a process refused units asks again this often */
#define QL_USAGE_LOG_KEEP_DAYS 30 /* the request log keeps this many days */

/* ---- periods ------------------------------------------------------------------------------ */

/* The calendar month (UTC) holding now_ms: [*start_ms, *end_ms). */
void ql_usage_period(int64_t now_ms, int64_t *start_ms, int64_t *end_ms);

/* The used count at which the 90 % alert is raised: ceil(0.9 * quota), at least 1. */
#define QL_USAGE_ALERT_PERCENT 90
int64_t ql_usage_alert_mark(int64_t quota);

/*
 * How many units a reservation asking for want gets when quota - reserved are left: want
 * while at least 2 * want are left, else one while any is left, else none.  The store
 * applies it atomically (stores must agree: the contract tests check it).
 */
int64_t ql_usage_grant_rule(int64_t quota, int64_t reserved, int64_t want);

/* ---- subscriptions -------------------------------------------------------------------------- */

/* A team's plan and its current period, as GET .../subscription shows them. */
struct ql_subscription {
    const char *plan; /* arena */
    int64_t monthly_quota;
    int64_t used; /* requests recorded in the period */
    int64_t period_start_ms, period_end_ms;
};

/* The team's subscription now.  Team admins (QL_ACT_SUBSCRIPTION_READ). */
int ql_subscription_get(struct ql_ctx *cx, const struct ql_uuid *team, struct ql_subscription *out);

/*
 * Set the team's plan (1..QL_PLAN_MAX characters of a-z, 0-9, '-', '_', '.') and monthly
 * quota (0..QL_QUOTA_MAX), with an audit row, and answer the subscription as it is now.
 * A quota that puts the period's used count at or past its alert mark raises the period's
 * 90 % alert in the same transaction, unless it was raised before (once per period, as for
 * a flush: ql_usage_record).  Operators only (QL_ACT_OPERATE); QL_ENOT_FOUND when there is no such
 * team.
 */
#define QL_QUOTA_MAX 1000000000000000LL
int ql_subscription_set(struct ql_ctx *cx, const struct ql_uuid *team, const char *plan,
                        size_t plan_n, int64_t quota, struct ql_subscription *out);

/*
 * The subscription a team's 90 % alert is about, for the webhook's payload: the current
 * period's, or the one before it when the alert was raised there and the month has turned
 * since (an alert delivered just after midnight UTC on the 1st).  No authorization: the
 * caller is the fan-out.  QL_ENOT_FOUND when the team is gone.
 */
int ql_usage_alerted(struct ql_ctx *cx, const struct ql_uuid *team, struct ql_subscription *out);

/* The percentage of the quota used (floor; 100 for a quota of 0, capped at 100). */
int ql_usage_percent(const struct ql_subscription *s);

/* ---- reservations -----------------------------------------------------------------------------
 */

/* What a reservation got, and the period's counts after it. */
struct ql_usage_grant {
    int64_t granted;
    int64_t reserved; /* units of the period reserved by every process, after this one */
    int64_t quota;    /* the team's quota now */
};

/*
 * Reserve up to want units of team's period (starting at period_ms), by the grant rule, in
 * one statement of its own.  Granting none is not an error.
 */
int ql_usage_reserve(struct ql_ctx *cx, const struct ql_uuid *team, int64_t period_ms, int64_t want,
                     struct ql_usage_grant *out);

/* Units given back: n unspent units of team's period. */
struct ql_usage_return {
    struct ql_uuid team;
    int64_t period_ms;
    int64_t n;
};

/*
 * Give back rows[0..n).  With mark (a numbered give-back, struct ql_usage_flush below: a
 * series of its own, never a flush's), in one transaction with the mark, so that one whose
 * COMMIT landed but whose answer was lost is recognised when it comes again, and QL_OK with
 * nothing given back then: applied twice, it would lower the reserved count below what the
 * processes hold, and the team could pass its quota.  With mark NULL, in one statement that
 * nothing recognises.
 */
int ql_usage_release(struct ql_ctx *cx, const struct ql_usage_flush *mark,
                     const struct ql_usage_return *rows, int n);

/* ---- a process's account of one team ----------------------------------------------------------
 */

/*
 * Where an account's background reservation is: ql_usage_take asks for one (the caller makes
 * it: ql_usage_want, then ql_usage_refilled), and it ends when it lands.
 */
enum ql_usage_refill {
    QL_USAGE_REFILL_NONE,  /* none on its way */
    QL_USAGE_REFILL_ASKED, /* one is on its way */
    /*
     * One is on its way, and a reservation made meanwhile found nothing left: the one on its
     * way may have taken the last units, so it is its answer that says whether any are left.
     */
    QL_USAGE_REFILL_DECIDES,
};

/*
 * The units one process holds for a team in the current period.  Plain data: the caller
 * owns it and serialises the calls on it (the HTTP adapter keeps a table of them under
 * striped locks; ql_usage_admit is the whole sequence for a caller that holds no lock).
 * Times are wall-clock ms.
 */
struct ql_usage_account {
    struct ql_uuid team;
    int64_t period_start, period_end;
    int64_t held;      /* reserved, not spent */
    int64_t quota;     /* as the last reservation saw it (0: not known yet) */
    int64_t remaining; /* quota - reserved as the last reservation saw it; -1: not known */
    int64_t win_ms;    /* the recent rate: units spent in the window of QL_USAGE_BLOCK_MS */
    int64_t win_n;     /* starting at win_ms, and in the window before it */
    int64_t win_prev;
    int64_t last_take_ms;
    int64_t recheck_ms; /* the last reservation found nothing: refuse until then (0: not so) */
    enum ql_usage_refill refilling; /* the background reservation's state */
    int64_t epoch; /* changes when the quota does (ql_usage_forget): see ql_usage_granted */
};

void ql_usage_account_init(struct ql_usage_account *a, const struct ql_uuid *team, int64_t now_ms);

enum ql_usage_verdict {
    QL_USAGE_TAKEN,     /* a unit was spent: go on */
    QL_USAGE_RESERVE,   /* none held: reserve (ql_usage_want) where waiting is allowed */
    QL_USAGE_EXHAUSTED, /* none left this period, as far as this process knows: refuse */
    QL_USAGE_WAIT,      /* none held, and the background reservation decides (REFILL_DECIDES):
                           wait for it to land where waiting is allowed, then take again */
};

/*
 * Spend one unit for a request at now_ms, rolling the account over to a new period first
 * when now_ms is past its end (units of the old period are dropped: that period is over); a
 * now_ms before the period's start (a request that read the clock before another took the
 * account into a new month) is served from the account's period, and counts in it.
 * may_wait: the caller can make a reservation now (a pool thread), so the one recheck due
 * after QL_USAGE_RECHECK_MS is its to make (QL_USAGE_RESERVE); a caller that cannot (an
 * event loop) gets QL_USAGE_RESERVE only when units may be left.  With none held while the
 * background reservation decides, a caller that may wait gets QL_USAGE_WAIT (one that cannot
 * gets QL_USAGE_RESERVE: units may be on their way), never a refusal: a request is refused
 * only when no unit is held, none is on its way to this process, and the database granted
 * none.  *refill is set to 1 when the caller should ask for a reservation in the background
 * (ql_usage_want, then ql_usage_refilled): half of the last block is spent, or a recheck is
 * due and the caller cannot make it.
 */
enum ql_usage_verdict ql_usage_take(struct ql_usage_account *a, int64_t now_ms, int may_wait,
                                    int *refill);

/*
 * How many units to reserve now: as many as the team spent here in the last QL_USAGE_BLOCK_MS
 * (the current window or the one before it, whichever is more), QL_USAGE_BLOCK_MIN to
 * QL_USAGE_BLOCK_MAX.
 */
int64_t ql_usage_want(const struct ql_usage_account *a, int64_t now_ms);

/*
 * A reservation for the period starting at period_ms, asked for when the account's epoch was
 * epoch, came back (g NULL: it failed); a reservation for another period than the account's
 * is dropped.  One asked for before the quota changed (the epoch moved on) may have read the
 * old quota, however late it ran: it counts for nothing, and what it got is returned for the
 * caller to give back (ql_usage_release), else 0.  A reservation of the caller's own that
 * found nothing left while the background one is on its way does not make the account refuse:
 * the background one may have taken the last units, and its answer decides
 * (QL_USAGE_REFILL_DECIDES).  refilled also ends the background reservation that
 * ql_usage_take asked for.
 */
int64_t ql_usage_granted(struct ql_usage_account *a, int64_t period_ms, int64_t epoch,
                         const struct ql_usage_grant *g, int64_t now_ms);
int64_t ql_usage_refilled(struct ql_usage_account *a, int64_t period_ms, int64_t epoch,
                          const struct ql_usage_grant *g, int64_t now_ms);

/*
 * Units to give back now (the account no longer holds them): all it holds when force is
 * set or after QL_USAGE_IDLE_MS without a request, else 0.  *period_ms gets their period.
 */
int64_t ql_usage_surplus(struct ql_usage_account *a, int64_t now_ms, int force, int64_t *period_ms);

/*
 * Forget what the account knows of the quota (it changed): ask again at the next request, and
 * let no reservation asked for before count (a new epoch).
 */
void ql_usage_forget(struct ql_usage_account *a);

/*
 * Refuse a request of a team whose units are gone: QL_EQUOTA, with the time to the end of
 * the period (retry_after_ms) and the quota (rate_limit) in cx->err.
 */
int ql_usage_refuse(struct ql_ctx *cx, const struct ql_usage_account *a, int64_t now_ms);

/*
 * The whole admission for a caller that owns a: take a unit, reserve when none is held and
 * may_wait is set (QL_EWOULD_BLOCK when it is not), refuse when none is left.  0 when the
 * request may go on.  Background refills are the caller's: *refill as ql_usage_take; when the
 * answer is the background refill's (QL_USAGE_WAIT), QL_EWOULD_BLOCK: land it
 * (ql_usage_refilled), then admit again.
 */
int ql_usage_admit(struct ql_ctx *cx, struct ql_usage_account *a, int may_wait, int *refill);

/* ---- the request log ----------------------------------------------------------------------------
 */

/* A request made with an API key, as the log keeps it.  Strings are static or borrowed. */
struct ql_request_row {
    struct ql_uuid team;
    struct ql_uuid key;
    int64_t at_ms;
    const char *method; /* "GET" */
    const char *route;  /* the route's template: "/v1/teams/{teamId}" */
    int status;
    int64_t duration_us;
    int billed; /* it used a unit */
};

/*
 * Which flush of which process a recording is.  A process numbers its flushes 1, 2, ... and
 * sends a flush again, with its number and the same rows, until it is done: the number is
 * stored in the flush's transaction, so a flush whose COMMIT landed but whose answer was
 * lost is recognised when it comes again and not counted twice.  Give-backs of units
 * (ql_usage_release) are numbered the same way in a series of their own: another instance
 * id, since a number stored by one series would hide the pending one of the other.
 */
struct ql_usage_flush {
    struct ql_uuid instance; /* the process's run (one id per series) */
    int64_t seq;             /* greater than every earlier flush of instance */
};

/*
 * Record rows[0..n) in one transaction: insert them (one statement), add the billed ones to
 * their periods' used counts, and for each period whose used count reaches its alert mark
 * for the first time, write the QL_EVENT_USAGE_ALERT change (once per team and period).
 * With flush (else NULL: no mark), QL_OK and nothing written when that flush was recorded.
 */
int ql_usage_record(struct ql_ctx *cx, const struct ql_usage_flush *flush,
                    const struct ql_request_row *rows, int n);

/* Delete the request log's rows older than before_ms; *n gets how many. */
int ql_usage_purge(struct ql_ctx *cx, int64_t before_ms, int64_t *n);

/* ---- what the store keeps (core/store/store.h, struct ql_usage_ops) -----------------------------
 */

/* A team's plan and period as stored; plan NULL when no operator set one. */
struct ql_usage_state {
    const char *plan; /* arena, or NULL */
    int64_t monthly_quota;
    int64_t used;
    int alerted; /* the period's 90 % alert was raised */
};

/* Billed requests of one team's period, added by a flush; the store fills the rest. */
struct ql_usage_tally {
    struct ql_uuid team;
    int64_t period_ms;
    int64_t n;
    int64_t used;  /* out: the period's used count after the addition (-1: no such period) */
    int64_t quota; /* out: the team's quota now */
    int alerted;   /* out: the period's alert was raised before */
};

/* Requests one instance let through for a principal in one wall-clock second. */
struct ql_rate_count {
    struct ql_uuid principal;
    int64_t second;
    int64_t n;
};

#endif
