-- intake: the complaint record, the customer's timeline, idempotency keys.
-- Personal data (complainant name and phone) lives only in intake.complaints.
SET LOCAL ROLE intake;
SET LOCAL search_path = intake, public;
SELECT public.cp_create_messaging('intake');

CREATE TABLE complaints (
  id                    uuid PRIMARY KEY,
  complaint_no          text NOT NULL UNIQUE,
  channel               text NOT NULL,
  waybill_no            text NOT NULL,
  customer_ref          text NOT NULL,
  complainant_name      text NOT NULL,
  complainant_phone     text NOT NULL,
  role                  text NOT NULL,
  language              text NOT NULL,
  preferred_contact     text NOT NULL,
  outlet_id             text,
  description           text NOT NULL,
  type                  text NOT NULL,
  impact                jsonb NOT NULL,
  demand                text[] NOT NULL,
  target                jsonb,
  attachments           jsonb NOT NULL DEFAULT '[]',
  status                text NOT NULL DEFAULT 'received',
  priority              integer NOT NULL,
  repeat_count          integer NOT NULL DEFAULT 0,
  is_repeat             boolean NOT NULL DEFAULT false,
  previous_complaint_id uuid REFERENCES complaints (id),
  received_at           timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  closed_at             timestamptz,
  next_update_by        timestamptz,
  decision              text
);
-- Hot paths: repeat detection (customer + waybill, open cases), closed cases by waybill.
CREATE INDEX complaints_open_by_customer ON complaints (customer_ref, waybill_no)
  WHERE status <> 'closed';
CREATE INDEX complaints_by_waybill ON complaints (waybill_no, type, closed_at);

CREATE TABLE complaint_counters (
  day  date PRIMARY KEY,
  last integer NOT NULL
);

CREATE TABLE idempotency_keys (
  key          text PRIMARY KEY,
  request_hash text NOT NULL,
  complaint_id uuid NOT NULL REFERENCES complaints (id),
  status       integer NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- What the customer sees: one row per step, fed by every service's events.
CREATE TABLE timeline (
  id           bigserial PRIMARY KEY,
  complaint_id uuid NOT NULL REFERENCES complaints (id),
  step         text NOT NULL,
  at           timestamptz NOT NULL DEFAULT now(),
  detail       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX timeline_by_complaint ON timeline (complaint_id, at);
