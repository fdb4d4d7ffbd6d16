-- Complaint numbers from a sequence instead of a per-day counter row: the counter row was
-- locked by every new complaint until its commit, so all complaints were serialised on it.
-- nextval never blocks; numbers stay unique (CPyyyymmdd-nnnnnn, at least six digits) and
-- increase, they just no longer restart at 1 each day.
SET LOCAL ROLE intake;
SET LOCAL search_path = intake, public;
CREATE SEQUENCE IF NOT EXISTS complaint_no_seq;
SELECT setval('complaint_no_seq', GREATEST(1, (SELECT COALESCE(sum(last), 0) FROM complaint_counters)), true);
