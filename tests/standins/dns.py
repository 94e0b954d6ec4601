#!/usr/bin/python3
"""Loopback authoritative DNS stand-in (TXT and A) for AccuPredix's tests and dev stack.

The app proves that an organisation owns a domain by looking up a TXT record such as
`_accupredix-challenge.example-agency.test TXT "apx-verify=TOKEN"` through the resolver
address in its config; tests point that address here instead of at real DNS.
Python 3 standard library only.  UDP and TCP on 127.0.0.1, one in-memory zone changed at
run time through a small HTTP control API.  See DNS.md.

    /usr/bin/python3 tests/standins/dns.py --port 0 --records FILE \
        [--pidfile F] [--log F] [--control-port 0]

The log holds one line per DNS message received: time, transport, name, type, rcode.
"""
import argparse
import ipaddress
import json
import os
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

HEADER = 12
T_A, T_TXT, T_OPT, T_IXFR, T_AXFR, T_ANY = 1, 16, 41, 251, 252, 255
C_IN, C_ANY = 1, 255
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP",
               5: "REFUSED", 16: "BADVERS"}
TYPE_NAMES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT",
              28: "AAAA", 33: "SRV", 41: "OPT", 43: "DS", 46: "RRSIG", 48: "DNSKEY",
              64: "SVCB", 65: "HTTPS", 251: "IXFR", 252: "AXFR", 255: "ANY"}
ZONE_TYPES = ("TXT", "A")
MAX_NAME_WIRE = 255        # RFC 1035 2.3.4: a name is at most 255 octets on the wire
MAX_POINTERS = 64          # belt and braces; pointers must also go strictly backwards
UDP_PLAIN = 512            # UDP answer limit without EDNS (RFC 1035 4.2.1)
UDP_EDNS_MAX = 4096        # largest client-advertised EDNS size we honour
EDNS_OURS = 1232           # the size we advertise in our OPT record
MAX_TXT_BYTES = 16384      # one TXT value, UTF-8 encoded
MAX_BODY = 1 << 20         # control API request body
TCP_IDLE = 10              # seconds a TCP connection may sit idle
DEFAULT_CONFIG = {"delay_ms": 0, "drop": False, "servfail": False, "truncate": False}


class FormErr(Exception):
    """The message is malformed: answer FORMERR (header only)."""


class Ignore(Exception):
    """Not something to answer: too short to carry an ID, or a response (QR set)."""


class BadRequest(Exception):
    """A control API or records-file error."""


# ---------------------------------------------------------------------------- names

def norm_name(name):
    """Zone key for a name given in the records file or the control API: lower case, no
    trailing dot.  Labels 1..63 octets of printable ASCII without backslash; at most 253
    characters.  Raises BadRequest."""
    if not isinstance(name, str):
        raise BadRequest("name must be a string")
    n = name.lower()
    if n.endswith("."):
        n = n[:-1]
    if not n or len(n) > 253:
        raise BadRequest("name must be 1..253 characters: %r" % name)
    for label in n.split("."):
        if not 1 <= len(label) <= 63:
            raise BadRequest("each label must be 1..63 characters: %r" % name)
        if any(not 0x21 <= ord(c) <= 0x7E or c == "\\" for c in label):
            raise BadRequest("names are printable ASCII without spaces or backslashes: %r"
                             % name)
    return n


def wire_key(labels):
    """Presentation form of wire labels, ASCII lower-cased: the zone key to look up.  Odd
    octets (and '.' or '\\' inside a label) become \\DDD, so they never match a zone name
    and can never break a log line."""
    out = []
    for label in labels:
        out.append("".join(chr(b) if 0x21 <= b <= 0x7E and b not in (0x2E, 0x5C)
                           else "\\%03d" % b for b in label.lower()))
    return ".".join(out)


