-- Version 2: full-text search over names, aliases, summaries and definitions (FTS5).
-- One row per concept and audience: guild_id 0 for the shipped glossary; guild overlays add their own rows.
-- Porter stemming lets "antibodies" find "antibody"; diacritics are folded.

CREATE VIRTUAL TABLE concept_search USING fts5(
    concept_id UNINDEXED,
    guild_id UNINDEXED,
    name,
    aliases,
    summary,
    definition,
    tokenize = 'porter unicode61 remove_diacritics 2'
);

INSERT INTO concept_search (concept_id, guild_id, name, aliases, summary, definition)
SELECT id, 0, json_extract(data, '$.name'), (SELECT group_concat(value, ' ; ') FROM json_each(data, '$.aliases')),
       json_extract(data, '$.summary'), json_extract(data, '$.definition')
FROM shipped_concepts;
