#!/usr/bin/env python3
"""A local stand-in for the carriers' notification gateways: a real HTTP(S) server that receives
follow-up's signed webhooks, checks them and keeps what each person received.

    receiver.py --port 8090 --state var [--addr 127.0.0.1] [--tls-cert C --tls-key K]

Gateways (one path each): POST /sms, /email, /app (customer push), /staff_app (staff push).
Each request must carry X-CP-Timestamp (unix seconds, at most 300 s off) and
X-CP-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>, where the secret is
NOTIFY_<KIND>_SECRET from the environment, else WEBHOOK_SECRET, else dev-only-webhook-secret
(follow-up's defaults; each also as NAME_FILE). A bad signature is answered 401 and stored nowhere.

A good one is appended once per X-CP-Notification-Id (a retried delivery is acknowledged again
but not stored twice) to <state>/inbox/<to>.jsonl, where <to> is the payload's "to" (the
customer_ref, or staff-<id>), with the channel, the raw body and the signature headers.

    GET /                  a page: each recipient and what they received, newest first
    GET /messages.json     every stored message ({"messages": [...]}); ?to= one recipient
    GET /stats.json        requests per notification id and channel, rejected count, and
                           the connections: how many were accepted and how many requests
                           each carried (follow-up keeps its connections open between calls)
    POST /_fail?count=N[&to=R]
                           (tests) answer the next N gateway requests (for recipient R only,
                           when given) 503, then recover

An answer leaves in one write with TCP_NODELAY set: written as two (status and headers, then
the body) on a kept-alive connection, the body waited for the client's delayed ACK (Nagle), 40 ms
per request on Linux, which the acknowledgement's latency measured as follow-up's.

Standard library only; stops on SIGTERM or SIGINT."""

import argparse
import hashlib
import hmac
import html
import json
import os
import re
import signal
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHANNELS = ("sms", "email", "app", "staff_app")
MAX_BODY = 64 * 1024
SKEW_S = 300


def env_value(name: str) -> str:
    """NAME, or the content of the file NAME_FILE names (as follow-up reads its secrets)."""
    if os.environ.get(name):
        return os.environ[name]
    path = os.environ.get(f"{name}_FILE")
    if path:
        with open(path, encoding="utf-8") as f:
            return f.read().rstrip("\r\n")
    return ""


def secret_for(channel: str) -> bytes:
    value = (env_value(f"NOTIFY_{channel.upper()}_SECRET") or env_value("WEBHOOK_SECRET")
             or "dev-only-webhook-secret")
    return value.encode()