def read_name(msg, pos):
    """Parse a (possibly compressed) name at msg[pos].  Returns (labels, position after the
    name).  Bounded: every length is checked against the message, a pointer must point
    strictly before the start of the stretch being read (so loops are impossible) and not
    into the header, the name is at most 255 octets.  Raises FormErr."""
    n = len(msg)
    labels, wire, end = [], 0, None
    start = pos                     # start of the stretch being read
    jumps = 0
    while True:
        if pos >= n:
            raise FormErr("name runs past the end")
        b = msg[pos]
        kind = b & 0xC0
        if kind == 0xC0:
            if pos + 1 >= n:
                raise FormErr("pointer runs past the end")
            target = ((b & 0x3F) << 8) | msg[pos + 1]
            if end is None:
                end = pos + 2
            if target >= start or target < HEADER:
                raise FormErr("compression pointer does not point backwards")
            jumps += 1
            if jumps > MAX_POINTERS:
                raise FormErr("too many compression pointers")
            pos = start = target
            continue
        if kind:
            raise FormErr("reserved label type")
        if b == 0:
            if end is None:
                end = pos + 1
            return labels, end
        if pos + 1 + b > n:
            raise FormErr("label runs past the end")
        wire += 1 + b
        if wire + 1 > MAX_NAME_WIRE:
            raise FormErr("name longer than 255 octets")
        labels.append(bytes(msg[pos + 1:pos + 1 + b]))
        pos += 1 + b


def encode_name(labels):
    return b"".join(bytes((len(l),)) + l for l in labels) + b"\0"


# ---------------------------------------------------------------------------- messages

class Query:
    __slots__ = ("id", "flags", "labels", "qtype", "qclass", "edns")

    def __init__(self, id_, flags, labels, qtype, qclass, edns):
        self.id, self.flags, self.labels = id_, flags, labels
        self.qtype, self.qclass, self.edns = qtype, qclass, edns


def parse_query(msg):
    """Parse a query: header, exactly one question, an optional OPT in the additional
    section.  Returns Query; raises Ignore or FormErr (or NotImplementedError for an
    opcode other than QUERY)."""
    n = len(msg)
    if n < HEADER:
        raise Ignore("shorter than a header")
    id_, flags, qd, an, ns, ar = struct.unpack_from("!6H", msg)
    if flags & 0x8000:
        raise Ignore("a response")
    if (flags >> 11) & 0xF != 0:
        raise NotImplementedError("opcode")
    if qd != 1:
        raise FormErr("qdcount must be 1")
    if an or ns:
        raise FormErr("a query carries no answer or authority records")
    labels, pos = read_name(msg, HEADER)
    if pos + 4 > n:
        raise FormErr("question runs past the end")
    qtype, qclass = struct.unpack_from("!HH", msg, pos)
    pos += 4
    if ar * 11 > n - pos:
        raise FormErr("arcount larger than the message")
    edns = None
    for _ in range(ar):
        rlabels, pos = read_name(msg, pos)
        if pos + 10 > n:
            raise FormErr("record runs past the end")
        rtype, rclass, ttl, rdlen = struct.unpack_from("!HHIH", msg, pos)
        pos += 10
        if pos + rdlen > n:
            raise FormErr("rdata runs past the end")
        pos += rdlen
        if rtype == T_OPT:
            if edns is not None or rlabels:
                raise FormErr("bad OPT record")
            edns = (rclass, (ttl >> 16) & 0xFF)     # (UDP payload size, version)
    return Query(id_, flags, labels, qtype, qclass, edns)


def header(id_, qflags, rcode, tc=False, qd=0, an=0, ar=0, aa=True):
    flags = 0x8000 | (qflags & 0x7800) | (qflags & 0x0100) | (qflags & 0x0010) | (rcode & 0xF)
    if aa:
        flags |= 0x0400
    if tc:
        flags |= 0x0200
    return struct.pack("!6H", id_, flags, qd, an, 0, ar)


def header_only(msg, rcode):
    """FORMERR/NOTIMP answer to a message whose question we do not echo."""
    id_, flags = struct.unpack_from("!HH", msg)
    return header(id_, flags, rcode, aa=False)


def txt_rdata(value):
    """A value is a string (split into 255-octet character-strings) or a list of strings
    (each one or more character-strings, in order)."""
    parts = value if isinstance(value, list) else [value]
    out = bytearray()
    for part in parts:
        b = part.encode("utf-8")
        chunks = [b[i:i + 255] for i in range(0, len(b), 255)] or [b""]
        for c in chunks:
            out.append(len(c))
            out += c
    if not parts:
        out.append(0)
    return bytes(out)


def build(q, rcode, rrs, tc=False, badvers=False):
    question = encode_name(q.labels) + struct.pack("!HH", q.qtype, q.qclass)
    answers = b"".join(b"\xc0\x0c" + struct.pack("!HHIH", rtype, C_IN, 0, len(rd)) + rd
                       for rtype, rd in rrs)
    opt = b""
    if q.edns is not None:
        opt = b"\0" + struct.pack("!HHIH", T_OPT, EDNS_OURS, (1 << 24) if badvers else 0, 0)
    return (header(q.id, q.flags, rcode, tc, 1, len(rrs), 1 if opt else 0)
            + question + answers + opt)


