-- Journal entries, prompts (global ones shipped here, team ones made by admins) and the
-- records of idempotent requests.

CREATE TABLE prompts (
    prompt_id  uuid PRIMARY KEY,
    team_id    uuid REFERENCES teams ON DELETE CASCADE, -- NULL: a global prompt
    text       text NOT NULL,
    category   text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted_at timestamptz
);
CREATE INDEX prompts_team_idx ON prompts (team_id, created_at, prompt_id) WHERE deleted_at IS NULL;

CREATE TABLE journal_entries (
    journal_entry_id  uuid PRIMARY KEY,
    team_id           uuid NOT NULL REFERENCES teams ON DELETE CASCADE,
    author_user_id    uuid REFERENCES users ON DELETE SET NULL,
    author_api_key_id uuid REFERENCES api_keys ON DELETE SET NULL,
    prompt_id         uuid REFERENCES prompts,
    content           text NOT NULL,
    version           integer NOT NULL DEFAULT 1, -- the ETag; bumped by every change
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    deleted_at        timestamptz,
    CONSTRAINT journal_entries_one_author CHECK (author_user_id IS NULL OR author_api_key_id IS NULL)
);
-- Newest-first keyset pages of a team's live entries, and the two filters.
CREATE INDEX journal_entries_team_created_idx
    ON journal_entries (team_id, created_at DESC, journal_entry_id DESC) WHERE deleted_at IS NULL;
