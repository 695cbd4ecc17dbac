-- Study mode: quizzes with persistent scores, personal flashcards (SM-2), and lookup counts.
-- Scores are never stored as totals: they are computed from one row per answer, whose primary key makes a
-- second answer (a double click, a retried request) impossible, so points can be neither lost nor doubled.

CREATE TABLE quiz_sessions (
    id            INTEGER PRIMARY KEY,
    guild_id      INTEGER NOT NULL,
    channel_id    INTEGER NOT NULL,
    starter_id    INTEGER NOT NULL,
    mode          TEXT NOT NULL,
    category_id   TEXT,                          -- the category questions were drawn from; NULL = everything
    questions     INTEGER NOT NULL,
    round_seconds INTEGER NOT NULL,
    seed          INTEGER NOT NULL,              -- the questions are a pure function of the glossary and this
    status        TEXT NOT NULL CHECK (status IN ('running', 'finished', 'stopped', 'interrupted')),
    started_at    TEXT NOT NULL,
    ended_at      TEXT,
    ended_by      INTEGER                        -- who stopped it (/quiz stop)
);

-- One running quiz per channel, enforced by the database as well as in memory.
CREATE UNIQUE INDEX quiz_sessions_one_running_per_channel ON quiz_sessions (channel_id) WHERE status = 'running';

CREATE TABLE quiz_rounds (
    session_id   INTEGER NOT NULL REFERENCES quiz_sessions (id),
    round        INTEGER NOT NULL CHECK (round >= 1),
    kind         TEXT NOT NULL,                  -- definition, term, classification, axis, stages
    concept_id   TEXT NOT NULL,                  -- what the question is about
    category_id  TEXT,                           -- for "weakest categories" in /stats
    options      TEXT NOT NULL,                  -- JSON list of the option texts as shown
    correct      INTEGER NOT NULL,               -- index into options
    message_id   INTEGER,
    opened_at    TEXT NOT NULL,
    closed_at    TEXT,
    close_reason TEXT,                           -- timeout, answered, stopped, restart
    PRIMARY KEY (session_id, round)
) WITHOUT ROWID;

CREATE TABLE quiz_answers (
    session_id  INTEGER NOT NULL,
    round       INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    guild_id    INTEGER NOT NULL,
    choice      INTEGER NOT NULL,
    correct     INTEGER NOT NULL CHECK (correct IN (0, 1)),
    answered_at TEXT NOT NULL,
    PRIMARY KEY (session_id, round, user_id),
    FOREIGN KEY (session_id, round) REFERENCES quiz_rounds (session_id, round)
) WITHOUT ROWID;

CREATE INDEX quiz_answers_by_guild ON quiz_answers (guild_id, answered_at);
CREATE INDEX quiz_answers_by_member ON quiz_answers (guild_id, user_id, answered_at);

-- The name a player had when they last answered (the bot has no member list to look names up in).
CREATE TABLE quiz_players (
    guild_id     INTEGER NOT NULL,
    user_id      INTEGER NOT NULL,
    display_name TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (guild_id, user_id)
) WITHOUT ROWID;

-- Flashcards belong to a user across guilds. scope 0 = a shipped entry (the same card in every guild);
-- scope = a guild id for an entry that guild's moderators added.
CREATE TABLE flashcard_users (
    user_id    INTEGER PRIMARY KEY,
    timezone   TEXT NOT NULL DEFAULT 'UTC',
    updated_at TEXT NOT NULL
);

CREATE TABLE flashcard_filters (
    user_id     INTEGER NOT NULL,
    guild_id    INTEGER NOT NULL,                -- 0 in direct messages
    category_id TEXT,                            -- the review's category; NULL = every card
    PRIMARY KEY (user_id, guild_id)
) WITHOUT ROWID;

CREATE TABLE flashcards (
    user_id           INTEGER NOT NULL,
    scope             INTEGER NOT NULL,
    concept_id        TEXT NOT NULL,
    repetitions       INTEGER NOT NULL,          -- successful reviews in a row (SM-2's n)
    ease              REAL NOT NULL,             -- SM-2's E-Factor, at least 1.3
    interval_days     INTEGER NOT NULL,
    due_on            TEXT NOT NULL,             -- a date in the user's timezone
    reviews           INTEGER NOT NULL,          -- every grading; the version a button must match
    lapses            INTEGER NOT NULL,
    first_reviewed_on TEXT NOT NULL,
    last_reviewed_on  TEXT NOT NULL,
    last_reviewed_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, scope, concept_id)
) WITHOUT ROWID;

CREATE TABLE flashcard_reviews (
    user_id       INTEGER NOT NULL,
    scope         INTEGER NOT NULL,
    concept_id    TEXT NOT NULL,
    review        INTEGER NOT NULL,
    grade         TEXT NOT NULL,
    reviewed_at   TEXT NOT NULL,
    local_date    TEXT NOT NULL,
    interval_days INTEGER NOT NULL,
    ease          REAL NOT NULL,
    PRIMARY KEY (user_id, scope, concept_id, review)
) WITHOUT ROWID;

-- /define counts, per guild, concept and UTC day; written in batches.
CREATE TABLE concept_uses (
    guild_id   INTEGER NOT NULL,
    concept_id TEXT NOT NULL,
    day        TEXT NOT NULL,
    uses       INTEGER NOT NULL CHECK (uses > 0),
    PRIMARY KEY (guild_id, concept_id, day)
) WITHOUT ROWID;