# ---------------------------------------------------------------------------- state

def check_values(rtype, values):
    if not isinstance(values, list):
        raise BadRequest("%s values must be a JSON list" % rtype)
    for v in values:
        if rtype == "A":
            try:
                ipaddress.IPv4Address(v)
            except (ValueError, TypeError):
                raise BadRequest("A values must be dotted-quad IPv4 addresses: %r" % (v,))
            continue
        parts = v if isinstance(v, list) else [v]
        if not all(isinstance(p, str) for p in parts):
            raise BadRequest("a TXT value is a string or a list of strings")
        if sum(len(p.encode("utf-8")) for p in parts) > MAX_TXT_BYTES:
            raise BadRequest("a TXT value is at most %d bytes" % MAX_TXT_BYTES)
    return list(values)


def check_zone(obj):
    """{"TXT": {name: [values]}, "A": {name: [addresses]}} -> normalised copy."""
    if not isinstance(obj, dict):
        raise BadRequest("records must be a JSON object")
    zone = {t: {} for t in ZONE_TYPES}
    for rtype, names in obj.items():
        t = str(rtype).upper()
        if t not in ZONE_TYPES:
            raise BadRequest("record types are TXT and A, not %r" % rtype)
        if not isinstance(names, dict):
            raise BadRequest("%s must map names to lists" % t)
        for name, values in names.items():
            values = check_values(t, values)
            if values:
                zone[t].setdefault(norm_name(name), []).extend(values)
    return zone


def check_config(obj):
    if not isinstance(obj, dict):
        raise BadRequest("config must be a JSON object")
    out = {}
    for k, v in obj.items():
        if k not in DEFAULT_CONFIG:
            raise BadRequest("unknown knob %r (knobs: %s)" % (k, ", ".join(DEFAULT_CONFIG)))
        if k == "delay_ms":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 60000:
                raise BadRequest("delay_ms is a number 0..60000")
        elif not isinstance(v, bool):
            raise BadRequest("%s is true or false" % k)
        out[k] = v
    return out


class Zone:
    """Records, knobs and counters; every public method takes the lock."""

    def __init__(self, records):
        self.lock = threading.Lock()
        self.records = check_zone(records)
        self.config = dict(DEFAULT_CONFIG)
        self.reset_stats()

    def reset_stats(self):
        with self.lock:
            self.stats = {"queries": 0, "udp": 0, "tcp": 0, "by_rcode": {}, "by_name": {}}

    def dump(self):
        with self.lock:
            return {t: {k: list(v) for k, v in sorted(names.items())}
                    for t, names in self.records.items()}

    def replace_all(self, obj):
        zone = check_zone(obj)
        with self.lock:
            self.records = zone

    def put(self, rtype, name, values):
        name, values = norm_name(name), check_values(rtype, values)
        with self.lock:
            if values:
                self.records[rtype][name] = values
            else:
                self.records[rtype].pop(name, None)
        return name, values

    def get(self, rtype, name):
        name = norm_name(name)
        with self.lock:
            return name, list(self.records[rtype].get(name, []))

    def delete(self, rtype, name):
        name = norm_name(name)
        with self.lock:
            return name, self.records[rtype].pop(name, None) is not None

    def set_config(self, obj):
        upd = check_config(obj)
        with self.lock:
            self.config.update(upd)
            return dict(self.config)

    def get_config(self):
        with self.lock:
            return dict(self.config)

    def lookup(self, key, rtype):
        """(name exists, values of rtype).  A name exists if it or a name below it holds
        any record (so empty non-terminals answer NOERROR, RFC 8020)."""
        with self.lock:
            vals = list(self.records.get(rtype, {}).get(key, []))
            if vals:
                return True, vals
            suffix = "." + key
            exists = any(k == key or k.endswith(suffix)
                         for names in self.records.values() for k in names)
            return exists, vals

    def count(self, proto, key, tname, rcode):
        with self.lock:
            s = self.stats
            s["queries"] += 1
            s[proto] += 1
            s["by_rcode"][rcode] = s["by_rcode"].get(rcode, 0) + 1
            if key is not None:
                per = s["by_name"].setdefault(key, {})
                per[tname] = per.get(tname, 0) + 1

    def get_stats(self):
        with self.lock:
            return json.loads(json.dumps(self.stats))


# ---------------------------------------------------------------------------- answering