CREATE INDEX journal_entries_author_idx
    ON journal_entries (team_id, author_user_id, created_at DESC, journal_entry_id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX journal_entries_prompt_idx
    ON journal_entries (team_id, prompt_id, created_at DESC, journal_entry_id DESC)
    WHERE deleted_at IS NULL AND prompt_id IS NOT NULL;
-- For purging soft-deleted rows.
CREATE INDEX journal_entries_deleted_idx ON journal_entries (deleted_at) WHERE deleted_at IS NOT NULL;

-- One row per (caller, Idempotency-Key): the request's fingerprint and, once it ran, the
-- response to replay, sealed with a key derived from QUILL_SECRET (responses may carry
-- session tokens and API keys, which are never stored in the clear).
CREATE TABLE idempotency_keys (
    scope       text NOT NULL,
    key         text NOT NULL,
    fingerprint bytea NOT NULL,
    status      integer NOT NULL,
    response    bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

INSERT INTO prompts (prompt_id, team_id, text, category, created_at, updated_at)
SELECT v.id::uuid, NULL, v.text, v.category, timestamptz '2026-01-01 00:00:00+00',
       timestamptz '2026-01-01 00:00:00+00'
FROM (VALUES
    ('019b76da-a801-7005-8000-000000000001', 'What small thing made today better than expected?', 'gratitude'),
    ('019b76da-a802-7005-8000-000000000002', 'Who helped you this week, and how could you thank them?', 'gratitude'),
    ('019b76da-a803-7005-8000-000000000003', 'Which everyday object would you miss most if it vanished?', 'gratitude'),
    ('019b76da-a804-7005-8000-000000000004', 'Describe a place you are grateful to have access to.', 'gratitude'),
    ('019b76da-a805-7005-8000-000000000005', 'What is something your body let you do today?', 'gratitude'),
    ('019b76da-a806-7005-8000-000000000006', 'Which skill of yours are you glad you learned?', 'gratitude'),
    ('019b76da-a807-7005-8000-000000000007', 'What message from someone lifted you recently?', 'gratitude'),
    ('019b76da-a808-7005-8000-000000000008', 'What comfort do you usually take for granted?', 'gratitude'),
    ('019b76da-a809-7005-8000-000000000009', 'Which mistake turned out to be a gift?', 'gratitude'),
    ('019b76da-a80a-7005-8000-00000000000a', 'What did you change your mind about recently?', 'reflection'),
    ('019b76da-a80b-7005-8000-00000000000b', 'When did you last feel fully absorbed in what you were doing?', 'reflection'),
    ('019b76da-a80c-7005-8000-00000000000c', 'What would you tell yourself from a year ago?', 'reflection'),
    ('019b76da-a80d-7005-8000-00000000000d', 'Which habit is quietly shaping your days?', 'reflection'),
    ('019b76da-a80e-7005-8000-00000000000e', 'What question have you been avoiding?', 'reflection'),
    ('019b76da-a80f-7005-8000-00000000000f', 'What did today teach you about patience?', 'reflection'),
    ('019b76da-a810-7005-8000-000000000010', 'Where did your energy go today?', 'reflection'),
    ('019b76da-a811-7005-8000-000000000011', 'What are you holding on to that you could let go of?', 'reflection'),
    ('019b76da-a812-7005-8000-000000000012', 'Which conversation is still on your mind, and why?', 'reflection'),
    ('019b76da-a813-7005-8000-000000000013', 'What is one step you can take tomorrow toward a bigger goal?', 'goals'),
    ('019b76da-a814-7005-8000-000000000014', 'Which goal matters less to you than it used to?', 'goals'),
    ('019b76da-a815-7005-8000-000000000015', 'What would make this week a success?', 'goals'),
    ('019b76da-a816-7005-8000-000000000016', 'What is blocking your most important project?', 'goals'),
    ('019b76da-a817-7005-8000-000000000017', 'Which promise to yourself did you keep lately?', 'goals'),
    ('019b76da-a818-7005-8000-000000000018', 'What would you attempt if you knew you could not fail?', 'goals'),
    ('019b76da-a819-7005-8000-000000000019', 'How will you know you are making progress this month?', 'goals'),
    ('019b76da-a81a-7005-8000-00000000001a', 'What can you stop doing to make room for what matters?', 'goals'),
    ('019b76da-a81b-7005-8000-00000000001b', 'Who could help you reach your next milestone?', 'goals'),
    ('019b76da-a81c-7005-8000-00000000001c', 'Describe your morning as if it were the opening of a novel.', 'creativity'),
    ('019b76da-a81d-7005-8000-00000000001d', 'Invent a holiday and explain how people celebrate it.', 'creativity'),
    ('019b76da-a81e-7005-8000-00000000001e', 'Write a letter to an object in the room.', 'creativity'),
    ('019b76da-a81f-7005-8000-00000000001f', 'What would your workspace look like in a hundred years?', 'creativity'),
    ('019b76da-a820-7005-8000-000000000020', 'Combine two unrelated hobbies into a new one.', 'creativity'),
    ('019b76da-a821-7005-8000-000000000021', 'Retell a recent frustration as a fable.', 'creativity'),
    ('019b76da-a822-7005-8000-000000000022', 'What song would score today, and why?', 'creativity'),
    ('019b76da-a823-7005-8000-000000000023', 'Describe a color to someone who has never seen it.', 'creativity'),
    ('019b76da-a824-7005-8000-000000000024', 'Sketch in words the view from a window you remember.', 'creativity'),
    ('019b76da-a825-7005-8000-000000000025', 'What problem at work would you most like to solve?', 'work'),
    ('019b76da-a826-7005-8000-000000000026', 'Which meeting could have been something else?', 'work'),
    ('019b76da-a827-7005-8000-000000000027', 'What did you learn from a colleague this week?', 'work'),
    ('019b76da-a828-7005-8000-000000000028', 'What part of your job would you keep if you could keep only one?', 'work'),
    ('019b76da-a829-7005-8000-000000000029', 'When did you last feel proud of your work?', 'work'),
    ('019b76da-a82a-7005-8000-00000000002a', 'What feedback do you wish you had received sooner?', 'work'),
    ('019b76da-a82b-7005-8000-00000000002b', 'Which task do you keep postponing, and what would finishing it take?', 'work'),
    ('019b76da-a82c-7005-8000-00000000002c', 'How does your team celebrate progress?', 'work'),
    ('019b76da-a82d-7005-8000-00000000002d', 'What would make tomorrow''s work feel lighter?', 'work'),
    ('019b76da-a82e-7005-8000-00000000002e', 'How did you rest today?', 'wellbeing'),
    ('019b76da-a82f-7005-8000-00000000002f', 'What does your ideal evening look like?', 'wellbeing'),
    ('019b76da-a830-7005-8000-000000000030', 'Which moment today felt calm?', 'wellbeing'),
    ('019b76da-a831-7005-8000-000000000031', 'What are you doing to look after your sleep?', 'wellbeing'),
    ('019b76da-a832-7005-8000-000000000032', 'When did you last spend time outdoors, and how did it feel?', 'wellbeing'),
    ('019b76da-a833-7005-8000-000000000033', 'What boundary would protect your energy this week?', 'wellbeing'),
    ('019b76da-a834-7005-8000-000000000034', 'Who do you feel most at ease with?', 'wellbeing'),
    ('019b76da-a835-7005-8000-000000000035', 'What is one kind thing you can do for yourself tomorrow?', 'wellbeing'),
    ('019b76da-a836-7005-8000-000000000036', 'Which worry shrank once you wrote it down?', 'wellbeing')
) AS v (id, text, category);
