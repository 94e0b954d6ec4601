"""A raw HTTP/1.1 client for oversized bodies.

`requests` insists on sending the whole body before it reads the answer; a
server that answers 413 early and closes would then look like a connection
error.  This client sends the body piece by piece and stops as soon as the
server has answered, then reads that answer.
"""

import select
import socket
import time
from types import SimpleNamespace
from urllib.parse import urlsplit

from requests.structures import CaseInsensitiveDict


class RawResponse:
    def __init__(self, status, reason, headers, body, sent, total, request=None):
        self.status_code = status
        self.reason = reason
        self.headers = CaseInsensitiveDict(headers)
        self.request = request
        self.content = body
        self.sent = sent                # body bytes we managed to send
        self.total = total              # body bytes we meant to send

    @property
    def text(self):
        return self.content.decode("utf-8", "replace")

    def json(self):
        import json
        return json.loads(self.content.decode("utf-8"))

    def __repr__(self):
        return "<RawResponse %s %r %r (sent %d of %d body bytes)>" % (
            self.status_code, self.headers, self.content[:300], self.sent, self.total)


def _parse(data):
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("incomplete HTTP answer: %r" % data[:300])
    lines = head.decode("latin-1").split("\r\n")
    proto, status, *reason = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        k = k.strip().lower()
        headers[k] = (headers[k] + ", " + v.strip()) if k in headers else v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0] or b"0", 16)
            if size == 0:
                break
            body += rest[:size]
            rest = rest[size + 2:]
        rest = bytes(body)
    elif "content-length" in headers:
        rest = rest[:int(headers["content-length"])]
    return int(status), (reason[0] if reason else ""), headers, rest


def _complete(data):
    """True when `data` holds a full answer (headers + declared body)."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        return rest.endswith(b"0\r\n\r\n")
    for line in lower.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(rest) >= int(line.split(b":", 1)[1])
    return False


def send(base_url, method, path, headers, body_len, chunked=False, piece=65536, timeout=30):
    """Send a body of body_len bytes of b'a'; return a RawResponse."""
    u = urlsplit(base_url)
    host, port = u.hostname, u.port or 80
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setblocking(False)
    hdrs = {"Host": "%s:%d" % (host, port), "Connection": "close", "User-Agent": "apx-rawhttp"}
    hdrs.update(headers)
    if chunked:
        hdrs["Transfer-Encoding"] = "chunked"
    else:
        hdrs["Content-Length"] = str(body_len)
    head = "%s %s HTTP/1.1\r\n%s\r\n\r\n" % (
        method, path, "\r\n".join("%s: %s" % kv for kv in hdrs.items()))
    pending = bytearray(head.encode("latin-1"))
    sent_body = 0
    body_done = False
    received = bytearray()
    closed = False
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError("no complete answer within %ss (sent %d of %d body bytes, "
                                   "received %r)" % (timeout, sent_body, body_len, bytes(received[:300])))
            if not pending and not body_done:
                n = min(piece, body_len - sent_body)
                if n > 0:
                    chunk = b"a" * n
                    pending += (b"%x\r\n" % n + chunk + b"\r\n") if chunked else chunk
                    sent_body += n
                if sent_body >= body_len:
                    if chunked:
                        pending += b"0\r\n\r\n"
                    body_done = True
            want_write = [sock] if pending else []
            r, w, _ = select.select([sock], want_write, [], 0.5)
            if r:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    closed = True
                    data = b""
                if not data:
                    closed = True
                received += data
                if closed or _complete(received):
                    break
                continue
            if w and pending:
                try:
                    n = sock.send(pending)
                    del pending[:n]
                except BlockingIOError:
                    pass
                except (BrokenPipeError, ConnectionResetError) as e:
                    # the server stopped reading: whatever it answered is in the buffer
                    pending.clear()
                    body_done = True
                    if isinstance(e, ConnectionResetError):
                        closed = True
                        break
            elif not pending and body_done and not r:
                continue
    finally:
        sock.close()
    if not received:
        raise ConnectionError("connection %s without any answer (sent %d of %d body bytes)"
                              % ("reset" if closed else "closed", sent_body, body_len))
    status, reason, headers, body = _parse(bytes(received))
    req = SimpleNamespace(method=method, url=base_url.rstrip("/") + path, headers=hdrs,
                          body=b"<%d bytes of 'a'%s>" % (body_len, b", chunked" if chunked else b""))
    return RawResponse(status, reason, headers, body, sent_body, body_len, req)


__all__ = ["send", "RawResponse"]