def type_name(t):
    return TYPE_NAMES.get(t, "TYPE%d" % t)


def answer(zone, msg, proto):
    """Work out the reply to one message.  Returns (reply bytes or None, delay seconds,
    name for the log/stats or None, type name, rcode name).  Never raises."""
    cfg = zone.get_config()
    delay = cfg["delay_ms"] / 1000.0
    key, tname = None, "-"
    try:
        try:
            q = parse_query(msg)
        except Ignore:
            return None, 0, None, "-", "IGNORED"
        except FormErr:
            reply, rname = header_only(msg, FORMERR), "FORMERR"
        except NotImplementedError:
            reply, rname = header_only(msg, NOTIMP), "NOTIMP"
        else:
            key, tname = wire_key(q.labels) or ".", type_name(q.qtype)
            reply, rname = respond(zone, q, proto, cfg)
        if cfg["drop"]:
            return None, 0, key, tname, "DROPPED"
        return reply, delay, key, tname, rname
    except Exception as e:                       # a bug: answer SERVFAIL, stay up
        try:
            return header_only(msg, SERVFAIL), delay, key, tname, "SERVFAIL(%s)" % type(e).__name__
        except Exception:
            return None, 0, key, tname, "IGNORED(%s)" % type(e).__name__


def respond(zone, q, proto, cfg):
    if q.edns is not None and q.edns[1] != 0:
        return build(q, NOERROR, [], badvers=True), "BADVERS"
    if q.qclass not in (C_IN, C_ANY):
        return build(q, REFUSED, []), "REFUSED"
    if q.qtype in (T_AXFR, T_IXFR):
        return build(q, REFUSED, []), "REFUSED"
    if cfg["servfail"]:
        return build(q, SERVFAIL, []), "SERVFAIL"
    key = wire_key(q.labels)
    rtype = {T_TXT: "TXT", T_ANY: "TXT", T_A: "A"}.get(q.qtype)
    exists, values = zone.lookup(key, rtype) if rtype else zone.lookup(key, None)
    if not exists:
        return build(q, NXDOMAIN, []), "NXDOMAIN"
    if rtype == "TXT":
        rrs = [(T_TXT, txt_rdata(v)) for v in values]
    elif rtype == "A":
        rrs = [(T_A, ipaddress.IPv4Address(v).packed) for v in values]
    else:
        rrs = []
    reply = build(q, NOERROR, rrs)
    if proto == "udp":
        limit = UDP_PLAIN
        if q.edns is not None:
            limit = max(UDP_PLAIN, min(q.edns[0], UDP_EDNS_MAX))
        if cfg["truncate"] or len(reply) > limit:
            return build(q, NOERROR, [], tc=True), "NOERROR(TC)"
    elif len(reply) > 0xFFFF:
        return build(q, SERVFAIL, []), "SERVFAIL(too-big)"
    return reply, "NOERROR"


# ---------------------------------------------------------------------------- servers

class Log:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.f = open(path, "a", buffering=1) if path else sys.stderr

    def query(self, proto, key, tname, rname):
        t = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)
        with self.lock:
            try:
                self.f.write("%s %s %s %s %s\n" % (stamp, proto, key or "-", tname, rname))
                self.f.flush()
            except (OSError, ValueError):
                pass


def serve_one(server, msg, proto):
    """Answer one message; returns the reply bytes or None, after any delay."""
    reply, delay, key, tname, rname = answer(server.zone, msg, proto)
    server.zone.count(proto, key, tname, rname)
    server.log.query(proto, key, tname, rname)
    if reply is not None and delay > 0:
        time.sleep(delay)
    return reply


