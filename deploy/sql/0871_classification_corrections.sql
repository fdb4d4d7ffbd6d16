-- classification: a person's correction of the category announces the case again
-- (cp.complaint.classified with the new category, its SLA policy and clocks), so evidence,
-- resolution, the timer and follow-up follow it. The announcement needs the complaint's facts
-- as received (impact, demand, target, channel), kept here as the packed cp.ComplaintReceived:
-- a pseudonymous customer and a redacted text, no contact. Complaints classified before this
-- column existed keep NULL: their correction is stored but not announced again.
SET LOCAL ROLE classification;
SET LOCAL search_path = classification, public;

ALTER TABLE classifications ADD COLUMN received bytea;
