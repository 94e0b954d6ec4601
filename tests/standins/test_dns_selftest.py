"""Self-test of the DNS stand-in (tests/standins/dns.py).

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/standins/test_dns_selftest.py

Starts the server on free ports in a subprocess and queries it three ways: a small
standard-library client written here (independent of the server's own parser), glibc's
resolver API through a C program compiled into a temporary directory under /tmp (skipped
without `cc`), and `dig` (skipped when not installed).
"""
import http.client
import importlib.util
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "dns.py")
CHALLENGE = "_accupredix-challenge.example-agency.test"
LONG = "k=" + "".join(chr(ord("a") + i % 26) for i in range(598))       # 600 bytes
RECORDS = {
    "TXT": {
        CHALLENGE: ["apx-verify=TOKEN"],
        "multi.example-agency.test": ["apx-verify=ONE", "apx-verify=TWO"],
        "parts.example-agency.test": [["apx-verify=", "SPLIT"]],
        "long.example-agency.test.": [LONG[:300]],
        "huge.example-agency.test": [LONG],
        "Mixed.Case.TEST": ["mixed"],
    },
    "A": {"www.example-agency.test": ["127.0.0.1", "127.0.0.2"]},
}
DEFAULT_CONFIG = {"delay_ms": 0, "drop": False, "servfail": False, "truncate": False}
T_A, T_TXT, T_AAAA, T_OPT, T_ANY = 1, 16, 28, 41, 255
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (udp|tcp) \S+ \S+ [A-Z]+(\(\S+\))?$")


# ---------------------------------------------------------------------------- server

