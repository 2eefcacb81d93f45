-- Data rights: exports of a user's data, built by a job and kept for a while, and what
-- erasure needs.
--
-- An export is a row and its document, cut into parts as the job writes it page by page
-- (a part is at most a few hundred KiB), so neither the job nor the database holds it in
-- one piece while it is made.  A user has one pending export at a time: a request looks
-- for it under the lock of the users row.
CREATE TABLE exports (
    export_id  uuid PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users ON DELETE CASCADE,
    status     text        NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'ready', 'failed')),
    error      text,                  -- failed: why, for the user
    bytes      bigint      NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    ready_at   timestamptz,           -- when it was built (ready or failed)
    expires_at timestamptz NOT NULL   -- purge.exports deletes it then
);
CREATE INDEX exports_user_idx ON exports (user_id, created_at);
CREATE INDEX exports_expires_idx ON exports (expires_at);

CREATE TABLE export_parts (
    export_id uuid    NOT NULL REFERENCES exports ON DELETE CASCADE,
    part      integer NOT NULL,
    data      text    NOT NULL,
    PRIMARY KEY (export_id, part)
);

-- The entries a user wrote, in every team and whatever their state: what an export pages
-- through and what erasure deletes.  (The index of 0002 covers one team's live entries.)
CREATE INDEX journal_entries_author_any_idx ON journal_entries (author_user_id, journal_entry_id)
    WHERE author_user_id IS NOT NULL;
