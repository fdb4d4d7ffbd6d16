"""The system under test, started for real: PostgreSQL, Kafka, nginx and the six service binaries.

A Stack lives in a fresh temporary state directory and uses free ports, so it never touches a
`make run` instance. Everything it starts is stopped by `close()` (also registered with atexit);
if the process dies without it (SIGKILL, OOM), a watchdog started with the stack
(stack_reaper.py) stops every process of it and removes the state directory.

    stack = Stack.start()                     # or the `stack` pytest fixture (conftest.py)
    requests.get(stack.base_url + "/v1/complaints")
    stack.restart_service("timer", SLA_FIRST_RESPONSE_SECONDS="2")
    with stack.consumer(["complaint.received.v1"], from_beginning=False) as c:
        stack.produce("parcel.tracking.v1", "P1", payload, stack.ce_headers("parcel.tracking.v1"))
        msg = c.poll_until(lambda m: m.key == "P1", timeout=10)

API
    base_url                      nginx, the front door: http://127.0.0.1:<port>
    service_url(name)             a service's own address: http://127.0.0.1:<HTTP_PORT>
    env_for(name, **overrides)    the environment a service is started with (contract + overrides)
    start_service(name, **env)    start a service with these overrides (replacing earlier ones) and
                                  wait for its /readyz
    stop_service(name, sig=SIGTERM, timeout=10)
                                  signal it and return its exit status (SIGKILL after timeout, then
                                  StackError)
    kill_service(name)            SIGKILL, returns the exit status
    restart_service(name, **env)  stop (SIGTERM) and start; no overrides means the defaults again
    service_env(name, **env)      context manager: restart with overrides, restore defaults after
    adopt(name, proc)             a process the test started beside the stack (another instance):
                                  the watchdog stops it too should the harness die
    logs(name, stderr=False)      text of the service's stdout (JSON lines) or stderr log
    log_records(name)             the stdout log parsed as JSON, lines that are not JSON skipped
    db()                          new psycopg connection, superuser, database complaints, autocommit
    produce(topic, key, value, headers)
                                  produce one message and wait for its delivery (raises on error)
    consumer(topics, from_beginning=True)
                                  a TopicReader (see below); from_beginning=False reads only what is
                                  produced after this call returns
    dump(topics)                  every record of the topics up to each partition's end as it is
                                  now (a list of Message)
    ce_headers(ce_type, source="test", id=None)
                                  CloudEvents binary-mode headers for a protobuf payload
    proto                         the generated modules from build/gen/py: stack.proto.complaint_pb2,
                                  or a message class by name: stack.proto.ComplaintReceived
    admin_url, bootstrap, ports, state_dir
                                  the raw facts, for tests that need them
    auth(role)                    {"Authorization": "Bearer <token>"} for a test staff member: role
                                  agent, agent2..agent4, supervisor, supervisor2, admin, integration
                                  (staff ids in TOKENS); every service gets AUTH_TOKENS with them
    receiver_url                  the local notification gateways (deploy/scripts/receiver.py):
                                  follow-up's NOTIFY_<KIND>_URL is receiver_url + "/sms", "/email",
                                  "/app", "/staff_app"
    inbox(to=None)                the messages the receiver stored (every one, or one recipient's:
                                  a customer_ref or "staff:<id>"), each {"notification_id", "to",
                                  "channel", "raw", "timestamp", "signature", "note": payload}
    receiver_stats()              requests per notification id and channel, rejected signatures
    receiver_fail(count, to="")   the receiver answers the next count gateway requests (for that
                                  recipient only, when given) 503
    ready(name) / all_ready()     the service's (every service's) /readyz answers 200 right now
    revive()                      starts every service that is not running (as a supervisor would);
                                  returns their names
    kill_broker()                 SIGKILL the Kafka broker (the crash case); its data stays
    start_broker()                start it again on the same ports; returns when it accepts
                                  connections (kafka.sh's own wait)
    stop_postgres(mode="immediate")
                                  pg_ctl stop -m <mode> (immediate: no shutdown checkpoint, crash
                                  recovery at the next start)
    start_postgres()              start it again on the same port

Environment read here:
    CP_BIN               service binaries (default <repo>/build/bin)
    CP_TEST_LOG_LEVEL    LOG_LEVEL for the services (default debug)
    CP_TEST_KEEP_STATE=1 keep the state directory after close()
    CP_TEST_TMP          parent of the state directory (default the system temp dir)
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import datetime
import importlib
import json
import os
import shutil
import signal
import weakref
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "deploy" / "scripts"
BUILD = ROOT / os.environ.get("BUILD", "build")
GEN_PY = BUILD / "gen" / "py"
SERVICES = ("intake", "classification", "evidence", "resolution", "followup", "timer")
DEFAULT_PORTS = {"intake": 8081, "classification": 8082, "evidence": 8083, "resolution": 8084,
                 "followup": 8085, "timer": 8086}
TOPICS = ("complaint.received.v1", "complaint.classified.v1", "complaint.evidence.v1",
          "complaint.resolution.v1", "complaint.followup.v1", "complaint.sla.v1",
          "parcel.tracking.v1", "parcel.exception.v1", "complaint.evidence_request.v1",
          "complaint.execution.v1", "complaint.deadletter.v1")
READY_TIMEOUT = 90.0
# Staff bearer tokens every service of a test stack accepts (AUTH_TOKENS): role -> (token, staff_id).
# Several agents so routing/accept tests have distinct people.
TOKENS = {
    "agent": ("test-agent-token-0001", "A001"),
    "agent2": ("test-agent-token-0002", "A002"),
    "agent3": ("test-agent-token-0003", "A003"),
    "agent4": ("test-agent-token-0004", "A004"),
    "supervisor": ("test-supervisor-token-01", "S001"),
    "supervisor2": ("test-supervisor-token-02", "S002"),
    "admin": ("test-admin-token-0001", "ADM1"),
    "integration": ("test-integration-token-01", "INT1"),
}
AUTH_TOKENS = ",".join(f"{tok}:{''.join(c for c in role if not c.isdigit())}:{staff}"
                       for role, (tok, staff) in TOKENS.items())
# The session key of a test stack (not a dev-only-* default: test_secrets starts services
# without DEV_MODE) and the first admin classification creates (staff id, password).
SESSION_SECRET = "test-stack-session-secret-6b1d0c2e"
BOOTSTRAP_ADMIN = ("ADM1", "first-admin-password-01")
# passed through to every service so sanitizer builds behave the same under test
PASS_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")


class StackError(RuntimeError):
    """The stack could not be started or a service misbehaved; the message says which and why."""


def bin_dir() -> Path:
    return Path(os.environ.get("CP_BIN", BUILD / "bin"))


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now; all sockets are held until all are chosen."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.1):
    """Polls predicate until it returns something truthy (returned) or timeout (StackError)."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise StackError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The status of GET url, or None when nothing answers."""
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, ValueError):
        return None


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def run_script(args: list[str], env: dict, timeout: float) -> str:
    """Runs one of deploy/scripts; returns its stdout, raises StackError with its output."""
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise StackError(f"{' '.join(args)} timed out after {timeout:.0f}s") from e
    if done.returncode != 0:
        raise StackError(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


def check_binaries():
    """Raises StackError naming every cp-* binary that is not built."""
    missing = [f"cp-{n}" for n in (*SERVICES, "admin") if not (bin_dir() / f"cp-{n}").is_file()]
    if missing:
        raise StackError(f"service binaries not built in {bin_dir()}: {', '.join(missing)} "
                         "(run `make`; the system tests need every C service)")


@dataclasses.dataclass
class Message:
    """One consumed Kafka record. key is str when it is UTF-8, else bytes; headers decoded."""
    topic: str
    partition: int
    offset: int
    key: str | bytes | None
    value: bytes | None
    headers: dict[str, str]
    timestamp: int


def _to_message(raw) -> Message:
    key = raw.key()
    if key is not None:
        try:
            key = key.decode()
        except UnicodeDecodeError:
            pass
    headers = {k: (v.decode(errors="replace") if v is not None else "")
               for k, v in (raw.headers() or [])}
    return Message(raw.topic(), raw.partition(), raw.offset(), key, raw.value(), headers,
                   raw.timestamp()[1])


class TopicReader:
    """Reads topics without a consumer group (partitions assigned directly, so no rebalance wait).

    poll_until(predicate, timeout) -> the first new Message satisfying predicate; raises
        AssertionError naming what was seen when none does in time.
    collect(timeout, min_count=None) -> every Message read until timeout, or as soon as min_count
        have been read.
    messages: every Message read so far. Use as a context manager or call close().
    """

    def __init__(self, bootstrap: str, topics: Iterable[str], from_beginning: bool):
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
        self.topics = list(topics)
        self.messages: list[Message] = []
        self._consumer = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": f"test-reader-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 50,
            "topic.metadata.refresh.interval.ms": 5000,
        })
        meta = self._consumer.list_topics(timeout=10)
        assignment = []
        for topic in self.topics:
            tmeta = meta.topics.get(topic)
            if tmeta is None or tmeta.error is not None:
                self._consumer.close()
                raise StackError(f"topic {topic} does not exist (did cp-admin topics run?)")
            for part in tmeta.partitions:
                if from_beginning:
                    offset = OFFSET_BEGINNING
                else:
                    offset = self._end_offset(TopicPartition(topic, part))
                assignment.append(TopicPartition(topic, part, offset))
        self._consumer.assign(assignment)

    def _end_offset(self, tp, timeout: float = 15.0) -> int:
        """The partition's end; retried while a freshly created topic elects its leader."""
        from confluent_kafka import KafkaException
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._consumer.get_watermark_offsets(tp, timeout=5)[1]
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _poll(self, timeout: float) -> Message | None:
        raw = self._consumer.poll(timeout)
        if raw is None:
            return None
        if raw.error():
            if raw.error().code() == -191:  # _PARTITION_EOF
                return None
            raise StackError(f"consumer error: {raw.error()}")
        msg = _to_message(raw)
        self.messages.append(msg)
        return msg

    def poll_until(self, predicate: Callable[[Message], bool], timeout: float = 15.0) -> Message:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            msg = self._poll(min(0.2, max(0.0, deadline - time.monotonic())))
            if msg is None:
                continue
            seen += 1
            if predicate(msg):
                return msg
        summary = [(m.topic, m.key, m.headers.get("ce_type")) for m in self.messages[-10:]]
        raise AssertionError(f"no matching message on {self.topics} within {timeout}s; "
                             f"{seen} other(s) seen, last ones: {summary}")

    def collect(self, timeout: float = 5.0, min_count: int | None = None) -> list[Message]:
        got: list[Message] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if min_count is not None and len(got) >= min_count:
                break
            msg = self._poll(min(0.2, max(0.0, deadline - time.monotonic())))
            if msg is not None:
                got.append(msg)
        return got

    def close(self):
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Protos:
    """Generated protobuf modules from build/gen/py: attribute `x_pb2` is the module, any other
    attribute is looked up as a message class across all generated modules."""

    def __init__(self, gen_dir: Path):
        self._dir = gen_dir

    def _modules(self):
        if str(self._dir) not in sys.path:
            sys.path.insert(0, str(self._dir))
        for path in sorted(self._dir.glob("*_pb2.py")):
            yield importlib.import_module(path.stem)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        mods = list(self._modules())
        if not mods:
            raise StackError(f"no generated modules in {self._dir}: run tests/run.sh (or protoc "
                             "--python_out=build/gen/py -Iproto proto/*.proto)")
        if name.endswith("_pb2"):
            return importlib.import_module(name)
        for mod in mods:
            if hasattr(mod, name):
                return getattr(mod, name)
        raise AttributeError(f"no module or message named {name} in {self._dir}")