def start(tmp, records=RECORDS):
    rec, pidfile, log = tmp / "records.json", tmp / "dns.pid", tmp / "dns.log"
    rec.write_text(json.dumps(records))
    proc = subprocess.Popen(["/usr/bin/python3", SERVER, "--port", "0", "--records", str(rec),
                             "--pidfile", str(pidfile), "--log", str(log),
                             "--control-port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.fullmatch(r"listening 127\.0\.0\.1:(\d+) control=http://127\.0\.0\.1:(\d+)\n", line)
    assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
    return {"port": int(m.group(1)), "cport": int(m.group(2)), "proc": proc,
            "pidfile": pidfile, "log": log}


def stop(s):
    if s["proc"].poll() is None:
        s["proc"].send_signal(signal.SIGTERM)
        s["proc"].wait(10)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = start(tmp_path_factory.mktemp("dns"))
    yield s
    stop(s)


@pytest.fixture(autouse=True)
def clean(request):
    """Every test starts from the records file, default knobs and zero counters."""
    if "srv" in request.fixturenames:
        s = request.getfixturevalue("srv")
        assert ctl(s, "PUT", "/records", RECORDS)[0] == 200
        assert ctl(s, "POST", "/config", DEFAULT_CONFIG)[0] == 200
        assert ctl(s, "DELETE", "/stats")[0] == 200
    yield


def ctl(s, method, path, body=None, raw=None):
    c = http.client.HTTPConnection("127.0.0.1", s["cport"], timeout=10)
    try:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        c.request(method, path, body=data,
                  headers={"Content-Type": "application/json"} if data is not None else {})
        r = c.getresponse()
        return r.status, json.loads(r.read())
    finally:
        c.close()


# ---------------------------------------------------------------------------- client

def qname(name):
    return b"".join(bytes((len(l),)) + l for l in name.rstrip(".").encode().split(b".")) + b"\0"


def make_query(name, qtype=T_TXT, qid=None, edns=None, flags=0x0100):
    qid = random.randrange(65536) if qid is None else qid
    msg = struct.pack("!6H", qid, flags, 1, 0, 0, 0 if edns is None else 1)
    msg += qname(name) + struct.pack("!HH", qtype, 1)
    if edns is not None:                                    # (payload size, version)
        msg += b"\0" + struct.pack("!HHIH", T_OPT, edns[0], edns[1] << 16, 0)
    return msg


def skip_name(msg, pos):
    while True:
        b = msg[pos]
        if b & 0xC0 == 0xC0:
            return pos + 2
        if b == 0:
            return pos + 1
        pos += 1 + b


def parse(msg):
    """Decode a response: header fields, raw question, answer and additional records."""
    qid, flags, qd, an, ns, ar = struct.unpack_from("!6H", msg)
    r = {"id": qid, "qr": bool(flags & 0x8000), "opcode": (flags >> 11) & 0xF,
         "aa": bool(flags & 0x0400), "tc": bool(flags & 0x0200), "rd": bool(flags & 0x0100),
         "ra": bool(flags & 0x0080), "rcode": flags & 0xF, "counts": (qd, an, ns, ar),
         "answers": [], "additional": []}
    pos = 12
    start = pos
    for _ in range(qd):
        pos = skip_name(msg, pos) + 4
    r["question"] = msg[start:pos]
    for section, count in (("answers", an), (None, ns), ("additional", ar)):
        for _ in range(count):
            owner = msg[pos:pos + 2]
            pos = skip_name(msg, pos)
            rtype, rclass, ttl, rdlen = struct.unpack_from("!HHIH", msg, pos)
            pos += 10
            rdata = msg[pos:pos + rdlen]
            assert len(rdata) == rdlen
            pos += rdlen
            if section:
                r[section].append({"owner": owner, "type": rtype, "class": rclass,
                                   "ttl": ttl, "rdata": rdata})
    assert pos == len(msg), "trailing bytes in the response"
    return r


def txt_strings(rdata):
    out, pos = [], 0
    while pos < len(rdata):
        n = rdata[pos]
        out.append(rdata[pos + 1:pos + 1 + n].decode())
        assert pos + 1 + n <= len(rdata)
        pos += 1 + n
    return out


def udp(s, msg, timeout=2.0):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(msg, ("127.0.0.1", s["port"]))
        try:
            return sock.recv(65535)
        except socket.timeout:
            return None


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def tcp(s, *msgs, timeout=5.0):
    """Send every message on one connection (pipelined), then read one reply each."""
    with socket.create_connection(("127.0.0.1", s["port"]), timeout=timeout) as sock:
        sock.sendall(b"".join(struct.pack("!H", len(m)) + m for m in msgs))
        out = []
        for _ in msgs:
            n = struct.unpack("!H", recv_exact(sock, 2))[0]
            out.append(recv_exact(sock, n))
        return out


def ask(s, name, qtype=T_TXT, proto="udp", **kw):
    q = make_query(name, qtype, **kw)
    raw = udp(s, q) if proto == "udp" else tcp(s, q)[0]
    assert raw is not None, "no answer"
    r = parse(raw)
    assert r["id"] == struct.unpack_from("!H", q)[0] and r["qr"]
    assert r["question"] == q[12:12 + len(r["question"])], "question not echoed"
    return r


def txts(r):
    assert all(a["type"] == T_TXT and a["class"] == 1 and a["ttl"] == 0 for a in r["answers"])
    return sorted(txt_strings(a["rdata"]) for a in r["answers"])


# ---------------------------------------------------------------------------- basics

def test_startup_pidfile_and_records_listing(srv):
    assert int(srv["pidfile"].read_text()) == srv["proc"].pid
    st, recs = ctl(srv, "GET", "/records")
    assert st == 200
    assert recs["TXT"][CHALLENGE] == ["apx-verify=TOKEN"]
    # names are stored lower case, without the trailing dot
    assert "mixed.case.test" in recs["TXT"] and "long.example-agency.test" in recs["TXT"]
    assert recs["A"] == {"www.example-agency.test": ["127.0.0.1", "127.0.0.2"]}


def test_txt_hit(srv):
    r = ask(srv, CHALLENGE)
    assert r["rcode"] == NOERROR and r["aa"] and r["rd"] and not r["tc"] and not r["ra"]
    assert r["counts"] == (1, 1, 0, 0)
    assert r["answers"][0]["owner"] == b"\xc0\x0c"
    assert txts(r) == [["apx-verify=TOKEN"]]


def test_multiple_values_and_explicit_strings(srv):
    assert txts(ask(srv, "multi.example-agency.test")) == [["apx-verify=ONE"], ["apx-verify=TWO"]]
    assert txts(ask(srv, "parts.example-agency.test")) == [["apx-verify=", "SPLIT"]]


def test_value_over_255_bytes_is_split_into_character_strings(srv):
    (strings,) = txts(ask(srv, "long.example-agency.test"))
    assert [len(x) for x in strings] == [255, 45] and "".join(strings) == LONG[:300]


def test_nxdomain_nodata_and_empty_non_terminal(srv):
    r = ask(srv, "nope.example-agency.test")
    assert r["rcode"] == NXDOMAIN and r["aa"] and r["answers"] == []
    r = ask(srv, "www.example-agency.test")                 # has A, no TXT
    assert r["rcode"] == NOERROR and r["aa"] and r["answers"] == []
    r = ask(srv, CHALLENGE, T_AAAA)                         # has TXT, no AAAA
    assert r["rcode"] == NOERROR and r["answers"] == []
    r = ask(srv, "example-agency.test")                     # only names below it exist
    assert r["rcode"] == NOERROR and r["answers"] == []


def test_a_and_any(srv):
    r = ask(srv, "WWW.example-agency.test", T_A)
    assert r["rcode"] == NOERROR
    assert sorted(socket.inet_ntoa(a["rdata"]) for a in r["answers"]) == ["127.0.0.1", "127.0.0.2"]
    assert all(a["type"] == T_A and a["ttl"] == 0 for a in r["answers"])
    assert txts(ask(srv, CHALLENGE, T_ANY)) == [["apx-verify=TOKEN"]]     # ANY -> TXT only
    r = ask(srv, "www.example-agency.test", T_ANY)
    assert r["rcode"] == NOERROR and r["answers"] == []


def test_case_insensitive_and_question_echoed_verbatim(srv):
    q = make_query("_ACCUPREDIX-Challenge.Example-AGENCY.test.")
    r = parse(udp(srv, q))
    assert r["question"] == q[12:] and b"Example-AGENCY" in r["question"]
    assert txts(r) == [["apx-verify=TOKEN"]]
    assert txts(ask(srv, "mixed.case.test")) == [["mixed"]]


def test_runtime_changes_through_control_api(srv):
    name = "_accupredix-challenge.New-Agency.test."
    assert ask(srv, name)["rcode"] == NXDOMAIN
    st, body = ctl(srv, "PUT", "/records/TXT/" + name, ["apx-verify=abc", "other"])
    assert st == 200 and body == {"name": "_accupredix-challenge.new-agency.test", "type": "TXT",
                                  "values": ["apx-verify=abc", "other"]}
    assert txts(ask(srv, name)) == [["apx-verify=abc"], ["other"]]
    assert ctl(srv, "GET", "/records/txt/_ACCUPREDIX-challenge.new-agency.test")[1]["values"] == \
        ["apx-verify=abc", "other"]
    ctl(srv, "PUT", "/records/TXT/" + name, ["apx-verify=rotated"])              # replaces
    assert txts(ask(srv, name)) == [["apx-verify=rotated"]]
    assert ctl(srv, "PUT", "/records/A/" + name, ["10.0.0.1"])[0] == 200
    st, body = ctl(srv, "DELETE", "/records/TXT/" + name)
    assert st == 200 and body["deleted"] is True
    assert ctl(srv, "DELETE", "/records/TXT/" + name)[1]["deleted"] is False
    r = ask(srv, name)                                       # A left: NOERROR, no TXT
    assert r["rcode"] == NOERROR and r["answers"] == []
    ctl(srv, "DELETE", "/records/A/" + name)
    assert ask(srv, name)["rcode"] == NXDOMAIN
    assert ctl(srv, "GET", "/records/TXT/" + name)[0] == 404


def test_stats(srv):
    ask(srv, CHALLENGE)
    ask(srv, CHALLENGE.upper())
    ask(srv, CHALLENGE, T_A)
    ask(srv, "nope.test", proto="tcp")
    st, stats = ctl(srv, "GET", "/stats")
    assert st == 200
    assert stats["queries"] == 4 and stats["udp"] == 3 and stats["tcp"] == 1
    assert stats["by_name"][CHALLENGE] == {"TXT": 2, "A": 1}
    assert stats["by_name"]["nope.test"] == {"TXT": 1}
    assert stats["by_rcode"] == {"NOERROR": 3, "NXDOMAIN": 1}


def test_control_api_rejects_bad_input(srv):
    assert ctl(srv, "PUT", "/records/TXT/x.test", raw=b"not json")[0] == 400
    assert ctl(srv, "PUT", "/records/TXT/x.test", {"a": 1})[0] == 400
    assert ctl(srv, "PUT", "/records/TXT/x.test", [1])[0] == 400
    assert ctl(srv, "PUT", "/records/TXT/a..b", ["v"])[0] == 400
    assert ctl(srv, "PUT", "/records/TXT/" + "a" * 64 + ".test", ["v"])[0] == 400
    assert ctl(srv, "PUT", "/records/TXT/sp%20ace.test", ["v"])[0] == 400
    assert ctl(srv, "PUT", "/records/A/x.test", ["not-an-ip"])[0] == 400
    assert ctl(srv, "PUT", "/records/MX/x.test", ["v"])[0] == 404
    assert ctl(srv, "POST", "/config", {"bogus": 1})[0] == 400
    assert ctl(srv, "POST", "/config", {"drop": "yes"})[0] == 400
    assert ctl(srv, "POST", "/config", {"delay_ms": -1})[0] == 400
    assert ctl(srv, "PUT", "/records", {"MX": {}})[0] == 400
    assert ctl(srv, "GET", "/nothing")[0] == 404
    assert ctl(srv, "POST", "/records")[0] == 405
    assert ctl(srv, "GET", "/config")[1] == DEFAULT_CONFIG
    assert ctl(srv, "GET", "/records")[1]["TXT"][CHALLENGE] == ["apx-verify=TOKEN"]


# ---------------------------------------------------------------------------- transports

def test_tcp_answers_and_pipelines(srv):
    q1, q2 = make_query(CHALLENGE), make_query("long.example-agency.test")
    r1, r2 = (parse(x) for x in tcp(srv, q1, q2))
    assert r1["id"] == struct.unpack_from("!H", q1)[0] and txts(r1) == [["apx-verify=TOKEN"]]
    assert r2["id"] == struct.unpack_from("!H", q2)[0] and [len(x) for x in txts(r2)[0]] == [255, 45]
    assert ctl(srv, "GET", "/stats")[1]["tcp"] == 2


def test_big_answer_truncated_on_udp_unless_edns_allows(srv):
    r = ask(srv, "huge.example-agency.test")                   # > 512 bytes
    assert r["tc"] and r["rcode"] == NOERROR and r["answers"] == []
    r = ask(srv, "huge.example-agency.test", proto="tcp")
    assert not r["tc"] and "".join(txts(r)[0]) == LONG
    r = ask(srv, "huge.example-agency.test", edns=(1232, 0))
    assert not r["tc"] and "".join(txts(r)[0]) == LONG
    assert r["additional"][0]["type"] == T_OPT


def test_edns_bad_version(srv):
    r = ask(srv, CHALLENGE, edns=(1232, 1))
    opt = r["additional"][0]
    assert opt["type"] == T_OPT and (opt["ttl"] >> 24) == 1 and r["rcode"] == 0   # BADVERS (16)
    assert r["answers"] == []


def test_knob_servfail(srv):
    ctl(srv, "POST", "/config", {"servfail": True})
    assert ask(srv, CHALLENGE)["rcode"] == SERVFAIL
    assert ask(srv, CHALLENGE, proto="tcp")["rcode"] == SERVFAIL
    ctl(srv, "POST", "/config", {"servfail": False})
    assert txts(ask(srv, CHALLENGE)) == [["apx-verify=TOKEN"]]


def test_knob_drop(srv):
    ctl(srv, "POST", "/config", {"drop": True})
    assert udp(srv, make_query(CHALLENGE), timeout=0.5) is None
    with pytest.raises(socket.timeout):
        tcp(srv, make_query(CHALLENGE), timeout=0.5)
    assert ctl(srv, "GET", "/stats")[1]["by_rcode"] == {"DROPPED": 2}
    ctl(srv, "POST", "/config", {"drop": False})
    assert txts(ask(srv, CHALLENGE)) == [["apx-verify=TOKEN"]]


def test_knob_delay(srv):
    ctl(srv, "POST", "/config", {"delay_ms": 400})
    t0 = time.monotonic()
    assert udp(srv, make_query(CHALLENGE), timeout=0.2) is None            # a client giving up
    r = ask(srv, CHALLENGE)
    assert time.monotonic() - t0 >= 0.55 and txts(r) == [["apx-verify=TOKEN"]]
    t0 = time.monotonic()
    assert txts(ask(srv, CHALLENGE, proto="tcp")) == [["apx-verify=TOKEN"]]
    assert time.monotonic() - t0 >= 0.35


def test_knob_truncate(srv):
    ctl(srv, "POST", "/config", {"truncate": True})
    r = ask(srv, CHALLENGE)
    assert r["tc"] and r["aa"] and r["answers"] == [] and r["counts"][0] == 1
    r = ask(srv, CHALLENGE, proto="tcp")
    assert not r["tc"] and txts(r) == [["apx-verify=TOKEN"]]


# ---------------------------------------------------------------------------- malformed input

def hdr(qid=0x1234, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!6H", qid, flags, qd, an, ns, ar)


TAIL = struct.pack("!HH", T_TXT, 1)
MALFORMED = {   # name: (packet, expected rcode or None for no answer)
    "empty": (b"", None),
    "3 bytes": (b"\x12\x34\x01", None),
    "11 bytes": (hdr()[:11], None),
    "a response (QR set)": (hdr(flags=0x8100) + qname("x.test") + TAIL, None),
    "header only": (hdr(), FORMERR),
    "qdcount 0": (hdr(qd=0), FORMERR),
    "huge qdcount": (hdr(qd=65535) + qname(CHALLENGE) + TAIL, FORMERR),
    "two questions": (hdr(qd=2) + (qname(CHALLENGE) + TAIL) * 2, FORMERR),
    "ancount set": (hdr(an=1) + qname(CHALLENGE) + TAIL, FORMERR),
    "huge arcount": (hdr(ar=65535) + qname(CHALLENGE) + TAIL, FORMERR),
    "question cut short": (hdr() + qname(CHALLENGE) + TAIL[:3], FORMERR),
    "no root label": (hdr() + qname(CHALLENGE)[:-1], FORMERR),
    "label past the end": (hdr() + b"\x3fabc", FORMERR),
    "pointer to itself": (hdr() + b"\xc0\x0c" + TAIL, FORMERR),
    "pointer loop via a label": (hdr() + b"\x01a\xc0\x0c" + TAIL, FORMERR),
    "two pointers in a loop": (hdr() + b"\xc0\x0e\xc0\x0c" + TAIL, FORMERR),
    "pointer forward": (hdr() + b"\x01a\xc0\x20" + TAIL + b"\0" * 20, FORMERR),
    "pointer into the header": (hdr() + b"\xc0\x02" + TAIL, FORMERR),
    "pointer cut short": (hdr() + b"\x01a\xc0", FORMERR),
    "reserved label type": (hdr() + b"\x41a\x00" + TAIL, FORMERR),
    "name over 255 octets": (hdr() + (b"\x3f" + b"a" * 63) * 4 + b"\0" + TAIL, FORMERR),
    "additional record cut short": (hdr(ar=1) + qname(CHALLENGE) + TAIL + b"\0\0\x29\x04", FORMERR),
    "rdlength past the end": (hdr(ar=1) + qname(CHALLENGE) + TAIL
                              + b"\0" + struct.pack("!HHIH", T_OPT, 512, 0, 50), FORMERR),
    "two OPT records": (hdr(ar=2) + qname(CHALLENGE) + TAIL
                        + (b"\0" + struct.pack("!HHIH", T_OPT, 512, 0, 0)) * 2, FORMERR),
    "opcode STATUS": (hdr(flags=2 << 11) + qname(CHALLENGE) + TAIL, NOTIMP),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_udp(srv, case):
    packet, want = MALFORMED[case]
    raw = udp(srv, packet, timeout=0.3 if want is None else 2.0)
    if want is None:
        assert raw is None
    else:
        r = parse(raw)
        assert r["qr"] and r["rcode"] == want and r["id"] == 0x1234
        assert r["counts"] == (0, 0, 0, 0)
    assert srv["proc"].poll() is None
    assert txts(ask(srv, CHALLENGE)) == [["apx-verify=TOKEN"]]


def test_backward_pointer_elsewhere_is_accepted(srv):
    # An extra additional record whose owner name points back at the question name.
    q = hdr(ar=1) + qname(CHALLENGE) + TAIL + b"\xc0\x0c" + struct.pack("!HHIH", T_TXT, 1, 0, 2) + b"\x01x"
    r = parse(udp(srv, q))
    assert r["rcode"] == NOERROR and txts(r) == [["apx-verify=TOKEN"]]


def test_malformed_tcp(srv):
    (raw,) = tcp(srv, hdr() + b"\xc0\x0c" + TAIL)
    assert parse(raw)["rcode"] == FORMERR
    with socket.create_connection(("127.0.0.1", srv["port"]), timeout=5) as sock:
        sock.sendall(b"\x00\x40abc")                    # promises 64 bytes, sends 3, hangs up
    with socket.create_connection(("127.0.0.1", srv["port"]), timeout=5) as sock:
        sock.sendall(b"\x01")                           # half a length prefix
    assert txts(ask(srv, CHALLENGE, proto="tcp")) == [["apx-verify=TOKEN"]]


def test_random_packets_over_udp(srv):
    rnd = random.Random(1035)
    valid = make_query(CHALLENGE, qid=7)
    packets = [bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 200))) for _ in range(150)]
    for _ in range(150):                                 # mutated valid queries
        p = bytearray(valid[:rnd.randrange(len(valid) + 1)])
        for _ in range(rnd.randrange(1, 4)):
            if p:
                p[rnd.randrange(len(p))] = rnd.randrange(256)
        packets.append(bytes(p))
    replies = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for i in range(0, len(packets), 25):             # in batches: no buffer overruns
            for p in packets[i:i + 25]:
                sock.sendto(p, ("127.0.0.1", srv["port"]))
            deadline = time.monotonic() + 5
            while ctl(srv, "GET", "/stats")[1]["queries"] < min(i + 25, len(packets)):
                assert time.monotonic() < deadline, "server lost packets"
                time.sleep(0.02)
            sock.settimeout(0.05)
            try:
                while True:
                    replies.append(sock.recv(65535))
            except socket.timeout:
                pass
    assert replies
    for raw in replies:                                  # every reply is itself well formed
        r = parse(raw)
        assert r["qr"] and r["rcode"] in (NOERROR, FORMERR, NXDOMAIN, NOTIMP, REFUSED)
    assert srv["proc"].poll() is None
    assert txts(ask(srv, CHALLENGE)) == [["apx-verify=TOKEN"]]
    assert ctl(srv, "GET", "/stats")[1]["queries"] == len(packets) + 1


def load_module():
    spec = importlib.util.spec_from_file_location("accupredix_dns_standin", SERVER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_parser_fuzz_in_process():
    """Thousands of random and mutated messages straight into the parser and the answer
    function: only the parser's own refusals, never another exception, never a hang."""
    mod = load_module()
    zone = mod.Zone(RECORDS)
    rnd = random.Random(4035)
    seeds = [make_query(CHALLENGE), make_query("x.test", edns=(4096, 0)),
             hdr(ar=1) + qname(CHALLENGE) + TAIL + b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 0, 0)]
    for i in range(20000):
        if i % 3 == 0:
            p = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 80)))
        else:
            p = bytearray(rnd.choice(seeds))
            for _ in range(rnd.randrange(1, 5)):
                p[rnd.randrange(len(p))] = rnd.choice((0, 0xC0, 0x3F, 0xFF, rnd.randrange(256)))
            p = bytes(p[:rnd.randrange(len(p) + 1)] if rnd.random() < 0.3 else p)
        try:
            mod.parse_query(p)
        except (mod.FormErr, mod.Ignore, NotImplementedError):
            pass
        for proto in ("udp", "tcp"):
            reply, _, _, _, rcode = mod.answer(zone, p, proto)
            assert "(" not in rcode or rcode == "NOERROR(TC)", rcode     # no internal error
            if reply is not None:
                parse(reply)


