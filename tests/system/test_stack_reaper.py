"""The harness leaves nothing behind when it is killed: a Stack started in a process that is then
SIGKILLed (no teardown, no atexit) is stopped by its watchdog (stack_reaper.py) -- every cp-*
service, the notification receiver, nginx with its workers, the Kafka JVM and PostgreSQL with
its backends -- and its state directory is removed. The processes are found here on their own
(the pids the stack reports, the daemons' pid files, their children), not with the reaper's
search."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from stack import SERVICES

HERE = Path(__file__).resolve().parent

CHILD = f"""
import json, sys, time
sys.path.insert(0, {str(HERE)!r})
from stack import Stack
s = Stack.start()
pids = {{name: p.pid for name, p in s._procs.items()}}
pids["receiver"] = s._receiver.pid
print(json.dumps({{"state": str(s.state_dir), "pids": pids}}), flush=True)
time.sleep(600)
"""


def started(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[19]


def children(pids: set[int]) -> set[int]:
    out = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) in pids:
            out.add(int(entry))
    return out


def read_line(proc, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if ready:
            return proc.stdout.readline()
        if proc.poll() is not None:
            break
    return ""


def test_a_sigkilled_harness_leaves_no_process_and_no_state_dir():
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = read_line(proc, 240)
        if not line:
            proc.kill()
            raise AssertionError(f"the stack did not start:\n{proc.stderr.read()[-5000:]}")
        info = json.loads(line)
        state = Path(info["state"])
        mine = {name: int(pid) for name, pid in info["pids"].items()}
        mine["nginx"] = int((state / "nginx" / "nginx.pid").read_text())
        mine["kafka"] = int((state / "kafka" / "kafka.pid").read_text())
        mine["postgres"] = int((state / "pg" / "data" / "postmaster.pid").read_text().split()[0])
        assert set(mine) == {*SERVICES, "receiver", "nginx", "kafka", "postgres"}
        roots = set(mine.values())
        watched = {pid: started(pid) for pid in roots | children(roots)}
        assert all(watched.values()), f"not all running before the kill: {mine}"
        assert len(watched) > len(roots), "nginx's workers and PostgreSQL's backends are watched"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    # bounded polling, no duration asserted: the reaper gives a gentle signal time first
    alive = set(watched)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (alive or state.exists()):
        time.sleep(0.5)
        alive = {pid for pid, st in watched.items() if started(pid) == st}
    left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes()[:120] for pid in alive
            if Path(f"/proc/{pid}/cmdline").exists()}
    assert not alive, f"still running after the harness was killed: {left}"
    assert not state.exists(), f"{state} was not removed"
