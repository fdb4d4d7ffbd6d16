-- pgbench script (make bench): the timer storm's SQL baseline. Claims up to 500 due clocks
-- (the timer's own claim: running, due, oldest first, FOR UPDATE SKIP LOCKED), escalates them
-- one level and re-arms them (the timer's update), and writes their two events (the breach and
-- the clock's snapshot) to an outbox table, in one transaction; run against bench_timer (a copy of timer.clocks and timer.outbox
-- filled with 100,000 due clocks by the bench) so the running timer does not see them.
WITH c AS (SELECT complaint_id, clock FROM bench_timer.clocks WHERE state = 'running'
           AND due_at <= now() ORDER BY due_at LIMIT 500 FOR UPDATE SKIP LOCKED),
u AS (UPDATE bench_timer.clocks k SET escalation_level = k.escalation_level + 1,
        due_at = now() + interval '1 day', warned = false
      FROM c WHERE k.complaint_id = c.complaint_id AND k.clock = c.clock
      RETURNING k.complaint_id, k.clock, k.complaint_no, k.due_at)
INSERT INTO bench_timer.outbox (ce_id, ce_type, ce_source, ce_time, topic, msg_key, payload)
SELECT gen_random_uuid(), e.type, '/cp/timer', now()::text, 'complaint.sla.v1',
       complaint_id::text, convert_to(complaint_no || clock || due_at::text || repeat('x', 120),
       'UTF8')
FROM u CROSS JOIN (VALUES ('cp.complaint.sla_breached'), ('cp.complaint.clock_changed')) e (type);
