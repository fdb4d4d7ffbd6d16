"""The outbox/inbox SQL and the outbox relay against the real PostgreSQL server: runs the C unit
test binary test_common_messaging with CP_TEST_DATABASE_URL, which registers its PostgreSQL cases
(outbox row commits or rolls back with the change, inbox claims once, the relay marks a row sent
only after its delivery report — with Kafka faults from librdkafka's mock cluster — and
HTTP routes served on worker threads keep their method, statements prepared once per connection,
a commit with outbox rows wakes the relay, rows deferred by the consumer's fast path are written
together in order; pipelines: results in order in one round trip, an error aborts the statements
after it and leaves the connection usable, statements prepared once per connection, a broken
connection, outbox rows queued on a pipeline; BEGIN and savepoints sent with the next
statement)."""

import os
import re
import subprocess

from stack import BUILD


def test_outbox_inbox_and_relay_on_real_postgres(stack):
    binary = BUILD / "tests" / "test_common_messaging"
    assert binary.is_file(), f"{binary} is not built (run make)"
    env = {**os.environ, "CP_TEST_DATABASE_URL": stack.admin_url, "CK_FORK": "no"}
    run = subprocess.run([str(binary)], env=env, capture_output=True, text=True, timeout=180)
    summary = re.search(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)", run.stdout)
    assert summary, run.stdout[-2000:] + run.stderr[-2000:]
    checks, failures, errors = map(int, summary.groups())
    # 4 checks without a database (mock cluster, the JSON 405 and 501) + 17 on PostgreSQL:
    # fewer means the PostgreSQL cases were skipped
    assert checks == 21, run.stdout[-2000:]
    assert (failures, errors) == (0, 0), run.stdout[-3000:]
    assert run.returncode == 0


def test_no_outbox_has_a_notify_trigger(stack):
    """A NOTIFY serialises every notifying commit of the cluster through one lock held until its
    WAL is flushed; the outboxes of all six services are written without one (migration 0900)."""
    with stack.db() as db:
        rows = db.execute("SELECT c.relnamespace::regnamespace::text, t.tgname FROM pg_trigger t "
                          "JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relname = 'outbox' AND "
                          "NOT t.tgisinternal").fetchall()
        schemas = {r[0] for r in db.execute(
            "SELECT relnamespace::regnamespace::text FROM pg_class WHERE relname = 'outbox' "
            "AND relkind = 'r'").fetchall()}
    assert rows == []
    assert {"intake", "classification", "evidence", "resolution", "followup", "timer"} <= schemas
