-- timer: the SLA clocks of every complaint. A clock fires at most once per level: due rows
-- are claimed FOR UPDATE SKIP LOCKED, so several timer instances never fire one twice.
SET LOCAL ROLE timer;
SET LOCAL search_path = timer, public;
SELECT public.cp_create_messaging('timer');

CREATE TABLE clocks (
  complaint_id     uuid NOT NULL,
  clock            text NOT NULL,
  complaint_no     text NOT NULL,
  state            text NOT NULL DEFAULT 'running',  -- running, paused, stopped, exhausted
  duration_s       integer NOT NULL,
  started_at       timestamptz NOT NULL,
  due_at           timestamptz NOT NULL,
  warn_at          timestamptz,
  warned           boolean NOT NULL DEFAULT false,
  escalation_level integer NOT NULL DEFAULT 0,
  pausable         boolean NOT NULL DEFAULT false,
  paused_at        timestamptz,
  stopped_at       timestamptz,
  stopped_by       text,
  PRIMARY KEY (complaint_id, clock)
);
-- The hot query: running clocks whose warning or deadline has come.
CREATE INDEX clocks_due ON clocks (due_at) WHERE state = 'running';
CREATE INDEX clocks_warn ON clocks (warn_at) WHERE state = 'running' AND NOT warned;
