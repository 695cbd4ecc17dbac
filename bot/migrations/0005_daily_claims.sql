-- Version 5: a pending concept-of-the-day post is owned. The claimer's token (its process and attempt) and the
-- time its lease ends are recorded with the intent, so a second claimer (another process, or this one while a
-- slow send is still running) waits for it or, once the lease has run out, takes it over: never posts alongside.

ALTER TABLE daily_posts ADD COLUMN claim_owner TEXT;
ALTER TABLE daily_posts ADD COLUMN claim_expires TEXT;
