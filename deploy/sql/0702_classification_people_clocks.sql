-- classification: the clocks that time people, per SLA policy, announced in
-- ComplaintClassified for the timer (accept_s, whole_cycle_s, next_update_s,
-- working_time_clocks, calendar) and kept with each classification.
SET LOCAL ROLE classification;
SET LOCAL search_path = classification, public;

-- 0 means the policy does not run that clock. next_update_s NULL: the service's
-- NEXT_UPDATE_SECONDS. working_time_clocks run on the named working calendar (operator data
-- the timer reads) instead of calendar time; regulatory never does.
ALTER TABLE sla_policies
  ADD COLUMN accept_s            integer NOT NULL DEFAULT 300 CHECK (accept_s >= 0),
  ADD COLUMN whole_cycle_s       integer NOT NULL DEFAULT 86400 CHECK (whole_cycle_s >= 0),
  ADD COLUMN next_update_s       integer CHECK (next_update_s >= 0),
  ADD COLUMN working_time_clocks text[] NOT NULL DEFAULT '{}'
    CHECK (NOT 'regulatory' = ANY (working_time_clocks)),
  ADD COLUMN calendar            text NOT NULL DEFAULT 'cn-mainland';

ALTER TABLE classifications
  ADD COLUMN accept_s            integer,
  ADD COLUMN whole_cycle_s       integer,
  ADD COLUMN next_update_s       integer,
  ADD COLUMN working_time_clocks text[] NOT NULL DEFAULT '{}',
  ADD COLUMN calendar            text NOT NULL DEFAULT '';
