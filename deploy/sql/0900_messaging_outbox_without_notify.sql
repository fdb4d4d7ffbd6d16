-- messaging: the outbox tables lose their NOTIFY trigger (issue 14). A transaction that
-- NOTIFYs takes one cluster-wide lock from before its commit record until that record is
-- flushed (PostgreSQL's async.c serialises notifying commits so the queue stays in commit
-- order), so every outbox-writing commit of every service waited for the previous one's fsync:
-- no group commit. pgbench of intake's own transaction spent most of its time in "Lock:
-- object" and ran at a third of its rate without the trigger. The writing process now wakes
-- its own relay after the commit (common/outbox.c) and every relay also looks every 500 ms.
-- Runs as the migration role like 0001: it owns public.cp_create_messaging, and dropping a
-- trigger creates nothing a service role would have to own.
CREATE OR REPLACE FUNCTION public.cp_create_messaging(s text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($f$
    CREATE TABLE IF NOT EXISTS %1$I.outbox (
      id         bigserial PRIMARY KEY,
      ce_id      uuid NOT NULL UNIQUE,
      ce_type    text NOT NULL,
      ce_source  text NOT NULL,
      ce_time    text NOT NULL,
      topic      text NOT NULL,
      msg_key    text NOT NULL,
      payload    bytea NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      sent_at    timestamptz,
      attempts   integer NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS outbox_unsent ON %1$I.outbox (id) WHERE sent_at IS NULL;
    CREATE INDEX IF NOT EXISTS outbox_sent_at ON %1$I.outbox (sent_at) WHERE sent_at IS NOT NULL;
    DROP TRIGGER IF EXISTS outbox_notify ON %1$I.outbox;
    CREATE TABLE IF NOT EXISTS %1$I.inbox (
      ce_source  text NOT NULL,
      ce_id      text NOT NULL,
      topic      text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (ce_source, ce_id)
    );
  $f$, s);
END $$;

DO $$
DECLARE
  s text;
BEGIN
  FOR s IN SELECT c.relnamespace::regnamespace::text FROM pg_trigger t
           JOIN pg_class c ON c.oid = t.tgrelid
           WHERE t.tgname = 'outbox_notify' AND c.relname = 'outbox' LOOP
    EXECUTE format('DROP TRIGGER outbox_notify ON %s.outbox', s);
  END LOOP;
END $$;
