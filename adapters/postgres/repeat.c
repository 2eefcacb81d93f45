/*
 * repeat.c - which statements may be sent again after their answer was lost.
 *
 * A statement run on its own, outside a transaction, commits by itself at the end of its
 * round trip.  When the connection breaks before the answer arrives, the statement may have
 * committed; conn.c runs it again on a new connection only when that cannot hurt (see
 * ql__pg_exec).  Every statement that writes is named here, with the reason; a statement
 * that is not named is a read.  test/unit/test_pg_repeat.c checks that no writing statement
 * is left out.
 */
#include "internal.h"

enum ql__pg_repeat ql__pg_repeat(enum ql__pg_stmt st)
{
    switch (st) {
    /*
     * Harmful to run twice: a counter moved again (rate_hit, failure_record, challenge_fail,
     * usage_reserve, usage_add_used, usage_release, activity_add, attempt_add, mail_record,
     * job_claim), a second row or a conflict with one's own row (the inserts with chosen
     * ids; job_insert, whose second run is a second job), a delete that could take something
     * made in between (failure_forget, failures_clear, tokens_end), or a guarded change whose
     * second run finds nothing to do and tells the caller so (a 404 or "already used" for its own
     * write; usage_alert's raised flag).
     */
    case QL__ST_USER_INSERT:
    case QL__ST_SESSION_INSERT:
    case QL__ST_SESSION_DELETE:
    case QL__ST_TEAM_INSERT:
    case QL__ST_TEAM_DELETE:
    case QL__ST_MEMBER_INSERT:
    case QL__ST_MEMBER_DELETE:
    case QL__ST_KEY_INSERT:
    case QL__ST_KEY_REVOKE:
    case QL__ST_AUDIT_APPEND:
    case QL__ST_AUDIT_APPEND_MANY:
    case QL__ST_FAILURE_RECORD:
    case QL__ST_FAILURE_FORGET:
    case QL__ST_FAILURES_CLEAR:
    case QL__ST_RATE_HIT:
    case QL__ST_ENTRY_INSERT:
    case QL__ST_ENTRY_INSERT_MANY:
    case QL__ST_ENTRY_DELETE:
    case QL__ST_PROMPT_INSERT:
    case QL__ST_PROMPT_DELETE:
    case QL__ST_JOB_INSERT:
    case QL__ST_JOB_INSERT_MANY:
    case QL__ST_JOB_CLAIM:
    case QL__ST_JOB_RETRY:
    case QL__ST_JOB_CANCEL:
    case QL__ST_ACTIVITY_ADD:
    case QL__ST_USAGE_RESERVE:
    case QL__ST_USAGE_RELEASE:
    case QL__ST_USAGE_LOG:
    case QL__ST_USAGE_ADD_USED:
    case QL__ST_USAGE_ALERT:
    case QL__ST_CHANGE_APPEND:
    case QL__ST_CHANGE_APPEND_MANY:
    case QL__ST_CONSUMER_ADVANCE:
    case QL__ST_WEBHOOK_INSERT:
    case QL__ST_WEBHOOK_REMOVE:
    case QL__ST_DELIVERIES_ADD:
    case QL__ST_ATTEMPT_ADD:
    case QL__ST_WEBHOOK_DISABLE:
    case QL__ST_SESSION_REVOKE:
    case QL__ST_TOTP_CONFIRM:
    case QL__ST_TOTP_USE:
    case QL__ST_TOTP_REMOVE:
    case QL__ST_RECOVERY_USE:
    case QL__ST_CHALLENGE_INSERT:
    case QL__ST_CHALLENGE_FAIL:
    case QL__ST_CHALLENGE_TAKE:
    case QL__ST_MAIL_INSERT:
    case QL__ST_MAIL_RECORD:
    case QL__ST_TOKEN_INSERT:
    case QL__ST_TOKEN_USE:
    case QL__ST_TOKENS_END:
    case QL__ST_FLAG_PUT:
    case QL__ST_FLAG_DELETE:
    case QL__ST_FLAG_TEAM_PUT:
    case QL__ST_FLAG_TEAM_DELETE:
    case QL__ST_EXPORT_INSERT:
    case QL__ST_EXPORT_APPEND:
    case QL__ST_EXPORT_FINISH:
    case QL__ST_ERASE_USER:
    case QL__ST_ERASE_ENTRIES:
        return QL__PG_ONCE;
    /*
     * Harmless to run twice: the second run sets the same values (touches, upserts of
     * absolute values, a version given by the caller), does nothing (ON CONFLICT DO NOTHING,
     * a job's change guarded by its attempt), deletes by a bound the caller fixed (purges),
     * deletes what an erased user owns (sessions_delete_user and idem_remove* run alone
     * only in an erasure, where whatever the user got in between is to go too), or takes a
     * lock or sends a notice again.
     */
    case QL__ST_NOTIFY:
    case QL__ST_USER_RENAME:
    case QL__ST_USER_SET_PASSWORD:
    case QL__ST_SESSIONS_DELETE_USER:
    case QL__ST_SESSION_TOUCH:
    case QL__ST_TEAM_LOCK:
    case QL__ST_TEAM_RENAME:
    case QL__ST_MEMBER_SET_ROLE:
    case QL__ST_KEY_TOUCH:
    case QL__ST_ENTRY_LOCK:
    case QL__ST_ENTRY_UPDATE:
    case QL__ST_IDEM_LOCK:
    case QL__ST_IDEM_PUT:
    case QL__ST_JOB_COMPLETE:
    case QL__ST_JOB_FAIL:
    case QL__ST_JOB_HEARTBEAT:
    case QL__ST_JOB_RELEASE:
    case QL__ST_JOB_RESCUE:
    case QL__ST_JOB_PURGE:
    case QL__ST_JOB_PROGRESS:
    case QL__ST_JOB_LEAD:
    case QL__ST_PURGE_IDEM:
    case QL__ST_PURGE_SESSIONS:
    case QL__ST_PURGE_THROTTLES:
    case QL__ST_PURGE_DELETED:
    case QL__ST_DAILY_PICK_ALL:
    case QL__ST_DAILY_PICK:
    case QL__ST_USAGE_SUBSCRIBE:
    case QL__ST_USAGE_OPEN:
    case QL__ST_USAGE_PURGE:
    case QL__ST_USAGE_FLUSHED:
    case QL__ST_USAGE_RATES:
    case QL__ST_CONSUMER_LOCK:
    case QL__ST_CHANGES_MARK:
    case QL__ST_CHANGES_COMPACT:
    case QL__ST_CHANGES_COMPACT_BATCH:
    case QL__ST_DELIVERY_REOPEN:
    case QL__ST_DELIVERIES_PURGE:
    case QL__ST_DELIVERIES_FAIL_ORPHANS:
    case QL__ST_TOTP_BEGIN:
    case QL__ST_RECOVERY_SET:
    case QL__ST_CHALLENGE_PURGE:
    case QL__ST_VERIFY_EMAIL:
    case QL__ST_MAIL_PURGE:
    case QL__ST_MAIL_FORGET:
    case QL__ST_FLAGS_NOTIFY:
    case QL__ST_EXPORT_STATE:
    case QL__ST_EXPORT_RESET:
    case QL__ST_EXPORTS_PURGE:
    case QL__ST_EXPORTS_REMOVE_USER:
    case QL__ST_SCRUB_DELIVERIES:
    case QL__ST_IDEM_REMOVE_SCOPE:
    case QL__ST_IDEM_REMOVE:
        return QL__PG_REPEAT;
    default:
        return QL__PG_READ;
    }
}
