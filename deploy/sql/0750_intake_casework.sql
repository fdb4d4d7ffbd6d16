-- intake: the case as people work it. The complaint row carries the lifecycle status (the
-- customer sees it; it only moves forward, see services/intake/lifecycle.c), the owner and
-- the nearest deadline; the other tables are projections of the other services' events so
-- that one request shows staff the whole case, plus what only intake keeps (notes).
SET LOCAL ROLE intake;
SET LOCAL search_path = intake, public;

ALTER TABLE complaints
  ADD COLUMN owner_staff_id   text,
  ADD COLUMN owner_since      timestamptz,
  ADD COLUMN offered_to       text[] NOT NULL DEFAULT '{}',
  ADD COLUMN escalated_to     text,
  ADD COLUMN escalation_level integer NOT NULL DEFAULT 0,
  ADD COLUMN category         text,
  ADD COLUMN subcategory      text,
  ADD COLUMN urgency          text,
  ADD COLUMN tier             text,
  ADD COLUMN sla_policy       text,
  ADD COLUMN next_due_at      timestamptz,   -- the nearest deadline of a running clock
  ADD COLUMN next_due_clock   text,
  ADD COLUMN close_reason     text,
  ADD COLUMN merged_into      text,
  ADD COLUMN episode          integer NOT NULL DEFAULT 0;  -- reopenings so far

-- The lifecycle's statuses (received .. closed, reopened, merged, withdrawn). Earlier rows
-- carried the statuses of the automatic pipeline; map them onto the lifecycle once.
UPDATE complaints SET status = CASE status
  WHEN 'classified' THEN 'received'
  WHEN 'assigned' THEN 'accepted'
  WHEN 'resolution_proposed' THEN 'plan_proposed'
  WHEN 'executed' THEN 'awaiting_confirmation'
  WHEN 'execution_failed' THEN 'executing'
  ELSE status END;

-- Open cases: everything not terminal. Repeat detection and the queue read these.
CREATE INDEX complaints_open_by_customer_ref ON complaints (customer_ref, waybill_no)
  WHERE status NOT IN ('closed', 'merged', 'withdrawn');
-- The queue: sorted by the nearest deadline (cases without one last), keyset on complaint_no.
CREATE INDEX complaints_queue ON complaints
  ((coalesce(next_due_at, 'infinity'::timestamptz)), complaint_no)
  WHERE status NOT IN ('closed', 'merged', 'withdrawn');
CREATE INDEX complaints_by_owner ON complaints (owner_staff_id, status);
CREATE INDEX complaints_by_customer ON complaints (customer_ref, received_at DESC);

-- Who did what: every step records its actor; staff-only steps are hidden from the customer.
ALTER TABLE timeline
  ADD COLUMN actor      text NOT NULL DEFAULT 'system',
  ADD COLUMN visibility text NOT NULL DEFAULT 'customer'
    CHECK (visibility IN ('customer', 'staff'));

-- Internal notes: staff only, never shown to the customer, never in an event.
CREATE TABLE notes (
  id           bigserial PRIMARY KEY,
  complaint_id uuid NOT NULL REFERENCES complaints (id),
  author       text NOT NULL,
  text         text NOT NULL,
  at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notes_by_complaint ON notes (complaint_id, id);

-- complaint.sla.v1: the latest snapshot of every clock (cp.complaint.clock_changed), and
-- whether a warning or breach fired at its current level.
CREATE TABLE case_clocks (
  complaint_id     uuid NOT NULL,
  clock            text NOT NULL,
  state            text NOT NULL,
  due_at           timestamptz,
  started_at       timestamptz,
  duration_s       integer NOT NULL DEFAULT 0,
  used_s           bigint NOT NULL DEFAULT 0,
  paused_s         bigint NOT NULL DEFAULT 0,
  calendar         text NOT NULL DEFAULT '',
  escalation_level integer NOT NULL DEFAULT 0,
  warned           boolean NOT NULL DEFAULT false,
  breached         boolean NOT NULL DEFAULT false,
  stopped_by       text NOT NULL DEFAULT '',
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (complaint_id, clock)
);

-- complaint.evidence.v1: the latest bundle as staff read it (an older version never
-- overwrites a newer one).
CREATE TABLE case_evidence (
  complaint_id uuid PRIMARY KEY,
  version      integer NOT NULL,
  bundle       jsonb NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- complaint.resolution.v1: every plan and its latest state.
CREATE TABLE case_plans (
  proposal_id  uuid PRIMARY KEY,
  complaint_id uuid NOT NULL,
  status       text NOT NULL,
  remedies     jsonb NOT NULL DEFAULT '[]',
  total_fen    bigint NOT NULL DEFAULT 0,
  rule         text NOT NULL DEFAULT '',
  responsible_party text NOT NULL DEFAULT '',
  proposed_by  text NOT NULL DEFAULT '',
  approved_by  text NOT NULL DEFAULT '',
  reason       text NOT NULL DEFAULT '',
  decided_at   timestamptz,
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_plans_by_complaint ON case_plans (complaint_id, updated_at);

-- complaint.followup.v1 and complaint.received.v1: the conversation with the customer —
-- what we sent (automatic or by whom), what the customer wrote (their words, phone numbers
-- and name redacted), calls and questions.
CREATE TABLE conversation (
  id           bigserial PRIMARY KEY,
  complaint_id uuid NOT NULL,
  at           timestamptz NOT NULL DEFAULT now(),
  direction    text NOT NULL CHECK (direction IN ('to_customer', 'from_customer')),
  kind         text NOT NULL,     -- message, call, question, reply, repeat, notification
  actor        text NOT NULL DEFAULT 'system',
  text         text NOT NULL DEFAULT '',
  detail       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX conversation_by_complaint ON conversation (complaint_id, at, id);
