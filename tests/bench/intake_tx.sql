-- pgbench script (make bench): intake's own transaction for POST /v1/complaints (a new case),
-- statement by statement as services/intake/api.c runs it: the idempotency key's lock and
-- lookup, the customer+waybill lock, the open-case, filing-window, proactive-case and
-- recent-closed lookups, the number's day, the complaint, its timeline row, its outbox event
-- (marked sent, so intake's relay does not publish it) and the idempotency key. What the HTTP
-- figure is compared with: the same database work without HTTP, nginx, JSON or the service.
\set n random(1, 2000000000)
BEGIN;
SELECT pg_advisory_xact_lock(hashtextextended('bench-' || :client_id || '-' || :n, 42));
SELECT i.request_hash, c.id FROM intake.idempotency_keys i JOIN intake.complaints c ON c.id = i.complaint_id WHERE i.key = 'bench-' || :client_id || '-' || :n;
SELECT pg_advisory_xact_lock(hashtextextended('cust_bench/PB' || :client_id || '-' || :n, 7));
SELECT id, complaint_no, repeat_count FROM intake.complaints WHERE waybill_no = 'PB' || :client_id || '-' || :n AND complainant_phone = '13800000000' AND status NOT IN ('closed', 'merged', 'withdrawn') ORDER BY received_at DESC LIMIT 1 FOR UPDATE;
SELECT picked_up_at FROM intake.pickups WHERE waybill_no = 'PB' || :client_id || '-' || :n;
SELECT pg_advisory_xact_lock(hashtextextended('proactive/PB' || :client_id || '-' || :n, 7));
SELECT id FROM intake.complaints WHERE waybill_no = 'PB' || :client_id || '-' || :n AND channel = 'proactive' AND status NOT IN ('closed', 'merged', 'withdrawn');
SELECT id FROM intake.complaints WHERE waybill_no = 'PB' || :client_id || '-' || :n AND type = 'damage' AND status = 'closed' AND closed_at > now() - make_interval(days => 30) ORDER BY closed_at DESC LIMIT 1;
SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD') AS day \gset
INSERT INTO intake.complaints (id, complaint_no, channel, waybill_no, customer_ref, complainant_name, complainant_phone, role, language, preferred_contact, description, type, impact, demand, attachments, priority, is_repeat) VALUES (('00000000-0000-4000-8000-' || lpad(to_hex(:client_id * 4294967296 + :n), 12, '0'))::uuid, 'CPB' || :day || '-' || :client_id || '-' || :n, 'app', 'PB' || :client_id || '-' || :n, 'cust_bench', 'Bench User', '13800000000', 'recipient', 'en', 'sms', 'the parcel arrived damaged, the box was crushed', 'damage', '{"goods":["electronics"],"declared_value_fen":25000}', '{compensation}', '[]', 3, false);
INSERT INTO intake.timeline (complaint_id, step, detail) VALUES (('00000000-0000-4000-8000-' || lpad(to_hex(:client_id * 4294967296 + :n), 12, '0'))::uuid, 'received', jsonb_build_object('channel', 'app', 'entered_by', 'customer'));
INSERT INTO intake.outbox (ce_id, ce_type, ce_source, ce_time, topic, msg_key, payload, sent_at) VALUES (gen_random_uuid(), 'bench.baseline', '/bench', now()::text, 'bench.baseline', 'k', convert_to(repeat('x', 400), 'UTF8'), now());
INSERT INTO intake.idempotency_keys (key, request_hash, complaint_id, status) VALUES ('bench-' || :client_id || '-' || :n, md5(:n::text), ('00000000-0000-4000-8000-' || lpad(to_hex(:client_id * 4294967296 + :n), 12, '0'))::uuid, 201);
COMMIT;
