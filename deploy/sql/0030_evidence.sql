-- evidence: the parcel trajectories (the carriers' scans), per-parcel summaries, and the
-- evidence bundle of each complaint.
--
-- scans is partitioned by occurred_at (one partition per calendar month, UTC). A unique key on
-- a partitioned table must contain the partition column, so (carrier, scan_id) cannot be
-- unique in scans itself: a carrier that re-sends a scan with a corrected time would get two
-- rows. Idempotency therefore lives in scan_keys, a small unpartitioned table keyed by
-- (carrier, scan_id); a scan is written to scans only when its key was new (one statement,
-- see services/evidence/ingest.c). scan_keys is pruned with the same retention as the
-- partitions (by created_at, BRIN-indexed because it grows in insertion order).
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
  received_at  timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (occurred_at);
CREATE INDEX scans_by_waybill ON scans (waybill_no, occurred_at);

CREATE TABLE scan_keys (
  carrier     text NOT NULL,
  scan_id     text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (carrier, scan_id)
);
CREATE INDEX scan_keys_created ON scan_keys USING brin (created_at);

-- Creates the monthly partitions of scans covering [p_from, p_to); returns how many were new.
CREATE FUNCTION ensure_scan_partitions(p_from timestamptz, p_to timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  m timestamp := date_trunc('month', p_from AT TIME ZONE 'UTC');
  made integer := 0;
  part text;
BEGIN
  WHILE (m AT TIME ZONE 'UTC') < p_to LOOP
    part := 'scans_' || to_char(m, 'YYYYMM');
    IF to_regclass('evidence.' || part) IS NULL THEN
      EXECUTE format('CREATE TABLE evidence.%I PARTITION OF evidence.scans FOR VALUES FROM (%L) TO (%L)',
                     part, m AT TIME ZONE 'UTC', (m + interval '1 month') AT TIME ZONE 'UTC');
      made := made + 1;
    END IF;
    m := m + interval '1 month';
  END LOOP;
  RETURN made;
END $$;

-- Drops the partitions of scans that end at or before p_before; returns how many.
CREATE FUNCTION drop_scan_partitions(p_before timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  part record;
  dropped integer := 0;
BEGIN
  FOR part IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'evidence.scans'::regclass AND c.relname ~ '^scans_[0-9]{6}$'
      AND (to_timestamp(substr(c.relname, 7), 'YYYYMM')::timestamp + interval '1 month')
          AT TIME ZONE 'UTC' <= p_before
  LOOP
    EXECUTE format('ALTER TABLE evidence.scans DETACH PARTITION evidence.%I', part.relname);
    EXECUTE format('DROP TABLE evidence.%I', part.relname);
    dropped := dropped + 1;
  END LOOP;
  RETURN dropped;
END $$;

-- The service keeps these ahead with its partitions task; this covers the first run.
SELECT ensure_scan_partitions(now() - interval '14 months', now() + interval '3 months');

-- One row per parcel: what a complaint's evidence needs first, one indexed lookup away.
-- A row without scans (scan_count 0) marks a waybill whose complaint arrived first.
CREATE TABLE parcels (
  waybill_no        text PRIMARY KEY,
  carrier           text NOT NULL DEFAULT '',
  scan_count        integer NOT NULL DEFAULT 0,
  first_scan_at     timestamptz,
  last_scan_at      timestamptz,
  last_code         text NOT NULL DEFAULT '',
  last_facility_id  text NOT NULL DEFAULT '',
  last_facility_type text NOT NULL DEFAULT '',
  last_city         text NOT NULL DEFAULT '',
  courier_id        text NOT NULL DEFAULT '',
  promised_by       timestamptz,
  delivered         boolean NOT NULL DEFAULT false,
  delivered_at      timestamptz,
  final             boolean NOT NULL DEFAULT false,   -- delivered, stored for pick-up or returned
  exceptions        integer NOT NULL DEFAULT 0,
  stuck_for         timestamptz,                      -- the last_scan_at a stuck event was raised for
  pending_bundle    boolean NOT NULL DEFAULT false,   -- a bundle was built without tracking
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX parcels_stuck ON parcels (last_scan_at)
  WHERE NOT final AND stuck_for IS DISTINCT FROM last_scan_at;

CREATE TABLE bundles (
  complaint_id   uuid PRIMARY KEY,
  complaint_no   text NOT NULL,
  waybill_no     text NOT NULL,
  category       text NOT NULL DEFAULT '',
  subcategory    text NOT NULL,
  version        integer NOT NULL DEFAULT 1,
  tracking_found boolean NOT NULL,
  scan_count     integer NOT NULL,
  findings       jsonb NOT NULL DEFAULT '[]',
  responsibility jsonb NOT NULL DEFAULT '{}',
  doc            jsonb NOT NULL DEFAULT '{}',      -- the whole bundle as last announced
  confirmed      jsonb,                            -- the responsibility a supervisor confirmed
  confirmed_by   text,
  confirmed_at   timestamptz,
  closed_at      timestamptz,                      -- the complaint was closed (cp.complaint.closed)
  collected_at   timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bundles_by_waybill ON bundles (waybill_no);
CREATE INDEX bundles_by_no ON bundles (complaint_no);

-- Evidence requests to facilities (surveillance) and couriers (statements), and their answers.
CREATE TABLE requests (
  request_id    uuid PRIMARY KEY,
  complaint_id  uuid NOT NULL REFERENCES bundles (complaint_id),
  facility_id   text NOT NULL,
  facility_type text NOT NULL DEFAULT '',
  courier_id    text NOT NULL DEFAULT '',
  kind          text NOT NULL,                     -- surveillance, courier_statement, photos
  due_at        timestamptz NOT NULL,
  requested_at  timestamptz NOT NULL DEFAULT now(),
  answered_at   timestamptz,
  late          boolean,
  outcome       text,
  detail        text,
  attachments   text[] NOT NULL DEFAULT '{}',
  answered_by   text,
  UNIQUE (complaint_id, kind, facility_id)
);
