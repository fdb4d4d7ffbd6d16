"""The chaos battery runs on the system tests' harness (tests/system/stack.py, its docstring has
the API), on a stack of its own: it kills the broker and PostgreSQL, which no other test may
share. `make chaos` (tests/run.sh chaos) runs it; `make test` runs it as a layer of its own."""

import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "system"))

from stack import Stack  # noqa: E402

# a SIGTERM (the layer's `timeout`) runs the teardown instead of leaving the servers behind
signal.signal(signal.SIGTERM, signal.default_int_handler)


@pytest.fixture(scope="module")
def stack(request):
    s = Stack.start()
    yield s
    s.close(failed=request.session.testsfailed > 0)
