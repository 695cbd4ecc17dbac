-- Version 3: concept of the day. One schedule per guild, one post row per guild and local date (the
-- record of intent and of result that makes posting exactly-once across crashes), and a persisted shuffled
-- cycle so no concept repeats until the whole pool has been posted.

CREATE TABLE daily_schedules (
    guild_id       INTEGER PRIMARY KEY,
    channel_id     INTEGER NOT NULL,
    post_time      TEXT NOT NULL,                -- HH:MM, local to `timezone`
    timezone       TEXT NOT NULL,                -- IANA name
    categories     TEXT NOT NULL DEFAULT '[]',   -- JSON list of concept ids; empty = every concept
    state          TEXT NOT NULL CHECK (state IN ('active', 'paused', 'off', 'stopped')),
    stopped_reason TEXT,
    active_since   TEXT NOT NULL,                -- posts are due only for times after this (set or resumed)
    updated_at     TEXT NOT NULL
);

CREATE TABLE daily_posts (
    guild_id   INTEGER NOT NULL,
    local_date TEXT NOT NULL,                    -- the guild's calendar day, YYYY-MM-DD
    concept_id TEXT NOT NULL,
    channel_id INTEGER NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('pending', 'posted', 'failed')),
    message_id INTEGER,
    intent_at  TEXT NOT NULL,
    posted_at  TEXT,
    detail     TEXT,
    PRIMARY KEY (guild_id, local_date)
) WITHOUT ROWID;

CREATE TABLE daily_queue (
    guild_id   INTEGER NOT NULL,
    cycle      INTEGER NOT NULL,
    position   INTEGER NOT NULL,
    concept_id TEXT NOT NULL,
    posted     INTEGER NOT NULL DEFAULT 0 CHECK (posted IN (0, 1)),
    PRIMARY KEY (guild_id, cycle, position)
) WITHOUT ROWID;
