-- Shared building blocks, owned by the migration role. Every service schema gets the same
-- outbox and inbox through public.cp_create_messaging(schema), called from its own migration
-- under its own role (SET LOCAL ROLE), so the tables belong to the service.

CREATE OR REPLACE FUNCTION public.cp_outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- One notification per statement; NOTIFY is delivered at commit and collapsed per tx.
  PERFORM pg_notify('outbox_' || TG_TABLE_SCHEMA, '');
  RETURN NULL;
END $$;

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
    CREATE TRIGGER outbox_notify AFTER INSERT ON %1$I.outbox
      FOR EACH STATEMENT EXECUTE FUNCTION public.cp_outbox_notify();
    CREATE TABLE IF NOT EXISTS %1$I.inbox (
      ce_source  text NOT NULL,
      ce_id      text NOT NULL,
      topic      text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (ce_source, ce_id)
    );
  $f$, s);
END $$;