# ---------------------------------------------------------------------------- log, shutdown

def test_log_has_one_line_per_query_and_sigterm_exits_0(tmp_path):
    s = start(tmp_path)
    try:
        ask(s, CHALLENGE)
        ask(s, "nope.test", T_A, proto="tcp")
        udp(s, hdr() + b"\xc0\x0c" + TAIL)
        udp(s, b"xx", timeout=0.3)
        ctl(s, "PUT", "/records/TXT/secret.test", ["apx-verify=SECRET"])   # not logged
        ctl(s, "GET", "/stats")
    finally:
        s["proc"].send_signal(signal.SIGTERM)
        assert s["proc"].wait(10) == 0
    assert s["proc"].stdout.read() == ""                  # nothing after the listening line
    assert s["proc"].stderr.read() == ""
    assert not s["pidfile"].exists()
    lines = s["log"].read_text().splitlines()
    assert len(lines) == 4 and all(LOG_LINE.match(l) for l in lines), lines
    assert [l.split()[1:] for l in lines] == [
        ["udp", CHALLENGE, "TXT", "NOERROR"], ["tcp", "nope.test", "A", "NXDOMAIN"],
        ["udp", "-", "-", "FORMERR"], ["udp", "-", "-", "IGNORED"]]
    assert "SECRET" not in s["log"].read_text()


