-- followup: who may never act on a case -- the staff member the complaint is about (its target,
-- courier or agent) and the courier the evidence names as responsible.
SET LOCAL ROLE followup;
SET LOCAL search_path = followup, public;

ALTER TABLE cases
  ADD COLUMN target_staff_id        text NOT NULL DEFAULT '',
  ADD COLUMN responsible_courier_id text NOT NULL DEFAULT '';
