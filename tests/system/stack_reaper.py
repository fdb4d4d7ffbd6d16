"""The watchdog of one test Stack (stack.py starts it first, in a session of its own).

    python stack_reaper.py <state_dir>      stdin: the read end of a pipe only the Stack's
                                            process holds the write end of

It waits for its stdin to end. Stack.close() writes "done" first: the stack has been stopped
in order and there is nothing to do. When stdin ends without it, the process that started the
stack died without its teardown (pytest SIGKILLed, an OOM kill, a killed `timeout`): then this
stops everything the stack started and removes the state directory (kept with
CP_TEST_KEEP_STATE=1), so no Kafka JVM, PostgreSQL, nginx or cp-* service outlives it.

What belongs to the stack is found without the dead parent: the processes whose command line
names the state directory (PostgreSQL's -D, the broker's server.properties, nginx's -c, the
notification receiver's --state), the ones listed in <state_dir>/pids/*.pid ("pid starttime",
the services, whose command line names nothing), and the children of all of those (nginx's
workers, PostgreSQL's backends). A pid is only signalled while its start time is still the one
seen, so a recycled pid is never hit.

Daemons (PostgreSQL, nginx, Kafka) detach into sessions of their own, so a process group or
PR_SET_PDEATHSIG on the harness's children would not reach them; this process outlives the
parent precisely to do it."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path

GRACE_S = 10.0  # for the gentle signal before SIGKILL
ROUNDS = 5      # a start-up script killed mid-way may still start a daemon: look again


def start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (clock ticks after boot), None when there is no such pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[19]


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[1])


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def names(command: str, state: Path) -> bool:
    """Whether a command line names the state directory or a path inside it."""
    root = str(state)
    return any(word == root or word.startswith(root + "/") or word.startswith("-D" + root)
               or ("=" + root + "/") in word for word in command.split())


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def stack_processes(state: Path) -> dict[int, str]:
    """pid -> start time of every live process of the stack in state, children included."""
    me, found = os.getpid(), {}
    for pid in all_pids():
        if pid != me and names(cmdline(pid), state):
            found[pid] = start_time(pid)
    for f in (state / "pids").glob("*.pid"):
        try:
            pid, started = f.read_text().split()
        except (OSError, ValueError):
            continue
        if start_time(int(pid)) == started:
            found[int(pid)] = started
    for pid in all_pids():  # one level of children is all the daemons have
        if parent_of(pid) in found:
            found[pid] = start_time(pid)
    return {pid: started for pid, started in found.items() if started is not None}


def signal_if_same(pid: int, started: str, sig: int):
    if start_time(pid) == started:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def gentle_signal(pid: int) -> int:
    # PostgreSQL's immediate shutdown (its backends go with it); SIGTERM stops the rest,
    # nginx's master taking its workers along
    return signal.SIGQUIT if " -D " in cmdline(pid) and "postgres" in cmdline(pid) \
        else signal.SIGTERM


def reap(state: Path) -> int:
    """Stops the stack's processes: the gentle signal, then SIGKILL after GRACE_S. Returns how
    many were found."""
    procs = stack_processes(state)
    for pid, started in procs.items():
        signal_if_same(pid, started, gentle_signal(pid))
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline and any(start_time(p) == s for p, s in procs.items()):
        time.sleep(0.2)
    for pid, started in procs.items():
        signal_if_same(pid, started, signal.SIGKILL)
    return len(procs)


def main(argv: list[str]) -> int:
    state = Path(argv[1]).resolve()
    told = sys.stdin.buffer.read()
    if told.startswith(b"done"):
        return 0
    print(f"stack_reaper: the stack's parent ended without stopping it; stopping {state}",
          file=sys.stderr, flush=True)
    for _ in range(ROUNDS):
        if reap(state) == 0:
            break
        time.sleep(1.0)
    if os.environ.get("CP_TEST_KEEP_STATE") != "1":
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    # the terminal's Ctrl-C and hang-up belong to the harness; this process must outlive it
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    sys.exit(main(sys.argv))
