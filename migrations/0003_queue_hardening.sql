-- Dead letters name the spilled payload they carry (`{"$spilled": {id, parts}}` in place of the
-- payload), so the daily clean-up keeps that payload for as long as the letter is kept: a letter
-- is for people to look at and replay, which needs its whole payload (queues/retention.ts).
ALTER TABLE dead_letters ADD COLUMN spill_id TEXT;

-- Letters recorded before this column: their body is the envelope, as JSON.
UPDATE dead_letters SET spill_id = json_extract(body, '$.payload."$spilled".id') WHERE json_valid(body);

CREATE INDEX dead_letters_by_spill ON dead_letters (spill_id) WHERE spill_id IS NOT NULL;