class Stack:
    """See the module docstring for the API."""

    def __init__(self, service_env: dict[str, dict[str, str]] | None = None):
        parent = os.environ.get("CP_TEST_TMP") or None
        self.state_dir = Path(tempfile.mkdtemp(prefix="cp-stack-", dir=parent))
        # the PostgreSQL server runs as another user and must reach its directory
        self.state_dir.chmod(0o755)
        self.log_dir = self.state_dir / "logs"
        self.log_dir.mkdir()
        (self.state_dir / "pids").mkdir()
        self._reaper = self._start_reaper()
        names = ["base", "pg", "kafka", "kafka_controller", "receiver", *SERVICES]
        self.ports = dict(zip(names, free_ports(len(names))))
        self.base_url = f"http://127.0.0.1:{self.ports['base']}"
        self.bootstrap = f"127.0.0.1:{self.ports['kafka']}"
        self.admin_url = f"postgresql://postgres:postgres@127.0.0.1:{self.ports['pg']}/complaints"
        self.receiver_url = f"http://127.0.0.1:{self.ports['receiver']}"
        self._receiver = None
        self.proto = _Protos(GEN_PY)
        self._start_env = {name: dict((service_env or {}).get(name, {})) for name in SERVICES}
        # The product opens a proactive case for every parcel stuck over a day; test parcels
        # with old scans would get one at a sweep that falls at any moment of another test, so
        # the session's evidence runs without it. A test that restarts evidence with its own
        # environment (service_env) gets the product's default back.
        self._start_env["evidence"].setdefault("STUCK_PROACTIVE_CASE", "false")
        self._overrides = {name: dict(self._start_env[name]) for name in SERVICES}
        self._procs: dict[str, subprocess.Popen] = {}
        self._files: dict[str, list] = {}
        # weak: a connection a test dropped is freed (and its server session ended) at once;
        # a list kept every polling connection of the session open until PostgreSQL ran out
        self._conns: weakref.WeakSet = weakref.WeakSet()
        self._producer = None
        self._closed = False
        self._lock = threading.Lock()

    # ---- start-up and teardown -------------------------------------------------------------

    @classmethod
    def start(cls, service_env: dict[str, dict[str, str]] | None = None) -> "Stack":
        """A running stack; service_env maps a service name to extra environment at start."""
        check_binaries()
        stack = cls(service_env)
        atexit.register(stack.close)
        try:
            stack._start_infra()
            stack._run_admin()
            stack._start_nginx()
            stack._start_receiver()
            for name in SERVICES:
                stack._spawn(name)
            for name in SERVICES:
                stack._wait_ready(name)
        except BaseException:
            stack.close(failed=True)
            raise
        return stack

    def _start_reaper(self) -> subprocess.Popen:
        """The watchdog that stops this stack if this process dies without close()
        (stack_reaper.py): it holds the read end of a pipe whose write end only this process
        has, in a session of its own so a signal to the harness's group does not reach it."""
        log = open(self.log_dir / "reaper.log", "a")
        try:
            return subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("stack_reaper.py")),
                 str(self.state_dir)], stdin=subprocess.PIPE, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()

    def _record_pid(self, name: str, pid: int):
        """Lists a process the reaper must stop (one whose command line does not name the state
        directory) with its start time, so a recycled pid is never taken for it."""
        stat = Path(f"/proc/{pid}/stat").read_text()
        started = stat[stat.rindex(")") + 2:].split()[19]
        (self.state_dir / "pids" / f"{name}.pid").write_text(f"{pid} {started}\n")

    def adopt(self, name: str, proc: subprocess.Popen):
        """A process a test started beside the stack (an extra instance of a service): the
        reaper stops it too if the harness dies. The test still stops it itself."""
        with contextlib.suppress(OSError):  # exited already: nothing to reap
            self._record_pid(name, proc.pid)

    def _script_env(self) -> dict:
        env = dict(os.environ)
        env.update({"BASE_PORT": str(self.ports["base"])})
        env.update({f"{n.upper()}_PORT": str(self.ports[n]) for n in SERVICES})
        return env

    def _start_infra(self):
        """PostgreSQL and Kafka start side by side: both are slow, neither needs the other."""
        env, state = self._script_env(), str(self.state_dir)
        pg = subprocess.Popen([str(SCRIPTS / "pg.sh"), "start", state, str(self.ports["pg"])],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        run_script([str(SCRIPTS / "kafka.sh"), "start", state, str(self.ports["kafka"]),
                    str(self.ports["kafka_controller"])], env, timeout=120)
        try:
            out, _ = pg.communicate(timeout=90)
        except subprocess.TimeoutExpired as e:
            pg.kill()
            raise StackError("pg.sh start timed out") from e
        if pg.returncode != 0:
            raise StackError(f"pg.sh start exited {pg.returncode}:\n{out}")

    def _admin(self, command: str, env: dict):
        path = self.log_dir / "admin.log"
        base = {k: os.environ[k] for k in PASS_THROUGH if k in os.environ}
        with open(path, "a") as out:
            try:
                done = subprocess.run([str(bin_dir() / "cp-admin"), command], env={**base, **env},
                                      stdout=out, stderr=subprocess.STDOUT, timeout=120)
            except subprocess.TimeoutExpired as e:
                raise StackError(f"cp-admin {command} timed out; log:\n{tail(path)}") from e
        if done.returncode != 0:
            raise StackError(f"cp-admin {command} exited {done.returncode}; log:\n{tail(path)}")

    def _run_admin(self):
        self._admin("migrate", {"ADMIN_DATABASE_URL": self.admin_url,
                                "MIGRATIONS_DIR": str(ROOT / "deploy" / "sql")})
        self._admin("topics", {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap})

    def _start_nginx(self):
        run_script([str(SCRIPTS / "nginx.sh"), "start", str(self.state_dir)], self._script_env(),
                   timeout=30)

    def _start_receiver(self):
        """The same local gateways `make run` starts; follow-up delivers every channel here."""
        log = open(self.log_dir / "receiver.log", "a")
        self._receiver = subprocess.Popen(
            [sys.executable, str(SCRIPTS / "receiver.py"), "--port", str(self.ports["receiver"]),
             "--state", str(self.state_dir)], stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_for(lambda: http_status(self.receiver_url + "/stats.json") == 200, 20,
                 "the notification receiver")

    def receiver_env(self) -> dict[str, str]:
        """Follow-up's gateway URLs, one path of the receiver per channel kind."""
        return {f"NOTIFY_{kind.upper()}_URL": f"{self.receiver_url}/{kind}"
                for kind in ("sms", "email", "app", "staff_app")}

    def inbox(self, to: str | None = None) -> list[dict]:
        import urllib.parse
        import urllib.request
        query = "?" + urllib.parse.urlencode({"to": to}) if to else ""
        with urllib.request.urlopen(f"{self.receiver_url}/messages.json{query}", timeout=5) as r:
            return json.load(r)["messages"]

    def receiver_stats(self) -> dict:
        import urllib.request
        with urllib.request.urlopen(f"{self.receiver_url}/stats.json", timeout=5) as r:
            return json.load(r)

    def receiver_fail(self, count: int, to: str = ""):
        import urllib.parse
        import urllib.request
        query = urllib.parse.urlencode({"count": count, "to": to})
        req = urllib.request.Request(f"{self.receiver_url}/_fail?{query}", data=b"",
                                     method="POST")
        with urllib.request.urlopen(req, timeout=5):
            pass

    def close(self, failed: bool = False):
        """Stops everything this stack started (services, nginx, Kafka, PostgreSQL); idempotent.
        On failure prints the tails of the service logs and keeps the state directory."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        # a second Ctrl-C or SIGTERM must not cut the teardown short and leave servers behind
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, signal.SIG_IGN)
        try:
            self._teardown(failed)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _teardown(self, failed: bool):
        if failed:
            self.print_log_tails()
        for conn in list(self._conns):
            with contextlib.suppress(Exception):
                conn.close()
        if self._producer is not None:
            self._producer.flush(5)
        for name in list(self._procs):
            with contextlib.suppress(Exception):
                self.stop_service(name, timeout=10)
        if self._receiver is not None:
            with contextlib.suppress(Exception):
                self._receiver.terminate()
                self._receiver.wait(10)
        env, state = self._script_env(), str(self.state_dir)
        for script in ("nginx.sh", "kafka.sh", "pg.sh"):
            with contextlib.suppress(Exception):
                run_script([str(SCRIPTS / script), "stop", state], env, timeout=60)
        if failed or os.environ.get("CP_TEST_KEEP_STATE") == "1":
            print(f"stack: state kept in {self.state_dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        # stopped in order: the watchdog has nothing to do
        with contextlib.suppress(Exception):
            self._reaper.stdin.write(b"done\n")
            self._reaper.stdin.close()
            self._reaper.wait(10)

    def print_log_tails(self, lines: int = 40):
        for name in SERVICES:
            for path in (self.log_dir / f"{name}.log", self.log_dir / f"{name}.stderr.log"):
                if path.exists() and path.stat().st_size:
                    print(f"----- {path.name} (last {lines} lines) -----\n{tail(path, lines)}",
                          file=sys.stderr)
        for path in (self.log_dir / "admin.log", self.state_dir / "kafka.log",
                     self.state_dir / "pg.log"):
            if path.exists():
                print(f"----- {path.name} (last 15 lines) -----\n{tail(path, 15)}", file=sys.stderr)

    # ---- services --------------------------------------------------------------------------

    def service_url(self, name: str) -> str:
        self._known(name)
        return f"http://127.0.0.1:{self.ports[name]}"

    def env_for(self, name: str, **overrides: str) -> dict[str, str]:
        """The full environment of a service: pass-through basics, the contract, the overrides
        it runs with now, then these overrides."""
        self._known(name)
        env = {k: os.environ[k] for k in PASS_THROUGH if k in os.environ}
        env.update({
            "TZ": "UTC",
            "HTTP_ADDR": "127.0.0.1",
            "HTTP_PORT": str(self.ports[name]),
            "DATABASE_URL": f"postgresql://{name}:{name}@127.0.0.1:{self.ports['pg']}/complaints",
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "LOG_LEVEL": os.environ.get("CP_TEST_LOG_LEVEL", "debug"),
            "AUTH_TOKENS": AUTH_TOKENS,
            # a test stack is a development run: the dev-only-* secret defaults are accepted
            # (tests compute links and signatures with them); test_secrets.py checks that
            # nothing starts on them without this
            "DEV_MODE": "true",
            # staff sessions: every service checks cookies with the same key and fetches the
            # revoked ones from classification, often, so a sign-out reaches them quickly
            "SESSION_SECRET": SESSION_SECRET,
            "SESSION_AUTHORITY_URL": f"http://127.0.0.1:{self.ports['classification']}",
            "SESSION_SYNC_MS": "200",
        })
        if name == "classification":
            env.update({"BOOTSTRAP_ADMIN_ID": BOOTSTRAP_ADMIN[0],
                        "BOOTSTRAP_ADMIN_PASSWORD": BOOTSTRAP_ADMIN[1]})
        if name == "followup":
            env.update(self.receiver_env())
        env.update(self._overrides[name])
        env.update({k: str(v) for k, v in overrides.items()})
        return env

    def _known(self, name: str):
        if name not in SERVICES:
            raise ValueError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")

    def _spawn(self, name: str):
        if name in self._procs and self._procs[name].poll() is None:
            raise StackError(f"cp-{name} is already running")
        out = open(self.log_dir / f"{name}.log", "a")
        err = open(self.log_dir / f"{name}.stderr.log", "a")
        try:
            self._procs[name] = subprocess.Popen(
                [str(bin_dir() / f"cp-{name}")], env=self.env_for(name), stdin=subprocess.DEVNULL,
                stdout=out, stderr=err, start_new_session=True)
        except OSError as e:
            out.close()
            err.close()
            raise StackError(f"cannot start cp-{name}: {e}") from e
        self._files[name] = [out, err]
        with contextlib.suppress(OSError):  # it may have exited already: nothing to reap
            self._record_pid(name, self._procs[name].pid)

    def _wait_ready(self, name: str, timeout: float = READY_TIMEOUT):
        url = f"{self.service_url(name)}/readyz"
        proc = self._procs[name]

        def ready():
            if proc.poll() is not None:
                raise StackError(f"cp-{name} exited with status {proc.returncode} before it was "
                                 f"ready; stdout:\n{tail(self.log_dir / f'{name}.log', 20)}\n"
                                 f"stderr:\n{tail(self.log_dir / f'{name}.stderr.log', 20)}")
            return http_status(url) == 200

        try:
            wait_for(ready, timeout, f"{url} to answer 200", interval=0.1)
        except StackError as e:
            if "timed out" in str(e):
                raise StackError(f"{e}; last log lines of cp-{name}:\n"
                                 f"{tail(self.log_dir / f'{name}.log', 20)}") from None
            raise

    def start_service(self, name: str, **env: str):
        """Starts a stopped service with these overrides (they replace the earlier ones; none:
        its start-of-session environment, as restart_service) and waits until its /readyz
        answers 200."""
        self._known(name)
        # without overrides, the session's own (evidence's STUCK_PROACTIVE_CASE=false): a
        # module fixture that stopped and started evidence left it opening proactive cases,
        # and test_tracking_set_apply found a case (a bundle) for a 38 h old parcel
        self._overrides[name] = {k: str(v) for k, v in (env or self._start_env[name]).items()}
        self._spawn(name)
        self._wait_ready(name)

    def stop_service(self, name: str, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        """Sends sig and waits for the exit; returns the exit status (negative: killed by that
        signal). If it does not exit in time it is killed and StackError is raised."""
        self._known(name)
        proc = self._procs.get(name)
        if proc is None:
            raise StackError(f"cp-{name} was never started")
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
                self._close_files(name)
                raise StackError(f"cp-{name} did not exit within {timeout}s of signal {sig}; "
                                 "killed") from None
        self._close_files(name)
        return proc.returncode

    def kill_service(self, name: str) -> int:
        """SIGKILL: the crash case. Returns the exit status (-9)."""
        return self.stop_service(name, sig=signal.SIGKILL, timeout=10)

    def restart_service(self, name: str, **env: str):
        """Stops (SIGTERM) and starts again; without overrides the service runs with its
        start-of-session environment again."""
        self.stop_service(name)
        if not env:
            env = dict(self._start_env[name])
        self.start_service(name, **env)

    @contextlib.contextmanager
    def service_env(self, name: str, **env: str):
        """Runs the block with the service restarted with env; restores the defaults after."""
        self.restart_service(name, **env)
        try:
            yield self
        finally:
            self.restart_service(name)

    def is_running(self, name: str) -> bool:
        proc = self._procs.get(name)
        return proc is not None and proc.poll() is None

    def _close_files(self, name: str):
        for f in self._files.pop(name, []):
            f.close()

    def logs(self, name: str, stderr: bool = False) -> str:
        """The text a service wrote to stdout (its JSON log) or, with stderr=True, to stderr."""
        self._known(name)
        path = self.log_dir / (f"{name}.stderr.log" if stderr else f"{name}.log")
        return path.read_text(errors="replace") if path.exists() else ""

    def log_records(self, name: str) -> list[dict]:
        """The stdout log as parsed JSON objects; lines that are not JSON objects are skipped."""
        records = []
        for line in self.logs(name).splitlines():
            with contextlib.suppress(ValueError):
                obj = json.loads(line)
                if isinstance(obj, dict):
                    records.append(obj)
        return records

    def ready(self, name: str) -> bool:
        return http_status(f"{self.service_url(name)}/readyz", timeout=1.0) == 200

    def all_ready(self) -> bool:
        return all(self.ready(name) for name in SERVICES)

    def revive(self) -> list[str]:
        """Starts (without waiting for /readyz) every service that is not running, as a process
        supervisor would; returns their names."""
        dead = [name for name in SERVICES if not self.is_running(name)]
        for name in dead:
            self._close_files(name)
            self._spawn(name)
        return dead

    # ---- infrastructure faults (tests/chaos) ------------------------------------------------

    def broker_pid(self) -> int | None:
        try:
            return int((self.state_dir / "kafka" / "kafka.pid").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def kill_broker(self):
        """SIGKILL the broker JVM and wait until it is gone (kafka.sh's pid is the JVM's)."""
        pid = self.broker_pid()
        if pid is None:
            raise StackError("the broker is not running (no kafka.pid)")
        os.kill(pid, signal.SIGKILL)

        def gone():
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            # a zombie until its parent (init, after setsid) reaps it
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                    return True
            return False

        wait_for(gone, 10, f"the broker (pid {pid}) to die")

    def start_broker(self):
        run_script([str(SCRIPTS / "kafka.sh"), "start", str(self.state_dir),
                    str(self.ports["kafka"]), str(self.ports["kafka_controller"])],
                   self._script_env(), timeout=120)

    def stop_postgres(self, mode: str = "immediate"):
        run_script([str(SCRIPTS / "pg.sh"), "stop", str(self.state_dir), mode],
                   self._script_env(), timeout=60)

    def start_postgres(self):
        run_script([str(SCRIPTS / "pg.sh"), "start", str(self.state_dir), str(self.ports["pg"])],
                   self._script_env(), timeout=90)

    # ---- data stores -----------------------------------------------------------------------

    def db(self):
        """A new psycopg connection as superuser to `complaints`, autocommit; closed when the
        caller drops it (or at close())."""
        import psycopg
        conn = psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10)
        self._conns.add(conn)
        return conn

    def produce(self, topic: str, key: str | bytes | None, value: bytes | None,
                headers: dict[str, str | bytes] | None = None, timeout: float = 10,
                partition: int | None = None):
        """Produces one record and waits until the broker has it; raises StackError otherwise.
        partition: this partition rather than the key's (records of several keys in one order)."""
        from confluent_kafka import Producer
        if self._producer is None:
            self._producer = Producer({"bootstrap.servers": self.bootstrap,
                                       "enable.idempotence": True, "linger.ms": 0})
        result = {}
        where = {} if partition is None else {"partition": partition}
        self._producer.produce(topic, key=key, value=value, **where,
                               headers=list((headers or {}).items()),
                               on_delivery=lambda err, msg: result.update(err=err, msg=msg))
        deadline = time.monotonic() + timeout
        while "err" not in result and time.monotonic() < deadline:
            self._producer.poll(0.1)
        if "err" not in result:
            raise StackError(f"no delivery report for {topic} within {timeout}s")
        if result["err"] is not None:
            raise StackError(f"produce to {topic} failed: {result['err']}")
        return result["msg"].partition(), result["msg"].offset()

    def consumer(self, topics: str | Iterable[str], from_beginning: bool = True) -> TopicReader:
        """A TopicReader over topics; from_beginning=False starts at the current end."""
        if isinstance(topics, str):
            topics = [topics]
        return TopicReader(self.bootstrap, topics, from_beginning)

    def dump(self, topics: str | Iterable[str], timeout: float = 120) -> list[Message]:
        """Every record of topics up to each partition's end as it is now (the end offsets are
        read first, so records produced meanwhile may or may not be among them)."""
        from confluent_kafka import TopicPartition
        with self.consumer(topics) as reader:
            meta = reader._consumer.list_topics(timeout=10)
            total = 0
            for topic in reader.topics:
                for part in meta.topics[topic].partitions:
                    low, high = reader._consumer.get_watermark_offsets(
                        TopicPartition(topic, part), timeout=10)
                    total += high - low
            messages = reader.collect(timeout=timeout, min_count=total)
        if len(messages) < total:
            raise StackError(f"read {len(messages)} of the {total} records of {reader.topics} "
                             f"within {timeout}s")
        return messages

    @staticmethod
    def auth(role: str) -> dict[str, str]:
        """The Authorization header of a test staff member (see TOKENS)."""
        return {"Authorization": f"Bearer {TOKENS[role][0]}"}

    @staticmethod
    def ce_headers(ce_type: str, source: str = "test", id: str | None = None) -> dict[str, str]:
        """CloudEvents 1.0 binary-mode headers for a protobuf payload."""
        now = datetime.datetime.now(datetime.timezone.utc)
        return {
            "ce_specversion": "1.0",
            "ce_id": id or str(uuid.uuid4()),
            "ce_source": source,
            "ce_type": ce_type,
            "ce_time": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "content-type": "application/protobuf",
        }
