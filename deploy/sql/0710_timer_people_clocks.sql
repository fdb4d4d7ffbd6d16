-- timer: the clocks that time people (accept, whole_cycle, next_update besides the others),
-- working calendars (operator data), and the columns that let a clock keep the time it has
-- used and paused when its policy or calendar changes mid-way.
SET LOCAL ROLE timer;
SET LOCAL search_path = timer, public;

-- A working calendar: one fixed UTC offset (per outlet/region time zone; China has no DST),
-- one working window per weekday, and dated exceptions. A policy names the calendar in
-- ComplaintClassified.calendar and lists the clocks that run on it in working_time_clocks.
CREATE TABLE calendars (
  name           text PRIMARY KEY,
  utc_offset_min integer NOT NULL CHECK (utc_offset_min BETWEEN -840 AND 840),
  description    text NOT NULL DEFAULT ''
);

-- Working hours per ISO weekday (1 Monday .. 7 Sunday), local minutes after midnight,
-- [start_min, end_min). A weekday without a row has no working time.
CREATE TABLE calendar_hours (
  calendar  text NOT NULL REFERENCES calendars (name) ON DELETE CASCADE,
  weekday   integer NOT NULL CHECK (weekday BETWEEN 1 AND 7),
  start_min integer NOT NULL CHECK (start_min BETWEEN 0 AND 1439),
  end_min   integer NOT NULL CHECK (end_min BETWEEN 1 AND 1440),
  PRIMARY KEY (calendar, weekday),
  CHECK (end_min > start_min)
);

-- Dated exceptions, local dates: a public holiday (working = false) has no working time
-- whatever the weekday; a make-up working day (调休, working = true) works its own window even
-- on a Saturday or Sunday.
CREATE TABLE calendar_days (
  calendar  text NOT NULL REFERENCES calendars (name) ON DELETE CASCADE,
  day       date NOT NULL,
  working   boolean NOT NULL,
  start_min integer CHECK (start_min BETWEEN 0 AND 1439),
  end_min   integer CHECK (end_min BETWEEN 1 AND 1440),
  note      text NOT NULL DEFAULT '',
  PRIMARY KEY (calendar, day),
  CHECK (NOT working OR (start_min IS NOT NULL AND end_min > start_min))
);

INSERT INTO calendars (name, utc_offset_min, description) VALUES
  ('cn-mainland', 480, 'China mainland offices: Mon-Fri 09:00-18:00 Beijing time, State Council holidays and make-up days'),
  ('24x7', 0, 'always working: a working-time clock on it counts calendar time');

INSERT INTO calendar_hours (calendar, weekday, start_min, end_min)
SELECT 'cn-mainland', d, 540, 1080 FROM generate_series(1, 5) d
UNION ALL
SELECT '24x7', d, 0, 1440 FROM generate_series(1, 7) d;

