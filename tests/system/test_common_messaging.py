"""The outbox/inbox SQL and the outbox relay against the real PostgreSQL server: runs the C unit
test binary test_common_messaging with CP_TEST_DATABASE_URL, which registers its PostgreSQL cases
(outbox row commits or rolls back with the change, inbox claims once, the relay marks a row sent
only after its delivery report — with Kafka faults from librdkafka's mock cluster — and
HTTP routes served on worker threads keep their method)."""

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
    # 3 checks without a database (mock cluster, the JSON 405) + 5 on PostgreSQL: fewer means
    # the PostgreSQL cases were skipped
    assert checks == 8, run.stdout[-2000:]
    assert (failures, errors) == (0, 0), run.stdout[-3000:]
    assert run.returncode == 0
