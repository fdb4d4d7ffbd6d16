-- pgbench script (make bench): the set-based SQL baseline of tracking ingest. One transaction
-- stores 1,000 scans (200 parcels x 5 scans) with the durable writes the three consumers of
-- parcel.tracking.v1 make for them: evidence's dedup key (scan_keys), the partitioned scan row
-- with its index, the parcel summary upsert; intake's pickup upsert; classification's latest-
-- scan upsert. Rows are generated in SQL (generate_series), so this is what PostgreSQL on this
-- machine can durably store with synchronous_commit on; the bench runs it with 2 clients.
\set blk random(1, 2000000000)
BEGIN;
WITH b AS (
  SELECT 'BASELINE'::text AS carrier, 'BL' || :client_id || '-' || :blk || '-' || g AS scan_id,
         'BL' || :client_id || '-' || :blk || 'W' || (g / 5) AS waybill_no,
         (ARRAY['picked_up','departed','arrived','out_for_delivery','delivered'])[g % 5 + 1] AS code,
         (ARRAY['O1','O1','SC1','O2','O2'])[g % 5 + 1] AS facility_id,
         (ARRAY['outlet','outlet','sorting_centre','outlet','outlet'])[g % 5 + 1] AS facility_type,
         CASE WHEN g % 5 IN (0, 3, 4) THEN 'C1' ELSE '' END AS courier_id,
         now() - interval '6 hours' + (g % 5) * interval '1 hour' AS t
  FROM generate_series(0, 999) g),
k AS (INSERT INTO evidence.scan_keys (carrier, scan_id) SELECT carrier, scan_id FROM b
      ON CONFLICT DO NOTHING RETURNING carrier, scan_id),
s AS (INSERT INTO evidence.scans (carrier, scan_id, waybill_no, code, facility_id, facility_type,
                                  courier_id, occurred_at)
      SELECT b.carrier, b.scan_id, b.waybill_no, b.code, b.facility_id, b.facility_type,
             b.courier_id, b.t FROM b JOIN k USING (carrier, scan_id)
      RETURNING waybill_no, code, facility_id, facility_type, courier_id, occurred_at)
INSERT INTO evidence.parcels AS p (waybill_no, carrier, scan_count, first_scan_at, last_scan_at,
  last_code, last_facility_id, last_facility_type, courier_id, delivered, delivered_at, final)
SELECT waybill_no, 'BASELINE', count(*), min(occurred_at), max(occurred_at),
       (array_agg(code ORDER BY occurred_at DESC))[1],
       (array_agg(facility_id ORDER BY occurred_at DESC))[1],
       (array_agg(facility_type ORDER BY occurred_at DESC))[1],
       COALESCE((array_agg(courier_id ORDER BY occurred_at DESC)
                 FILTER (WHERE courier_id <> ''))[1], ''),
       bool_or(code = 'delivered'), min(occurred_at) FILTER (WHERE code = 'delivered'),
       bool_or(code = 'delivered')
FROM s GROUP BY waybill_no
ON CONFLICT (waybill_no) DO UPDATE SET scan_count = p.scan_count + EXCLUDED.scan_count,
  last_scan_at = GREATEST(p.last_scan_at, EXCLUDED.last_scan_at), updated_at = now();
INSERT INTO intake.pickups (waybill_no, picked_up_at)
SELECT 'BL' || :client_id || '-' || :blk || 'W' || w, now() - interval '6 hours'
FROM generate_series(0, 199) w
ON CONFLICT (waybill_no) DO UPDATE SET picked_up_at = LEAST(pickups.picked_up_at,
  EXCLUDED.picked_up_at), updated_at = now();
INSERT INTO classification.parcel_positions AS pp (waybill_no, code, facility_id, facility_type,
  city, occurred_at)
SELECT 'BL' || :client_id || '-' || :blk || 'W' || w, 5, 'O2', 'outlet', '',
       now() - interval '2 hours'
FROM generate_series(0, 199) w
ON CONFLICT (waybill_no) DO UPDATE SET code = EXCLUDED.code, occurred_at = EXCLUDED.occurred_at,
  updated_at = now() WHERE pp.occurred_at <= EXCLUDED.occurred_at;
COMMIT;
