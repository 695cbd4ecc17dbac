-- Version 1: the shipped glossary, and room for per-guild settings and moderator overlays.
-- Shipped rows mirror data/ and are rewritten by `load`; every other table belongs to guilds and is never
-- touched by a reload.

CREATE TABLE source_documents (
    id           TEXT PRIMARY KEY,
    data         TEXT NOT NULL,          -- JSON of bot.models.SourceDocument
    content_hash TEXT NOT NULL
);

CREATE TABLE shipped_concepts (
    id           TEXT PRIMARY KEY,
    data         TEXT NOT NULL,          -- JSON of bot.models.Concept
    origin       TEXT NOT NULL,          -- the data file it came from
    content_hash TEXT NOT NULL,
    loaded_at    TEXT NOT NULL
);

CREATE TABLE guild_settings (
    guild_id   INTEGER PRIMARY KEY,
    settings   TEXT NOT NULL DEFAULT '{}',  -- JSON, validated by the feature that owns each key
    updated_at TEXT NOT NULL
);

-- Moderator edits: an append-only overlay per guild. The newest revision of (guild, concept) is what that
-- guild sees; older ones are history. Nothing is updated in place or deleted.
CREATE TABLE concept_revisions (
    guild_id   INTEGER NOT NULL,
    concept_id TEXT NOT NULL,
    revision   INTEGER NOT NULL CHECK (revision >= 1),
    action     TEXT NOT NULL,            -- add, edit, alias, hide, unhide, revert, import
    data       TEXT NOT NULL,            -- JSON of the whole entry as of this revision
    hidden     INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1)),
    author_id  INTEGER NOT NULL,
    reason     TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (guild_id, concept_id, revision)
) WITHOUT ROWID;

CREATE TABLE bot_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