def test_bad_records_file_exits_2(tmp_path):
    s = tmp_path / "bad.json"
    s.write_text('{"TXT": {"x.test": "not a list"}}')
    p = subprocess.run(["/usr/bin/python3", SERVER, "--port", "0", "--records", str(s)],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and p.stdout == "" and "list" in p.stderr


# ---------------------------------------------------------------------------- glibc resolver

# The recipe documented in DNS.md (test_dns_md_carries_the_c_recipe keeps them equal).
C_SOURCE = r"""
/* txtq PORT NAME [udp|tcp] [timeout-seconds]: TXT lookup through glibc's resolver
   at 127.0.0.1:PORT.  Build: cc -o txtq txtq.c -lresolv */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    struct __res_state res;
    unsigned char ans[65536];
    ns_msg msg;
    ns_rr rr;

    if (argc < 3) return 64;
    memset(&res, 0, sizeof res);
    if (res_ninit(&res) != 0) { puts("ERR res_ninit"); return 3; }
    res.nscount = 1;                                   /* only our server */
    res.nsaddr_list[0].sin_family = AF_INET;
    res.nsaddr_list[0].sin_port = htons((unsigned short)atoi(argv[1]));
    res.nsaddr_list[0].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    res.retrans = argc > 4 ? atoi(argv[4]) : 2;        /* seconds per try */
    res.retry = 1;                                     /* tries */
    if (argc > 3 && strcmp(argv[3], "tcp") == 0) res.options |= RES_USEVC;

    int n = res_nquery(&res, argv[2], ns_c_in, ns_t_txt, ans, sizeof ans);
    if (n < 0) { printf("ERR h_errno=%d\n", res.res_h_errno); res_nclose(&res); return 2; }
    if (ns_initparse(ans, n, &msg) < 0) { puts("ERR ns_initparse"); return 3; }
    for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
        if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) { puts("ERR ns_parserr"); return 3; }
        if (ns_rr_type(rr) != ns_t_txt) continue;
        const unsigned char *p = ns_rr_rdata(rr), *end = p + ns_rr_rdlen(rr);
        printf("RR ttl=%u\n", (unsigned)ns_rr_ttl(rr));
        while (p < end) {                              /* <character-string>s */
            unsigned len = *p++;
            if (len > (unsigned)(end - p)) { puts("ERR rdata"); return 3; }
            printf("S %u %.*s\n", len, (int)len, (const char *)p);
            p += len;
        }
    }
    res_nclose(&res);
    return 0;
}
""".lstrip("\n")

HOST_NOT_FOUND, TRY_AGAIN, NO_RECOVERY, NO_DATA = 1, 2, 3, 4


@pytest.fixture(scope="module")
def txtq():
    cc = shutil.which("cc")
    if not cc:
        pytest.skip("no C compiler (cc)")
    d = tempfile.mkdtemp(prefix="dns-standin-", dir="/tmp")
    try:
        src, exe = os.path.join(d, "txtq.c"), os.path.join(d, "txtq")
        with open(src, "w") as f:
            f.write(C_SOURCE)
        p = subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", exe, src,
                            "-lresolv"], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        yield exe
    finally:
        shutil.rmtree(d, ignore_errors=True)


