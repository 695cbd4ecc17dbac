-- FSRS scheduling for flashcards, a review log fed by flashcards and quizzes, members' study settings,
-- typed quiz answers, and the daily post's pool.
-- The SM-2 tables (flashcards, flashcard_reviews) stay as they are: at start-up the bot replays each SM-2
-- card's review history through FSRS into `cards` and `card_reviews`, then drops them, in one transaction
-- (bot.flashcards.FlashcardRepository.upgrade_sm2).

CREATE TABLE cards (
    user_id           INTEGER NOT NULL,
    scope             INTEGER NOT NULL,          -- 0 = a shipped entry; a guild id = that guild's own entry
    concept_id        TEXT NOT NULL,
    state             INTEGER NOT NULL CHECK (state IN (1, 2, 3)),  -- FSRS: learning, review, relearning
    step              INTEGER,                   -- the (re)learning step; NULL in review
    stability         REAL NOT NULL,             -- days until recall falls to 90 %
    difficulty        REAL NOT NULL,             -- 1–10
    due_at            TEXT NOT NULL,             -- UTC; due from the member's midnight of that day
    last_review_at    TEXT NOT NULL,
    reviews           INTEGER NOT NULL,          -- every grading; the version a button must match
    lapses            INTEGER NOT NULL,
    first_reviewed_on TEXT NOT NULL,             -- the member's day: counts against new cards a day
    last_reviewed_on  TEXT NOT NULL,
    PRIMARY KEY (user_id, scope, concept_id)
) WITHOUT ROWID;

CREATE INDEX cards_first_seen ON cards (user_id, first_reviewed_on);

-- Every grade: from a flashcard button or a quiz answer, with the scheduler's state before and after (JSON).
CREATE TABLE card_reviews (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL,
    scope        INTEGER NOT NULL,
    concept_id   TEXT NOT NULL,
    review       INTEGER NOT NULL,               -- the card's review number (1, 2, …)
    grade        TEXT NOT NULL CHECK (grade IN ('again', 'hard', 'good', 'easy')),
    source       TEXT NOT NULL CHECK (source IN ('flashcard', 'quiz')),
    reviewed_at  TEXT NOT NULL,
    local_date   TEXT NOT NULL,
    state_before TEXT,                           -- NULL for a new card
    state_after  TEXT NOT NULL
);

-- One row per review of a card (a named index rather than an inline UNIQUE: the same on both engines).
CREATE UNIQUE INDEX card_reviews_review ON card_reviews (user_id, scope, concept_id, review);

ALTER TABLE flashcard_users ADD COLUMN desired_retention REAL NOT NULL DEFAULT 0.9
    CHECK (desired_retention BETWEEN 0.8 AND 0.97);
ALTER TABLE flashcard_users ADD COLUMN quiz_cards INTEGER NOT NULL DEFAULT 1 CHECK (quiz_cards IN (0, 1));

-- Typed-answer questions: what the member typed (NULL for a button answer).
ALTER TABLE quiz_answers ADD COLUMN typed TEXT;

-- For the server's weak concepts: quiz answers by concept.
CREATE INDEX quiz_rounds_by_concept ON quiz_rounds (concept_id);

-- The concept of the day's pool: the shuffled cycle, or the server's weak concepts first.
ALTER TABLE daily_schedules ADD COLUMN pool TEXT NOT NULL DEFAULT 'cycle' CHECK (pool IN ('cycle', 'weak'));
-- Why a weak-pool post's concept was chosen (shown on the post).
ALTER TABLE daily_posts ADD COLUMN reason TEXT;
