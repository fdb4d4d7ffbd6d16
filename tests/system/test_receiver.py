"""The local notification gateway (deploy/scripts/receiver.py) answers in one write with Nagle's
algorithm off. Written as two small writes (status and headers, then the body), the body of an
answer on a kept-alive connection waited for the client's delayed ACK: 40 ms per request on
Linux, which make bench measured as follow-up's acknowledgement latency. Served here through a
recording socket, no stack and no clock involved."""

import hashlib
import hmac
import importlib.util
import io
import json
import socket
import time
from pathlib import Path

from stack import SCRIPTS

SECRET = b"dev-only-webhook-secret"


def load_receiver():
    spec = importlib.util.spec_from_file_location("receiver", Path(SCRIPTS) / "receiver.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Written(io.RawIOBase):
    def __init__(self, chunks):
        self.chunks = chunks

    def writable(self):
        return True

    def write(self, b):
        self.chunks.append(bytes(b))
        return len(b)


class RecordingSocket:
    """What a request handler needs of its connection; every write that would reach the network
    and every socket option set are recorded."""

    def __init__(self, request: bytes):
        self.request = request
        self.chunks: list[bytes] = []
        self.options: list[tuple] = []

    def makefile(self, mode, buffering=-1):
        if "r" in mode:
            return io.BufferedReader(io.BytesIO(self.request))
        raw = Written(self.chunks)
        return raw if buffering == 0 else io.BufferedWriter(raw, max(buffering, 1))

    def sendall(self, b):  # unbuffered handlers write straight to the socket
        self.chunks.append(bytes(b))

    def setsockopt(self, *option):
        self.options.append(option)

    def shutdown(self, how):
        pass

    def close(self):
        pass


def gateway_request(note_id: str) -> bytes:
    body = json.dumps({"notification_id": note_id, "to": "cust_receiver_test",
                       "text": "x"}).encode()
    ts = str(int(time.time()))
    sig = hmac.new(SECRET, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    head = (f"POST /sms HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-CP-Timestamp: {ts}\r\n"
            f"X-CP-Signature: sha256={sig}\r\nX-CP-Notification-Id: {note_id}\r\n\r\n")
    return head.encode() + body


def test_each_answer_leaves_in_one_write_with_nagle_off(tmp_path):
    receiver = load_receiver()
    receiver.Handler.inbox = receiver.Inbox(tmp_path)
    # two requests on one kept-alive connection, then the client closes it
    conn = RecordingSocket(gateway_request("901") + gateway_request("902"))
    receiver.Handler(conn, ("127.0.0.1", 40000), None)
    assert (socket.IPPROTO_TCP, socket.TCP_NODELAY, True) in conn.options
    assert len(conn.chunks) == 2, conn.chunks
    for chunk, note_id in zip(conn.chunks, ("901", "902")):
        head, _, body = chunk.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        assert json.loads(body) == {"accepted": note_id, "duplicate": False}
    assert receiver.Handler.inbox.connections == {1: 2}