def glibc(exe, s, name, proto="udp", timeout=2):
    """Returns a list of RRs (each a list of character-strings) or an int h_errno."""
    p = subprocess.run([exe, str(s["port"]), name, proto, str(timeout)],
                       capture_output=True, text=True, timeout=30)
    out = p.stdout.splitlines()
    if p.returncode == 2:
        m = re.fullmatch(r"ERR h_errno=(\d+)", out[0])
        assert m, out
        return int(m.group(1))
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    rrs = []
    for line in out:
        if line.startswith("RR "):
            assert line == "RR ttl=0"
            rrs.append([])
        else:
            _, n, text = line.split(" ", 2)
            assert len(text) == int(n)
            rrs[-1].append(text)
    return sorted(rrs)


def test_glibc_txt_hit_and_case(srv, txtq):
    assert glibc(txtq, srv, CHALLENGE) == [["apx-verify=TOKEN"]]
    assert glibc(txtq, srv, CHALLENGE.upper() + ".") == [["apx-verify=TOKEN"]]
    assert glibc(txtq, srv, "multi.example-agency.test") == [["apx-verify=ONE"], ["apx-verify=TWO"]]
    assert glibc(txtq, srv, "parts.example-agency.test") == [["apx-verify=", "SPLIT"]]


def test_glibc_long_values(srv, txtq):
    (strings,) = glibc(txtq, srv, "long.example-agency.test")
    assert [len(x) for x in strings] == [255, 45] and "".join(strings) == LONG[:300]
    # > 512 bytes: TC over UDP, and glibc retries over TCP by itself
    (strings,) = glibc(txtq, srv, "huge.example-agency.test")
    assert "".join(strings) == LONG
    assert ctl(srv, "GET", "/stats")[1]["by_rcode"] == {"NOERROR": 2, "NOERROR(TC)": 1}


