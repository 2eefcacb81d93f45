-- A delta page (GET /v1/teams/{teamId}/sync?since=…) nearly always finds only journal
-- entries changed after its cursor, and then reads the entries' walk alone; to know that it
-- may, it asked three tables (team prompts, memberships, tombstones) whether anything of
-- theirs changed after the cursor: three index probes, six buffers and six relation locks
-- on every page.  Now each team has one row holding the newest position among its
-- prompts, memberships and tombstones, kept by the triggers below in the transaction of
-- each such change, and the page asks that row alone (a primary-key lookup).
--
-- The row only ever moves forward (the WHERE of the upsert): when two transactions change
-- the same team, the one that writes second waits for the first's row lock, then keeps the
-- greater position.  A reader's snapshot holds every transaction below its horizon, and
-- gives out nothing at or above it, so every change it may give out has its position in
-- the row it sees: "nothing newer than the cursor" there is true of all three tables.
CREATE TABLE team_sync_others (
    team_id uuid   PRIMARY KEY REFERENCES teams (team_id) ON DELETE CASCADE,
    txid    xid8   NOT NULL,
    seq     bigint NOT NULL
);

CREATE FUNCTION team_sync_others_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.team_id IS NOT NULL THEN -- a global prompt belongs to no team's feed
        INSERT INTO team_sync_others AS o (team_id, txid, seq)
        VALUES (NEW.team_id, NEW.change_txid, NEW.change_seq)
        ON CONFLICT (team_id) DO UPDATE SET txid = EXCLUDED.txid, seq = EXCLUDED.seq
        WHERE (o.txid, o.seq) < (EXCLUDED.txid, EXCLUDED.seq);
    END IF;
    RETURN NULL;
END $$;

-- Inserts and moves only: a membership removed, an entry erased, leave a tombstone (an
-- insert or a move there); a prompt is deleted softly (a move).  Rows deleted outright
-- (purges below the floor, a team deleted) change no cursor still readable.
CREATE TRIGGER prompts_sync_others AFTER INSERT OR UPDATE OF change_txid, change_seq
    ON prompts FOR EACH ROW EXECUTE FUNCTION team_sync_others_bump();
CREATE TRIGGER team_members_sync_others AFTER INSERT OR UPDATE OF change_txid, change_seq
    ON team_members FOR EACH ROW EXECUTE FUNCTION team_sync_others_bump();
CREATE TRIGGER sync_tombstones_sync_others AFTER INSERT OR UPDATE OF change_txid, change_seq
    ON sync_tombstones FOR EACH ROW EXECUTE FUNCTION team_sync_others_bump();

-- What is there already.
INSERT INTO team_sync_others (team_id, txid, seq)
SELECT DISTINCT ON (a.team_id) a.team_id, a.txid, a.seq
FROM (SELECT team_id, change_txid AS txid, change_seq AS seq FROM prompts WHERE team_id IS NOT NULL
      UNION ALL SELECT team_id, change_txid, change_seq FROM team_members
      UNION ALL SELECT team_id, change_txid, change_seq FROM sync_tombstones) AS a
JOIN teams USING (team_id)
ORDER BY a.team_id, a.txid DESC, a.seq DESC;