class UDPHandler(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        reply = serve_one(self.server, data, "udp")
        if reply is not None:
            try:
                sock.sendto(reply, self.client_address)
            except OSError:
                pass


class TCPHandler(socketserver.BaseRequestHandler):
    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.request.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def handle(self):
        self.request.settimeout(TCP_IDLE)
        try:
            while True:
                head = self.recv_exact(2)
                if head is None:
                    return
                msg = self.recv_exact(struct.unpack("!H", head)[0])
                if msg is None:
                    return
                reply = serve_one(self.server, msg, "tcp")
                if reply is not None:
                    self.request.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return


class Quiet:
    """No tracebacks on stderr: the log carries query lines and nothing else."""
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class UDPServer(Quiet, socketserver.ThreadingUDPServer):
    max_packet_size = 65535
    allow_reuse_address = False

    def server_bind(self):
        try:                    # room for bursts (the kernel caps it at rmem_max)
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        except OSError:
            pass
        super().server_bind()


class TCPServer(Quiet, socketserver.ThreadingTCPServer):
    allow_reuse_address = True


class ControlServer(Quiet, ThreadingHTTPServer):
    pass


class Control(BaseHTTPRequestHandler):
    server_version = "accupredix-dns-standin"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, obj):
        body = (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body_json(self):
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BadRequest("bad Content-Length")
        if not 0 < n <= MAX_BODY:
            raise BadRequest("a JSON body of 1..%d bytes is required" % MAX_BODY)
        raw = self.rfile.read(n)
        try:
            return json.loads(raw)
        except ValueError:
            raise BadRequest("body is not JSON")

    def route(self, method):
        zone = self.server.zone
        parts = urlsplit(self.path).path.split("/")[1:]
        if parts and parts[-1] == "" and len(parts) > 1:
            parts = parts[:-1]
        if parts == ["records"]:
            if method == "GET":
                return 200, zone.dump()
            if method == "PUT":
                zone.replace_all(self.body_json())
                return 200, zone.dump()
        elif len(parts) == 3 and parts[0] == "records":
            rtype = parts[1].upper()
            if rtype not in ZONE_TYPES:
                return 404, {"error": "record types are TXT and A"}
            name = unquote(parts[2])
            if method == "GET":
                name, values = zone.get(rtype, name)
                if not values:
                    return 404, {"error": "no %s records at %s" % (rtype, name)}
                return 200, {"name": name, "type": rtype, "values": values}
            if method == "PUT":
                name, values = zone.put(rtype, name, self.body_json())
                return 200, {"name": name, "type": rtype, "values": values}
            if method == "DELETE":
                name, existed = zone.delete(rtype, name)
                return 200, {"name": name, "type": rtype, "deleted": existed}
        elif parts == ["stats"]:
            if method == "GET":
                return 200, zone.get_stats()
            if method == "DELETE":
                zone.reset_stats()
                return 200, zone.get_stats()
        elif parts == ["config"]:
            if method == "GET":
                return 200, zone.get_config()
            if method == "POST":
                return 200, zone.set_config(self.body_json())
        else:
            return 404, {"error": "no such resource"}
        return 405, {"error": "method not allowed"}

    def dispatch(self, method):
        try:
            status, obj = self.route(method)
        except BadRequest as e:
            status, obj = 400, {"error": str(e)}
        except Exception as e:
            status, obj = 500, {"error": type(e).__name__}
        self.send_json(status, obj)

    def do_GET(self):
        self.dispatch("GET")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")


def bind_dns(port):
    """UDP and TCP on the same port of 127.0.0.1 (port 0: a free one for both)."""
    for _ in range(100):
        udp = UDPServer(("127.0.0.1", port), UDPHandler)
        try:
            tcp = TCPServer(("127.0.0.1", udp.server_address[1]), TCPHandler)
        except OSError:
            udp.server_close()
            if port:
                raise
            continue
        return udp, tcp
    raise OSError("no port free for both UDP and TCP")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True, help="UDP+TCP port on 127.0.0.1 (0 = any free)")
    ap.add_argument("--records", required=True, help='JSON {"TXT": {name: [values]}, "A": {...}}')
    ap.add_argument("--pidfile", help="write the process id here")
    ap.add_argument("--log", help="append one line per query here (default: stderr)")
    ap.add_argument("--control-port", type=int, default=0, help="HTTP control port (0 = any free)")
    args = ap.parse_args(argv)

    try:
        with open(args.records) as f:
            zone = Zone(json.load(f))
    except (OSError, ValueError, BadRequest) as e:
        print("dns.py: cannot load %s: %s" % (args.records, e), file=sys.stderr)
        return 2
    try:
        udp, tcp = bind_dns(args.port)
        ctl = ControlServer(("127.0.0.1", args.control_port), Control)
    except OSError as e:
        print("dns.py: cannot bind: %s" % e, file=sys.stderr)
        return 1
    log = Log(args.log)
    servers = (udp, tcp, ctl)
    for s in servers:
        s.zone, s.log = zone, log
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    for s in servers:
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    print("listening 127.0.0.1:%d control=http://127.0.0.1:%d"
          % (udp.server_address[1], ctl.server_address[1]), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        # The serving threads are daemons: they die with the process.  (Closing their
        # sockets under them would only risk a traceback on stderr.)
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
