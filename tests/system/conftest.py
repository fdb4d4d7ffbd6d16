"""Fixtures of the system tests; the harness itself is stack.py (its docstring has the API).

    stack           one Stack for the whole session (PostgreSQL, Kafka, nginx, six services)
    make_stack      factory for an extra Stack with different start-up environment, e.g.
                    make_stack(timer={"SLA_FIRST_RESPONSE_SECONDS": "2"}); costs ~15 s, so prefer
                    stack.restart_service(...) or `with stack.service_env(...)`
    http            a requests.Session with a default timeout of 10 s
"""

import os
import signal
import sys

import pytest
import requests

from stack import Stack

# Let a SIGTERM (for example from `timeout` in tests/run.sh) run the fixture teardown instead
# of leaving PostgreSQL and Kafka behind.
signal.signal(signal.SIGTERM, signal.default_int_handler)


def _session_failed(request) -> bool:
    return request.session.testsfailed > 0


@pytest.fixture(scope="session")
def stack(request):
    s = Stack.start()
    yield s
    s.close(failed=_session_failed(request))


@pytest.fixture(scope="session")
def make_stack(request):
    made = []

    def make(**service_env):
        s = Stack.start(service_env)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close(failed=_session_failed(request))


class _TimeoutSession(requests.Session):
    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", 10)
        return super().request(*args, **kwargs)


@pytest.fixture
def http():
    with _TimeoutSession() as session:
        yield session


def pytest_report_header(config):
    return [f"cp: binaries from {os.environ.get('CP_BIN', 'build/bin')}, python {sys.version.split()[0]}"]