def signature_ok(channel: str, timestamp: str, signature: str, body: bytes) -> bool:
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > SKEW_S:
        return False
    mac = hmac.new(secret_for(channel), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(signature, "sha256=" + mac.hexdigest())


def file_name(to: str) -> str:
    """A recipient as a file name: staff:A001 -> staff-A001; anything unusual -> _."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", to.replace(":", "-"))[:100] or "unknown"


class Inbox:
    def __init__(self, state: Path):
        self.dir = state / "inbox"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.seen: dict[str, int] = {}       # notification id -> requests received
        self.stored: set[str] = set()
        self.by_channel: dict[str, int] = {}
        self.rejected = 0
        self.fail_next: dict[str, int] = {}  # recipient ("" = anyone) -> failures left
        self.connections: dict[int, int] = {}  # connection number -> gateway requests on it
        for path in self.dir.glob("*.jsonl"):
            for line in path.read_text(errors="replace").splitlines():
                try:
                    self.stored.add(json.loads(line)["notification_id"])
                except (ValueError, KeyError):
                    pass

    def take_failure(self, to: str) -> bool:
        with self.lock:
            for key in (to, ""):
                if self.fail_next.get(key, 0) > 0:
                    self.fail_next[key] -= 1
                    return True
            return False

    def connected(self) -> int:
        with self.lock:
            number = len(self.connections) + 1
            self.connections[number] = 0
            return number

    def count(self, note_id: str, channel: str, connection: int):
        with self.lock:
            self.seen[note_id] = self.seen.get(note_id, 0) + 1
            self.by_channel[channel] = self.by_channel.get(channel, 0) + 1
            self.connections[connection] += 1

    def store(self, record: dict) -> bool:
        with self.lock:
            if record["notification_id"] in self.stored:
                return False
            self.stored.add(record["notification_id"])
            path = self.dir / f"{file_name(record['to'])}.jsonl"
            with open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
            return True

    def messages(self, to: str | None = None) -> list[dict]:
        paths = [self.dir / f"{file_name(to)}.jsonl"] if to else sorted(self.dir.glob("*.jsonl"))
        out = []
        with self.lock:
            for path in paths:
                if path.exists():
                    out += [json.loads(line) for line in path.read_text().splitlines() if line]
        return out


class Handler(BaseHTTPRequestHandler):
    inbox: Inbox = None  # set by main
    protocol_version = "HTTP/1.1"
    # the answer is buffered and leaves in one write when the request is done (wbufsize 0,
    # the default, wrote the headers and the body apart), and without Nagle's delay
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        self.connection_no = self.inbox.connected()

    def log_message(self, fmt, *args):
        pass

    def reply(self, status: int, body: bytes, ctype: str = "application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reply_json(self, status: int, obj):
        self.reply(status, json.dumps(obj, ensure_ascii=False).encode())

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return self.reply_json(413, {"error": "too_large"})
        body = self.rfile.read(length)
        if url.path == "/_fail":
            query = urllib.parse.parse_qs(url.query)
            count, to = int(query.get("count", ["1"])[0]), query.get("to", [""])[0]
            with self.inbox.lock:
                self.inbox.fail_next[to] = count
            return self.reply_json(200, {"fail_next": count, "to": to})
        channel = url.path.strip("/")
        if channel not in CHANNELS:
            return self.reply_json(404, {"error": "no_such_gateway"})
        self.gateway(channel, body)

    def gateway(self, channel: str, body: bytes):
        timestamp = self.headers.get("X-CP-Timestamp", "")
        signature = self.headers.get("X-CP-Signature", "")
        note_id = self.headers.get("X-CP-Notification-Id", "")
        if not signature_ok(channel, timestamp, signature, body):
            with self.inbox.lock:
                self.inbox.rejected += 1
            return self.reply_json(401, {"error": "bad_signature"})
        self.inbox.count(note_id, channel, self.connection_no)
        try:
            note = json.loads(body)
        except ValueError:
            return self.reply_json(400, {"error": "not_json"})
        if self.inbox.take_failure(str(note.get("to") or "")):
            return self.reply_json(503, {"error": "gateway_unavailable", "retry": True})
        if not note_id or str(note.get("notification_id")) != note_id:
            return self.reply_json(400, {"error": "notification_id_mismatch"})
        record = {"notification_id": note_id, "to": str(note.get("to") or "unknown"),
                  "channel": channel, "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                   time.gmtime()),
                  "received_unix": time.time(),  # make bench splits the latency by it
                  "timestamp": timestamp, "signature": signature,
                  "raw": body.decode("utf-8", "replace"), "note": note}
        stored = self.inbox.store(record)
        self.reply_json(200, {"accepted": note_id, "duplicate": not stored})

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path == "/messages.json":
            to = query.get("to", [None])[0]
            return self.reply_json(200, {"messages": self.inbox.messages(to)})
        if url.path == "/stats.json":
            with self.inbox.lock:
                stats = {"requests": dict(self.inbox.seen), "by_channel": dict(self.inbox.by_channel),
                         "rejected": self.inbox.rejected,
                         "fail_next": dict(self.inbox.fail_next),
                         "connections": len(self.inbox.connections),
                         "requests_per_connection": {
                             str(k): v for k, v in self.inbox.connections.items() if v}}
            return self.reply_json(200, stats)
        if url.path == "/":
            return self.reply(200, self.page().encode(), "text/html; charset=utf-8")
        self.reply_json(404, {"error": "not_found"})

    def page(self) -> str:
        groups: dict[str, list[dict]] = {}
        for m in self.inbox.messages():
            groups.setdefault(m["to"], []).append(m)
        parts = ["<!doctype html><meta charset=utf-8><title>Notifications received</title>",
                 "<style>body{font:14px sans-serif;margin:2em}td{padding:2px 8px;"
                 "vertical-align:top}h2{margin-top:1.5em}</style>",
                 "<h1>Notifications received by the local gateways</h1>",
                 f"<p>{sum(len(v) for v in groups.values())} message(s) for {len(groups)} "
                 "recipient(s). Stored under inbox/&lt;recipient&gt;.jsonl in the state "
                 "directory.</p>"]
        for to in sorted(groups):
            parts.append(f"<h2>{html.escape(to)}</h2><table>")
            for m in reversed(groups[to]):
                note = m.get("note", {})
                parts.append("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
                    m["received_at"], m["channel"], note.get("complaint_no", ""),
                    note.get("step", ""), note.get("language", ""), note.get("text", ""))) +
                    "</tr>")
            parts.append("</table>")
        return "".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--state", required=True, help="state directory (inbox/ goes here)")
    ap.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate")
    ap.add_argument("--tls-key", help="and this PEM key")
    args = ap.parse_args()
    Handler.inbox = Inbox(Path(args.state))
    server = ThreadingHTTPServer((args.addr, args.port), Handler)
    server.daemon_threads = True
    scheme = "http"
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        # the handshake happens on the first read in the request's own thread, so a client
        # that refuses the certificate (or stalls) never blocks the accepting loop
        server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
        scheme = "https"

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"receiver: listening on {scheme}://{args.addr}:{args.port}", file=sys.stderr,
          flush=True)
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
