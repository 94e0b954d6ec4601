"""Minimal FastCGI client (responder role) for driving accupredix-fcgi directly.

Only what the integration tests need: one request per connection
(FCGI_KEEP_CONN not set) or several on one kept connection
(:meth:`FcgiConnection.exchange`), PARAMS and STDIN streams, and parsing of
the CGI-style answer (``Status:`` line, headers, body) carried in FCGI_STDOUT.

The low-level :class:`FcgiConnection` lets a test send STDIN in several parts
with pauses in between (used by the SIGTERM drain test); :func:`request` is the
one-shot convenience wrapper.
"""

import socket
import struct
import time

FCGI_VERSION_1 = 1

FCGI_BEGIN_REQUEST = 1
FCGI_ABORT_REQUEST = 2
FCGI_END_REQUEST = 3
FCGI_PARAMS = 4
FCGI_STDIN = 5
FCGI_STDOUT = 6
FCGI_STDERR = 7
FCGI_DATA = 8
FCGI_GET_VALUES = 9
FCGI_GET_VALUES_RESULT = 10
FCGI_UNKNOWN_TYPE = 11

FCGI_RESPONDER = 1

FCGI_REQUEST_COMPLETE = 0

_HEADER = struct.Struct("!BBHHBx")
_MAX_CONTENT = 65535


class FcgiError(Exception):
    """Protocol-level problem: connection closed early, bad record, timeout."""


class FcgiResponse:
    """A parsed FastCGI responder answer."""

    def __init__(self, raw_stdout, stderr, app_status, protocol_status):
        self.raw = raw_stdout
        self.stderr = stderr
        self.app_status = app_status
        self.protocol_status = protocol_status
        self.status = None
        self.reason = ""
        self.headers = {}          # lower-case name -> last value
        self.header_list = []      # [(name, value)] in order
        self.body = b""
        self._parse()

    def _parse(self):
        raw = self.raw
        sep = raw.find(b"\r\n\r\n")
        sep_len = 4
        alt = raw.find(b"\n\n")
        if sep < 0 or (0 <= alt < sep):
            sep, sep_len = alt, 2
        if sep < 0:
            raise FcgiError("no end of CGI headers in FCGI_STDOUT: %r" % raw[:200])
        head = raw[:sep].decode("latin-1")
        self.body = raw[sep + sep_len:]
        for line in head.replace("\r\n", "\n").split("\n"):
            if not line:
                continue
            if ":" not in line:
                raise FcgiError("malformed CGI header line %r" % line)
            name, value = line.split(":", 1)
            name = name.strip()
            value = value.strip()
            self.header_list.append((name, value))
            self.headers[name.lower()] = value
        st = self.headers.get("status")
        if st is None:
            # CGI: no Status header means 200 (unless Location, not used here)
            self.status = 200
        else:
            parts = st.split(None, 1)
            self.status = int(parts[0])
            self.reason = parts[1] if len(parts) > 1 else ""

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def json(self):
        import json
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<FcgiResponse %s %r body=%r>" % (self.status, self.header_list, self.body[:300])


def _encode_length(n):
    if n < 128:
        return bytes([n])
    return struct.pack("!I", n | 0x80000000)


def encode_params(params):
    out = bytearray()
    for k, v in params.items():
        kb = k.encode("latin-1") if isinstance(k, str) else k
        vb = v.encode("latin-1") if isinstance(v, str) else v
        out += _encode_length(len(kb)) + _encode_length(len(vb)) + kb + vb
    return bytes(out)


def _record(rtype, request_id, content=b""):
    assert len(content) <= _MAX_CONTENT
    pad = (-len(content)) % 8
    return _HEADER.pack(FCGI_VERSION_1, rtype, request_id, len(content), pad) + content + b"\0" * pad


def _stream(rtype, request_id, data):
    """Split data into records; does NOT add the empty terminator record."""
    out = bytearray()
    for i in range(0, len(data), _MAX_CONTENT):
        out += _record(rtype, request_id, data[i:i + _MAX_CONTENT])
    return bytes(out)


def parse_address(address):
    """'unix:/path' | 'host:port' | ('host', port) | '/path' -> (family, sockaddr)."""
    if isinstance(address, tuple):
        return socket.AF_INET, address
    if address.startswith("unix:"):
        return socket.AF_UNIX, address[5:]
    if address.startswith("/"):
        return socket.AF_UNIX, address
    host, port = address.rsplit(":", 1)
    return socket.AF_INET, (host, int(port))