def test_glibc_negative_answers(srv, txtq):
    assert glibc(txtq, srv, "nope.example-agency.test") == HOST_NOT_FOUND       # NXDOMAIN
    assert glibc(txtq, srv, "www.example-agency.test") == NO_DATA               # NOERROR, empty
    ctl(srv, "POST", "/config", {"servfail": True})
    assert glibc(txtq, srv, CHALLENGE) == TRY_AGAIN


def test_glibc_runtime_change(srv, txtq):
    name = "_accupredix-challenge.rotated.test"
    assert glibc(txtq, srv, name) == HOST_NOT_FOUND
    ctl(srv, "PUT", "/records/TXT/" + name, ["apx-verify=NEW"])
    assert glibc(txtq, srv, name) == [["apx-verify=NEW"]]
    ctl(srv, "DELETE", "/records/TXT/" + name)
    assert glibc(txtq, srv, name) == HOST_NOT_FOUND


def test_glibc_tcp_and_truncate(srv, txtq):
    assert glibc(txtq, srv, CHALLENGE, proto="tcp") == [["apx-verify=TOKEN"]]     # RES_USEVC
    ctl(srv, "POST", "/config", {"truncate": True})
    assert glibc(txtq, srv, CHALLENGE) == [["apx-verify=TOKEN"]]                 # TC -> TCP
    stats = ctl(srv, "GET", "/stats")[1]
    assert stats["tcp"] == 2 and stats["by_rcode"]["NOERROR(TC)"] == 1


