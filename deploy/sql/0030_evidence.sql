-- evidence: the parcel trajectories (the carriers' scans), per-parcel summaries, and the
-- evidence bundle of each complaint.
SET LOCAL ROLE evidence;
SET LOCAL search_path = evidence, public;
SELECT public.cp_create_messaging('evidence');

CREATE TABLE scans (
  carrier      text NOT NULL DEFAULT '',
  scan_id      text NOT NULL,
  waybill_no   text NOT NULL,
  code         text NOT NULL,
  facility_id  text NOT NULL DEFAULT '',
  facility_type text NOT NULL DEFAULT '',
  courier_id   text NOT NULL DEFAULT '',
  occurred_at  timestamptz NOT NULL,
  city         text NOT NULL DEFAULT '',
  lat          double precision,
  lon          double precision,
  pod_ref      text NOT NULL DEFAULT '',
  note         text NOT NULL DEFAULT '',
  signed_by    text NOT NULL DEFAULT '',
  exception_reason text NOT NULL DEFAULT '',
  customer_consented boolean NOT NULL DEFAULT false,
  promised_by  timestamptz,
  received_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (carrier, scan_id)
);
CREATE INDEX scans_by_waybill ON scans (waybill_no, occurred_at);

CREATE TABLE bundles (
  complaint_id   uuid PRIMARY KEY,
  complaint_no   text NOT NULL,
  waybill_no     text NOT NULL,
  subcategory    text NOT NULL,
  version        integer NOT NULL DEFAULT 1,
  tracking_found boolean NOT NULL,
  scan_count     integer NOT NULL,
  findings       jsonb NOT NULL DEFAULT '[]',
  responsibility jsonb NOT NULL DEFAULT '{}',
  collected_at   timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bundles_by_waybill ON bundles (waybill_no);