def connect(address, timeout=10.0):
    family, sockaddr = parse_address(address)
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sockaddr)
    except BaseException:
        s.close()
        raise
    return s


def build_params(method, path, query="", headers=None, body_len=None,
                 content_type=None, remote_addr="127.0.0.1", extra=None):
    uri = path + ("?" + query if query else "")
    params = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_SOFTWARE": "apx-test-fcgi-client",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "REQUEST_METHOD": method,
        "REQUEST_URI": uri,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REMOTE_ADDR": remote_addr,
        "REMOTE_PORT": "40000",
        "CONTENT_LENGTH": str(body_len if body_len is not None else 0),
    }
    if content_type is not None:
        params["CONTENT_TYPE"] = content_type
    for name, value in (headers or {}).items():
        key = "HTTP_" + name.upper().replace("-", "_")
        if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            continue
        params[key] = value
    if extra:
        params.update(extra)
    return params


class FcgiConnection:
    """One FastCGI request over one connection, driven step by step."""

    def __init__(self, address, request_id=1, timeout=10.0):
        self.request_id = request_id
        self.timeout = timeout
        self.sock = connect(address, timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def begin(self, keep_conn=False):
        body = struct.pack("!HB5x", FCGI_RESPONDER, 1 if keep_conn else 0)
        self.sock.sendall(_record(FCGI_BEGIN_REQUEST, self.request_id, body))

    def send_params(self, params):
        data = encode_params(params)
        self.sock.sendall(_stream(FCGI_PARAMS, self.request_id, data)
                          + _record(FCGI_PARAMS, self.request_id))

    def send_stdin(self, data):
        if data:
            self.sock.sendall(_stream(FCGI_STDIN, self.request_id, data))

    def end_stdin(self):
        self.sock.sendall(_record(FCGI_STDIN, self.request_id))

    def exchange(self, method="GET", path="/", headers=None, body=b"",
                 content_type=None, keep_conn=True, timeout=None, stdin_delay=0):
        """One whole request on this connection (FCGI_KEEP_CONN by
        default, as Apache mod_proxy_fcgi with enablereuse=on sends it);
        returns the parsed FcgiResponse and leaves the connection open."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.begin(keep_conn=keep_conn)
        self.send_params(build_params(method, path, "", headers, len(body),
                                      content_type))
        self.send_stdin(body)
        if stdin_delay:
            # the record that ends STDIN in a later packet, as a busy
            # server may send it
            time.sleep(stdin_delay)
        self.end_stdin()
        return self.read_response(timeout)

    def _recv_exact(self, n, deadline):
        buf = bytearray()
        while len(buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FcgiError("timed out waiting for the FastCGI answer")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(n - len(buf))
            except socket.timeout:
                raise FcgiError("timed out waiting for the FastCGI answer")
            if not chunk:
                raise FcgiError("connection closed after %d of %d bytes of a record "
                                "(no FCGI_END_REQUEST)" % (len(buf), n))
            buf += chunk
        return bytes(buf)

    def read_response(self, timeout=None):
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        stdout = bytearray()
        stderr = bytearray()
        while True:
            hdr = self._recv_exact(_HEADER.size, deadline)
            version, rtype, rid, clen, plen = _HEADER.unpack(hdr)
            if version != FCGI_VERSION_1:
                raise FcgiError("bad FastCGI version %d" % version)
            content = self._recv_exact(clen, deadline) if clen else b""
            if plen:
                self._recv_exact(plen, deadline)
            if rtype == FCGI_STDOUT:
                stdout += content
            elif rtype == FCGI_STDERR:
                stderr += content
            elif rtype == FCGI_END_REQUEST:
                app_status, proto_status = struct.unpack("!IB3x", content)
                return FcgiResponse(bytes(stdout), bytes(stderr), app_status, proto_status)
            else:
                raise FcgiError("unexpected record type %d" % rtype)


def request(address, method="GET", path="/", query="", headers=None, body=b"",
            content_type=None, timeout=10.0, extra_params=None):
    """Send one complete request, return the parsed FcgiResponse."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    with FcgiConnection(address, timeout=timeout) as c:
        c.begin()
        c.send_params(build_params(method, path, query, headers, len(body),
                                   content_type, extra=extra_params))
        c.send_stdin(body)
        c.end_stdin()
        return c.read_response()
