"""Timer: deadlines live in PostgreSQL — two timer instances firing the same due clocks never
fire one twice, and a timer that was down fires every clock that fell due at once when it
comes back."""

import collections
import subprocess
import time

from stack import bin_dir, free_ports, http_status, wait_for
from timer_helpers import SLA_TOPIC, classify, new_id, parse_iso, sla_event

import pytest


def breaches_by_clock(stack, messages, ids):
    per = collections.Counter()
    for m in messages:
        if m.key in ids and m.headers.get("ce_type") == "cp.complaint.sla_breached":
            ev = sla_event(stack, m)
            per[(m.key, ev.clock, ev.escalation_level)] += 1
    return per


def wait_all_clocks(stack, ids, count_per_id, timeout=20):
    conn = stack.db()

    def ready():
        n = conn.execute("SELECT count(*) FROM timer.clocks WHERE complaint_id = ANY(%s::uuid[])",
                         (ids,)).fetchone()[0]
        return n == len(ids) * count_per_id

    wait_for(ready, timeout, f"{len(ids) * count_per_id} clocks")


@pytest.fixture
def second_timer(stack):
    """A second cp-timer process beside the stack's, on its own port, ticking fast."""
    port = free_ports(1)[0]
    log = open(stack.state_dir / "timer-t2.log", "a")
    env = stack.env_for("timer", HTTP_PORT=str(port), INSTANCE_ID="t2", TIMER_TICK_MS="50",
                        TIMER_BATCH="5")
    proc = subprocess.Popen([str(bin_dir() / "cp-timer")], env=env, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    stack.adopt("timer-t2", proc)
    try:
        wait_for(lambda: proc.poll() is not None or
                 http_status(f"http://127.0.0.1:{port}/readyz") == 200, 60, "second timer ready")
        assert proc.poll() is None, "the second timer exited at start-up"
        yield stack.state_dir / "timer-t2.log"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def test_two_instances_never_fire_a_clock_twice(stack, second_timer):
    ids = []
    with stack.service_env("timer", TIMER_TICK_MS="50", TIMER_BATCH="5"):
        with stack.consumer(SLA_TOPIC, from_beginning=False) as reader:
            # 60 complaints, two clocks each, all due at the same instant
            at = time.time()
            for _ in range(60):
                cid, no = new_id()
                ids.append(cid)
                classify(stack, cid, no, durations=(3, 0, 0, 3), at=at)
            wait_all_clocks(stack, ids, 3)  # and whole_cycle
            expected = {(cid, clock, level) for cid in ids
                        for clock in ("first_response", "regulatory") for level in (1, 2, 3)}

            def all_fired():
                reader.collect(timeout=0.5)
                return set(breaches_by_clock(stack, reader.messages, set(ids))) >= expected

            wait_for(all_fired, 40, "every breach of every level")
            reader.collect(timeout=2)  # anything fired twice would arrive by now
        per = breaches_by_clock(stack, reader.messages, set(ids))
        t2_log = second_timer.read_text(errors="replace")
        t1_log = stack.logs("timer")
    assert set(per) == expected
    doubles = {k: n for k, n in per.items() if n != 1}
    assert doubles == {}, doubles
    # both instances did some of the firing
    assert '"sla_breach"' in t2_log
    assert '"sla_breach"' in t1_log


def test_after_a_restart_every_clock_that_fell_due_fires_at_once(stack):
    ids = []
    with stack.consumer(SLA_TOPIC, from_beginning=False) as reader:
        at = time.time()
        for _ in range(20):
            cid, no = new_id()
            ids.append(cid)
            # the regulatory clock: only cp.complaint.closed stops it, which nobody sends here
            classify(stack, cid, no, durations=(0, 0, 0, 4), at=at)
        wait_all_clocks(stack, ids, 2)  # and whole_cycle
        stack.stop_service("timer")
        try:
            time.sleep(max(0.0, at + 6 - time.time()))  # every clock is now 2 s overdue
            down = [m for m in reader.collect(timeout=0.2) if m.key in ids]
        finally:
            stack.start_service("timer")
        up = time.time()

        def all_fired():
            reader.collect(timeout=0.3)
            return len(breaches_by_clock(stack, reader.messages, set(ids))) >= len(ids)

        wait_for(all_fired, 15, "the overdue breaches")
        fired = time.time() - up
        reader.collect(timeout=1)
    per = breaches_by_clock(stack, reader.messages, set(ids))
    assert not [m for m in down if m.headers.get("ce_type") == "cp.complaint.sla_breached"]
    # one breach each, at level 1 (an overdue clock escalates once, it does not cascade)
    assert per == {(cid, "regulatory", 1): 1 for cid in ids}, per
    assert fired < 5, f"the overdue clocks took {fired:.1f}s after the start to fire"


def test_a_clock_due_within_the_tick_fires_at_its_due_time_not_at_the_next_tick(stack):
    """The firing task sleeps until the next due clock when it falls due within the tick (the
    steady-state lateness was up to a tick): with a one-minute tick, clocks due 15 and 20 s
    from now fire at their due times. Without that they would wait for the tick, a minute after
    the restart, and the wait below would run out."""
    ids = []
    with stack.consumer(SLA_TOPIC, from_beginning=False) as reader:
        at = time.time()
        for regulatory_s in (15, 20):
            cid, no = new_id()
            ids.append(cid)
            classify(stack, cid, no, durations=(0, 0, 0, regulatory_s), at=at)
        wait_all_clocks(stack, ids, 2)  # and whole_cycle
        # restarted with the clocks in place: its first round sees them due within the tick
        with stack.service_env("timer", TIMER_TICK_MS="60000"):
            restarted = time.time() - at
            # a restart slower than this would leave both overdue: fired at once at the start,
            # which shows nothing about the wait
            assert restarted < 14, f"the timer took {restarted:.1f} s to restart"

            def first_breaches():
                reader.collect(timeout=0.3)
                return [ev for ev in (sla_event(stack, m) for m in reader.messages
                                      if m.key in ids and m.headers.get("ce_type") ==
                                      "cp.complaint.sla_breached") if ev.escalation_level == 1]

            wait_for(lambda: len(first_breaches()) >= len(ids), 40,
                     "the breaches at their due times")
            breaches = first_breaches()
    assert sorted(parse_iso(b.due_at) - at for b in breaches) == pytest.approx([15, 20],
                                                                               abs=0.01)
    # never before its due time
    assert all(parse_iso(b.fired_at) >= parse_iso(b.due_at) for b in breaches), breaches