def test_glibc_delay_and_drop(srv, txtq):
    ctl(srv, "POST", "/config", {"delay_ms": 300})
    assert glibc(txtq, srv, CHALLENGE, timeout=2) == [["apx-verify=TOKEN"]]
    ctl(srv, "POST", "/config", {"delay_ms": 1500})
    t0 = time.monotonic()
    assert glibc(txtq, srv, CHALLENGE, timeout=1) == TRY_AGAIN                   # timed out
    assert time.monotonic() - t0 < 1.45
    ctl(srv, "POST", "/config", {"delay_ms": 0, "drop": True})
    assert glibc(txtq, srv, CHALLENGE, timeout=1) == TRY_AGAIN


def test_dns_md_carries_the_c_recipe():
    with open(os.path.join(HERE, "DNS.md")) as f:
        blocks = re.findall(r"```c\n(.*?)```", f.read(), re.S)
    assert C_SOURCE in blocks


# ---------------------------------------------------------------------------- dig

@pytest.mark.skipif(not shutil.which("dig"), reason="dig not installed (dnsutils)")
def test_dig(srv):
    def dig(*args):
        return subprocess.run(["dig", "@127.0.0.1", "-p", str(srv["port"]), *args],
                              capture_output=True, text=True, timeout=20).stdout
    assert dig("TXT", CHALLENGE, "+short").split("\n")[0] == '"apx-verify=TOKEN"'
    assert dig("TXT", "long.example-agency.test", "+short").count('"') == 4
    assert dig("TXT", "huge.example-agency.test", "+short", "+tcp").count('"') == 6
    assert "status: NXDOMAIN" in dig("TXT", "nope.example-agency.test")
    assert "flags: qr aa" in dig("TXT", CHALLENGE)
