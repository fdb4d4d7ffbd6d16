-- intake: the projection of pickup scans (filing window), who keyed a complaint in, and the
-- staff search index.
SET LOCAL ROLE intake;
SET LOCAL search_path = intake, public;

-- From parcel.tracking.v1 (cp.parcel.scanned, code SCAN_PICKED_UP): when each parcel was
-- picked up. Complaints may be filed within FILING_WINDOW_DAYS of that time.
CREATE TABLE pickups (
  waybill_no   text PRIMARY KEY,
  picked_up_at timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The staff id of the agent who keyed in a hotline/letter complaint; NULL when the customer
-- filed it.
ALTER TABLE complaints ADD COLUMN entered_by text;

-- GET /v1/staff/complaints?status=&waybill_no=
CREATE INDEX complaints_by_status ON complaints (status, received_at DESC);
CREATE INDEX complaints_by_waybill_received ON complaints (waybill_no, received_at DESC);
