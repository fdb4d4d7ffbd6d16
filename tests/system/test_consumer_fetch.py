"""Whose consumer fetch is answered at the first event (issue 14, README "Benchmark"): only
follow-up's, on which the customer's acknowledgement waits. Every other service's consumer is
paced (64 KiB or 100 ms): the broker completes a fetch answered at the first event on the
request thread of every produce that appends one, so each such consumer of a topic added work
to every produce to it (common/svc.c, README "Benchmark")."""

from stack import SERVICES


def test_only_followup_fetches_at_the_first_event(stack):
    modes = {}
    for name in SERVICES:
        seen = [r.get("fetch") for r in stack.log_records(name)
                if r.get("event") == "consumer_fetch"]
        assert seen, f"{name} logged no consumer_fetch line at start"
        modes[name] = seen[-1]
    assert modes == {name: "prompt" if name == "followup" else "paced" for name in SERVICES}
