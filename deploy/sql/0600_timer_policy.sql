-- timer: what the timer knows of each complaint (its policy, whether it waits on the customer)
-- and the stops it has seen, so that a clock created after its stop event (events arrive out
-- of order across topics) starts already stopped, and one created while the case waits on the
-- customer starts paused.
SET LOCAL ROLE timer;
SET LOCAL search_path = timer, public;

CREATE TABLE cases (
  complaint_id     uuid PRIMARY KEY,
  complaint_no     text NOT NULL DEFAULT '',
  received_at      timestamptz,                      -- NULL until cp.complaint.received
  classified_at    timestamptz,                      -- clocks start here while received_at is unknown
  classified       boolean NOT NULL DEFAULT false,   -- the policy below came with cp.complaint.classified
  sla_policy       text,
  first_response_s integer NOT NULL DEFAULT 0,
  verification_s   integer NOT NULL DEFAULT 0,
  resolution_s     integer NOT NULL DEFAULT 0,
  regulatory_s     integer NOT NULL DEFAULT 0,
  pausable_clocks  text[] NOT NULL DEFAULT '{}',
  awaiting_since   timestamptz,                      -- waiting on the customer since
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_no ON cases (complaint_no);

-- One row per (complaint, clock) that an event stopped; cp.complaint.closed writes one for
-- every clock, cp.complaint.reopened removes the resolution clock's.
CREATE TABLE stops (
  complaint_id uuid NOT NULL,
  clock        text NOT NULL,
  stopped_at   timestamptz NOT NULL,
  stopped_by   text NOT NULL,
  PRIMARY KEY (complaint_id, clock)
);

ALTER TABLE clocks ADD COLUMN paused_ms bigint NOT NULL DEFAULT 0;  -- time spent paused so far
CREATE INDEX clocks_no ON clocks (complaint_no);
-- The running/paused clocks gauge counts these.
CREATE INDEX clocks_open ON clocks (clock) WHERE state IN ('running', 'paused');
