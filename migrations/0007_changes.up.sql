-- The change log: one row per committed change to a team's journal entries, prompts and
-- members, written in the transaction of the change.  Delta sync, live streams and the
-- internal consumers (activity counts) all read it by position.
--
-- A position is (txid, seq): the id of the writing transaction (pg_current_xact_id(), a
-- 64-bit xid8 that never wraps) and a sequence number that orders the rows of one
-- transaction.  Transactions get their ids when they first write, but commit in any
-- order, so a row with a smaller txid can become visible after one with a larger txid.
-- Readers therefore return rows only from transactions older than the oldest one still
-- running (txid < pg_snapshot_xmin(pg_current_snapshot())): those have all finished, so
-- no row can ever appear behind a position a reader has passed.  A long transaction delays
-- what comes after it; it never makes a reader skip it.
CREATE SEQUENCE changes_seq CACHE 64;

CREATE TABLE changes (
    team_id   uuid     NOT NULL,
    txid      xid8     NOT NULL DEFAULT pg_current_xact_id(),
    seq       bigint   NOT NULL DEFAULT nextval('changes_seq'),
    kind      smallint NOT NULL, -- 1 journal entry, 2 prompt, 3 member
    event     smallint NOT NULL, -- see core/changes/changes.h (created, updated, deleted, ...)
    entity_id uuid     NOT NULL, -- the entry, the prompt, or the member's user
    PRIMARY KEY (team_id, txid, seq)
);
-- Consumers read every team's changes in order.
CREATE INDEX changes_order_idx ON changes (txid, seq);

-- Where each internal consumer is: it advances in the transaction of its effects.
CREATE TABLE change_consumers (
    name       text PRIMARY KEY,
    txid       xid8        NOT NULL DEFAULT '0',
    seq        bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO change_consumers (name) VALUES ('activity');

-- Retention: each compaction notes the log's end with the time (a mark), and deletes
-- what lies before a mark older than the retention period (and before every consumer).
-- The floor is the position below which nothing is kept: older cursors have expired.
CREATE TABLE change_marks (
    at   timestamptz PRIMARY KEY,
    txid xid8   NOT NULL,
    seq  bigint NOT NULL
);
CREATE TABLE change_floor (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    txid xid8   NOT NULL DEFAULT '0',
    seq  bigint NOT NULL DEFAULT 0
);
INSERT INTO change_floor DEFAULT VALUES;

-- Event jobs are gone: the activity consumer reads the log instead.
DELETE FROM jobs WHERE kind = 'activity.record' AND state IN ('available', 'failed', 'running');