-- The 2026 public holidays and make-up working days as published by the State Council
-- (General Office notice of November 2025 on the 2026 holiday arrangement), written down from
-- that notice as remembered, NOT copied from it: an operator should check every date against
-- the notice before relying on it. Least certain: the Labour Day make-up Saturday (9 May) and
-- the National Day make-up Sunday (20 September).
INSERT INTO calendar_days (calendar, day, working, start_min, end_min, note) VALUES
  ('cn-mainland', '2026-01-01', false, NULL, NULL, '元旦'),
  ('cn-mainland', '2026-01-02', false, NULL, NULL, '元旦'),
  ('cn-mainland', '2026-01-03', false, NULL, NULL, '元旦'),
  ('cn-mainland', '2026-01-04', true, 540, 1080, '元旦调休上班 (Sunday)'),
  ('cn-mainland', '2026-02-14', true, 540, 1080, '春节调休上班 (Saturday)'),
  ('cn-mainland', '2026-02-15', false, NULL, NULL, '春节'),
  ('cn-mainland', '2026-02-16', false, NULL, NULL, '春节'),
  ('cn-mainland', '2026-02-17', false, NULL, NULL, '春节'),
  ('cn-mainland', '2026-02-18', false, NULL, NULL, '春节'),
  ('cn-mainland', '2026-02-19', false, NULL, NULL, '春节'),
  ('cn-mainland', '2026-02-20', false, NULL, NULL, '春节'),
  ('cn-mainland', '2026-02-21', false, NULL, NULL, '春节'),
  ('cn-mainland', '2026-02-22', false, NULL, NULL, '春节'),
  ('cn-mainland', '2026-02-23', false, NULL, NULL, '春节'),
  ('cn-mainland', '2026-02-28', true, 540, 1080, '春节调休上班 (Saturday)'),
  ('cn-mainland', '2026-04-04', false, NULL, NULL, '清明节'),
  ('cn-mainland', '2026-04-05', false, NULL, NULL, '清明节'),
  ('cn-mainland', '2026-04-06', false, NULL, NULL, '清明节'),
  ('cn-mainland', '2026-05-01', false, NULL, NULL, '劳动节'),
  ('cn-mainland', '2026-05-02', false, NULL, NULL, '劳动节'),
  ('cn-mainland', '2026-05-03', false, NULL, NULL, '劳动节'),
  ('cn-mainland', '2026-05-04', false, NULL, NULL, '劳动节'),
  ('cn-mainland', '2026-05-05', false, NULL, NULL, '劳动节'),
  ('cn-mainland', '2026-05-09', true, 540, 1080, '劳动节调休上班 (Saturday; check)'),
  ('cn-mainland', '2026-06-19', false, NULL, NULL, '端午节'),
  ('cn-mainland', '2026-06-20', false, NULL, NULL, '端午节'),
  ('cn-mainland', '2026-06-21', false, NULL, NULL, '端午节'),
  ('cn-mainland', '2026-09-20', true, 540, 1080, '国庆节调休上班 (Sunday; check)'),
  ('cn-mainland', '2026-09-25', false, NULL, NULL, '中秋节'),
  ('cn-mainland', '2026-09-26', false, NULL, NULL, '中秋节'),
  ('cn-mainland', '2026-09-27', false, NULL, NULL, '中秋节'),
  ('cn-mainland', '2026-10-01', false, NULL, NULL, '国庆节'),
  ('cn-mainland', '2026-10-02', false, NULL, NULL, '国庆节'),
  ('cn-mainland', '2026-10-03', false, NULL, NULL, '国庆节'),
  ('cn-mainland', '2026-10-04', false, NULL, NULL, '国庆节'),
  ('cn-mainland', '2026-10-05', false, NULL, NULL, '国庆节'),
  ('cn-mainland', '2026-10-06', false, NULL, NULL, '国庆节'),
  ('cn-mainland', '2026-10-07', false, NULL, NULL, '国庆节'),
  ('cn-mainland', '2026-10-10', true, 540, 1080, '国庆节调休上班 (Saturday)');

-- The policy's new clocks and calendar, and the first offer (the accept clock starts there).
ALTER TABLE cases
  ADD COLUMN accept_s            integer NOT NULL DEFAULT 0,
  ADD COLUMN whole_cycle_s       integer NOT NULL DEFAULT 0,
  ADD COLUMN next_update_s       integer NOT NULL DEFAULT 0,
  ADD COLUMN working_time_clocks text[] NOT NULL DEFAULT '{}',
  ADD COLUMN calendar            text NOT NULL DEFAULT '',
  ADD COLUMN offered_at          timestamptz;

-- A clock counts in segments (services/timer/sla.h): used_ms counted before counted_from, the
-- open segment's start; level_base_ms is used_ms when the current escalation level began.
-- calendar: the working calendar the clock runs on, NULL for calendar time.
ALTER TABLE clocks
  ADD COLUMN calendar      text,
  ADD COLUMN used_ms       bigint NOT NULL DEFAULT 0,
  ADD COLUMN counted_from  timestamptz,
  ADD COLUMN level_base_ms bigint NOT NULL DEFAULT 0;
-- Rows written before: keep their due times (a running clock counts from due - duration, a
-- paused one has used what its due time leaves).
UPDATE clocks SET counted_from = CASE
    WHEN state = 'paused' THEN paused_at
    WHEN state = 'running' THEN due_at - make_interval(secs => duration_s)
    ELSE coalesce(stopped_at, due_at) END,
  used_ms = CASE
    WHEN state = 'paused' THEN greatest(0, duration_s * 1000::bigint
                                 - (extract(epoch FROM due_at - paused_at) * 1000)::bigint)
    WHEN state = 'running' THEN 0
    ELSE greatest(0, (extract(epoch FROM coalesce(stopped_at, due_at) - started_at) * 1000)::bigint
                     - paused_ms) END;
ALTER TABLE clocks ALTER COLUMN counted_from SET NOT NULL;
