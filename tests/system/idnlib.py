"""Helpers for idnode system tests: start the real binary on loopback ports,
build raw Handle requests, run the CLI. Stdlib only; every wait is bounded."""
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

IDNODE = os.environ.get("IDNODE", os.path.join(os.path.dirname(__file__), "../../build/idnode"))

# PostgreSQL for the tests that run on it too: a libpq URI (scripts/pg.sh
# start prints one, scripts/test exports it). Without it those tests are
# skipped, unless IDN_TEST_PG_REQUIRED=1 makes that a failure.
PG = os.environ.get("IDN_TEST_PG", "")
PG_REQUIRED = os.environ.get("IDN_TEST_PG_REQUIRED") == "1"

# How long a test waits for a node's reaction (ready, a log line, a datagram,
# its exit after SIGTERM) before it fails: generous, since CI runs the suite
# two at a time beside an ASan build and fuzzers on two cores, and a node
# kept off the CPU for seconds is no bug. A passing test never waits it out.
DEADLINE = float(os.environ.get("IDN_TEST_DEADLINE", "60"))


_handed_out = set()


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1, below the kernel's
    ephemeral range (so no outgoing connection of a test running beside
    takes it before the node binds it), and never the same twice in one
    test process."""
    lo = _ephemeral_range()[0]
    top = lo - 1 if lo > 12000 else 60000
    for _ in range(200):
        port = random.randint(10000, top)
        if port in _handed_out:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, \
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                t.bind(("127.0.0.1", port))
                u.bind(("127.0.0.1", port))
                _handed_out.add(port)
                return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def free_port_run(n):
    """A base port with n free consecutive ports (TCP and UDP), or None."""
    for _ in range(20):  # bounded: 20 candidates
        base = free_port()
        if base + n > 65535:
            continue
        socks = []
        try:
            for p in range(base, base + n):
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    s = socket.socket(socket.AF_INET, kind)
                    socks.append(s)
                    s.bind(("127.0.0.1", p))
            _handed_out.update(range(base, base + n))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    return None


def request(handle, op=1, indexes=(), types=(), flags=0x19000000, minor=5, req_id=None,
            body=None, session=0):
    """A whole request: envelope + header + body + empty credential."""
    if body is None:
        h = handle.encode() if isinstance(handle, str) else handle
        body = struct.pack(">I", len(h)) + h
        body += struct.pack(">I", len(indexes)) + b"".join(struct.pack(">I", i) for i in indexes)
        body += struct.pack(">I", len(types))
        for t in types:
            body += struct.pack(">I", len(t)) + t.encode()
    if req_id is None:
        req_id = random.randint(1, 0x7FFFFFFF)
    hdr = struct.pack(">IIIHBBII", op, 0, flags, 0xFFFF, 0, 0, int(time.time()) + 43200, len(body))
    msg = hdr + body + struct.pack(">I", 0)
    env = struct.pack(">BBBBIIII", 2, minor, 0, 0, session, req_id, 0, len(msg))
    return env + msg


def parse_answer(data):
    """(envelope dict, opcode, rcode, flags, body) of a whole answer."""
    major, minor, eflags, sminor, sess, rid, seq, mlen = struct.unpack(">BBBBIIII", data[:20])
    op, rc, flags, serial, rec, _, exp, blen = struct.unpack(">IIIHBBII", data[20:44])
    env = dict(major=major, minor=minor, flags=eflags, sugg_minor=sminor, session=sess,
               request_id=rid, seq=seq, msg_len=mlen)
    return env, op, rc, flags, data[44:44 + blen]


def udp_exchange(port, req, timeout=2.0, host="127.0.0.1", family=socket.AF_INET):
    """Sends one request, reassembles the answer (by message length)."""
    rid = struct.unpack(">I", req[8:12])[0]
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(req, (host, port))
        chunks, total = {}, None
        deadline = time.time() + timeout
        while time.time() < deadline:
            pkt = s.recv(65536)
            if struct.unpack(">I", pkt[8:12])[0] != rid:
                continue
            seq, mlen = struct.unpack(">II", pkt[12:20])
            total = mlen
            chunks[seq] = pkt
            if sum(len(p) - 20 for p in chunks.values()) >= total:
                first = chunks[0]
                body = b"".join(chunks[i][20:] for i in sorted(chunks))
                return first[:20] + body, len(chunks), chunks
        raise TimeoutError("no answer")


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise ConnectionError("closed after %d of %d bytes" % (len(buf), n))
        buf += d
    return buf


def tcp_read_answer(s):
    env = recv_exact(s, 20)
    mlen = struct.unpack(">I", env[16:20])[0]
    return env + recv_exact(s, mlen)


def tcp_exchange(port, req, timeout=3.0, host="127.0.0.1"):
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(req)
        return tcp_read_answer(s)


def psql(uri, sql):
    """Runs one SQL statement with psql on uri; its output, stripped."""
    out = subprocess.run(["psql", "-qAtX", "-v", "ON_ERROR_STOP=1", uri, "-c", sql],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError("psql: %s: %s" % (sql, out.stderr))
    return out.stdout.strip()


def db_uri(name):
    """IDN_TEST_PG with its database replaced by name."""
    head, _, rest = PG.partition("://")
    host, _, tail = rest.partition("/")
    query = tail.partition("?")[2]
    return "%s://%s/%s%s" % (head, host, name, "?" + query if query else "")


def pg_database(tag, cleanup):
    """A fresh, empty database idn_<tag>_<pid> on IDN_TEST_PG; its URI.

    Raises unittest.SkipTest when IDN_TEST_PG is not set (a failure with
    IDN_TEST_PG_REQUIRED=1), so it serves setUp and setUpClass alike.
    cleanup is the test's addCleanup (or the class's addClassCleanup): the
    database is dropped through it, after tearDown has closed the nodes."""
    if not PG:
        if PG_REQUIRED:
            raise AssertionError("IDN_TEST_PG is not set but required")
        raise unittest.SkipTest("IDN_TEST_PG is not set: run scripts/pg.sh start and export "
                                "IDN_TEST_PG=<the URI it prints>")
    db = "idn_%s_%d" % (tag, os.getpid())
    drop = "DROP DATABASE IF EXISTS %s WITH (FORCE)" % db
    psql(PG, drop)
    psql(PG, "CREATE DATABASE %s" % db)
    cleanup(psql, PG, drop)
    return db_uri(db)


def siteinfo(*args, index=1, typ="HS_SITE"):
    """The value `idnode siteinfo` writes for these settings (a dict for `idnode load`)."""
    out = subprocess.run([IDNODE, "siteinfo", "--json", "--index", str(index), "--type", typ]
                         + list(args), capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout)


def url(index, u):
    return {"index": index, "type": "URL", "data": u}


def _close_all(nodes):
    for n in nodes:
        n.close()


def class_nodes(cls):
    """An empty cls.nodes whose nodes are closed after the class: its tests
    done, or its setUpClass failed part-way (a class cleanup, which unittest
    runs either way), so setUpClass needs no try/except to close them."""
    cls.nodes = []
    cls.addClassCleanup(_close_all, cls.nodes)


def start_hierarchy(cls, ents, root_values=(), root_records=(), sec_values=None,
                    sec_records=()):
    """Starts the node hierarchy of the referral tests on free loopback
    ports, top-down, each node appended to cls.nodes (class_nodes) as it
    starts: cls.root, the top-level node for
    88 (0.NA/88: its site; 0.NA/88.100: the secondary's site and
    HS_SITE.PREFIX, then root_values; then root_records); cls.sec, the
    secondary for 88.100 (0.NA/<prefix>: each enterprise's site, then
    sec_values[prefix]; then sec_records); and one node per enterprise in
    ents, (name, prefix, records, site_args): cls.<name>, homing prefix,
    site_args (e.g. --site-desc) given to its siteinfo and to the node.
    Sets cls.ports (root, sec, names) and cls.sites (the same keys, and
    sec_prefix: the values written)."""
    sec_values = sec_values or {}
    cls.ports = dict(root=free_port(), sec=free_port())
    for name, _, _, _ in ents:
        cls.ports[name] = free_port()
    at = {k: ["--listen", "127.0.0.1:%d" % p] for k, p in cls.ports.items()}
    cls.sites = {k: siteinfo(*at[k]) for k in ("root", "sec")}
    cls.sites["sec_prefix"] = siteinfo(*at["sec"], index=2, typ="HS_SITE.PREFIX")
    for name, _, _, site_args in ents:
        cls.sites[name] = siteinfo(*at[name], *site_args)
    cls.root = Node(records=[
        {"handle": "0.NA/88", "values": [cls.sites["root"]]},
        {"handle": "0.NA/88.100",
         "values": [cls.sites["sec"], cls.sites["sec_prefix"], *root_values]},
        *root_records], homes=("88", "0.NA"), listen=at["root"][1:])
    cls.nodes.append(cls.root)
    cls.sec = Node(records=[
        *({"handle": "0.NA/" + prefix,
           "values": [cls.sites[name], *sec_values.get(prefix, ())]}
          for name, prefix, _, _ in ents),
        *sec_records], homes=("88.100", "0.NA"), listen=at["sec"][1:])
    cls.nodes.append(cls.sec)
    for name, prefix, records, site_args in ents:
        node = Node(records=records, homes=(prefix,), listen=at[name][1:],
                    extra_args=list(site_args))
        setattr(cls, name, node)
        cls.nodes.append(node)


def keygen(path, typ="rsa"):
    """A fresh key pair in path (`idnode keygen --type typ`); its public key
    as HS_PUBKEY data, hex. Fails (AssertionError) if keygen does."""
    out = subprocess.run([IDNODE, "keygen", "--type", typ, "--out", path],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("keygen %s: %s" % (path, out.stderr))
    return out.stdout.strip()


def pubkey_pem(key, path):
    """Writes the public half of the private key file key to path, PEM (openssl); path."""
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", path],
                   check=True, capture_output=True, timeout=30)
    return path


def admin_prefix(pub, prefix="0.NA/88.100.1", values=()):
    """The record of prefix as its own administrator: HS_ADMIN (index 100)
    giving index 300 of prefix every right, values, then HS_PUBKEY pub (300)."""
    return {"handle": prefix, "values": [
        hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, prefix)), *values,
        hexval(300, "HS_PUBKEY", pub)]}


def start_admin_node(cls, tag, records=(), prefix="0.NA/88.100.1", values=(),
                     server_admin=True, node=None, homes=("88.100.1", "0.NA"), extra_args=(),
                     **kw):
    """The administrator fixture of the write tests: cls.tmp (a fresh
    directory, idn-<tag>-*, removed after the class), cls.key (an RSA key
    pair in it, admin.pem), cls.pub (its HS_PUBKEY data, hex) and cls.node:
    a node (node: Node, or a subclass such as HttpNode) on homes holding
    admin_prefix(cls.pub, prefix, values) then records, with
    --server-admin 300:<prefix> unless server_admin is False, then
    extra_args; kw goes to the node (threads, http_args ...). The class
    stops and closes cls.node itself."""
    cls.tmp = tempfile.mkdtemp(prefix="idn-%s-" % tag)
    cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
    cls.key = os.path.join(cls.tmp, "admin.pem")
    cls.pub = keygen(cls.key)
    args = (["--server-admin", "300:" + prefix] if server_admin else []) + list(extra_args)
    cls.node = (node or Node)(records=[admin_prefix(cls.pub, prefix, values), *records],
                              homes=homes, extra_args=args, **kw)
    return cls.node


def clear_of_midnight(margin=180):
    """Daily quotas turn over at 00:00 UTC: a test that counts one day's
    requests and would start within `margin` seconds of the turn waits until
    the new day has begun (at most `margin` seconds), so its count is one
    day's."""
    left = 86400 - time.time() % 86400
    if left < margin:
        time.sleep(left + 1)


def waiting(port):
    """What waits for a node on 127.0.0.1:port (/proc/net): the bytes in its
    UDP sockets' receive queues plus the connections in its TCP listeners'
    accept queues; 0 when nobody asked it. A stopped node's stay there."""
    n = 0
    for table in ("udp", "tcp"):
        with open("/proc/net/" + table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                addr, lport = fields[1].split(":")
                if int(lport, 16) == port and addr in ("0100007F", "00000000") and \
                        (table == "udp" or fields[3] == "0A"):  # 0A: LISTEN
                    n += int(fields[4].split(":")[1], 16)
    return n


def cpu_s(pid):
    """utime + stime of pid (all its threads), in seconds: what a test bounds
    instead of wall time, which other load on the machine stretches."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Node:
    """A running `idnode serve` on a fresh data directory."""

    def __init__(self, records=(), homes=("88.100.1",), extra_args=(), threads=2, listen=None,
                 config=None, store=None, nostore=False):
        self.dir = tempfile.mkdtemp(prefix="idn-sys-")
        self.data = os.path.join(self.dir, "data")
        # store: a PostgreSQL URI (--store) instead of the data directory;
        # nostore: none at all (a recursive node: no records, no homes)
        self.where = [] if nostore else ["--store", store] if store else ["--data", self.data]
        # The port readiness is checked on: the first --listen's, if given.
        self.port = int(listen[0].rsplit(":", 1)[1]) if listen else free_port()
        if records:
            path = os.path.join(self.dir, "in.jsonl")
            with open(path, "w") as f:
                for r in records:
                    f.write(json.dumps(r) + "\n")
            out = subprocess.run([IDNODE, "load"] + self.where + ["-q", path],
                                 capture_output=True, text=True, timeout=120)
            if out.returncode != 0:
                raise RuntimeError("load failed: " + out.stdout + out.stderr)
        args = [IDNODE, "serve"] + self.where + ["--threads", str(threads)]
        for h in homes:
            args += ["--home", h]
        for l in (listen or ["127.0.0.1:%d" % self.port]):
            args += ["--listen", l]
        if config:
            args += ["-c", config]
        args += list(extra_args)
        # The child writes through its own copy of this descriptor, sharing
        # the file offset: output() reads through another one (seeking this
        # one would move the child's next write back over the log), and
        # O_APPEND puts every write at the end whatever the offset.
        self.logpath = os.path.join(self.dir, "serve.log")
        self.log = open(self.logpath, "a")
        self.args = args  # to start it again on the same store
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self, timeout=DEADLINE):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("idnode serve exited %d: %s" % (self.proc.returncode,
                                                                   self.output()))
            try:
                udp_exchange(self.port, request("88.100.1/__ready__"), timeout=0.2)
                return
            except (TimeoutError, OSError):
                time.sleep(0.05)
        raise RuntimeError("idnode serve not ready: " + self.output())

    def output(self):
        with open(self.logpath) as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def cpu(self):
        """The node's CPU seconds so far (user + system)."""
        return cpu_s(self.proc.pid)

    def cli(self, *args, timeout=30):
        return subprocess.run([IDNODE] + list(args), capture_output=True, text=True,
                              timeout=timeout)

    def dump(self):
        """`idnode dump` of the live store (bytes); raises if it fails."""
        out = subprocess.run([IDNODE, "dump"] + self.where, capture_output=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError("dump failed: " + out.stderr.decode(errors="replace"))
        return out.stdout

    def resolve(self, handle, *args):
        return self.cli("resolve", handle, "--server", "127.0.0.1:%d" % self.port, *args)

    def stop(self, sig=signal.SIGTERM, timeout=DEADLINE):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise RuntimeError("idnode serve did not stop on %s" % sig)
        return self.proc.returncode

    def close(self):
        try:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)
        finally:
            self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)


# ---- value data the tests build (wire encodings, hex for `idnode load`) ----

def s(b):
    """A Handle str/bytes field: int4 length + the bytes."""
    b = b.encode() if isinstance(b, str) else b
    return struct.pack(">I", len(b)) + b


def challenge_of(body):
    """(nonce, digest) of a 402 answer's body: u8 digest algorithm, the digest, str nonce."""
    dlen = {2: 20, 3: 32}[body[0]]
    digest = body[1:1 + dlen]
    nlen = struct.unpack(">I", body[1 + dlen:5 + dlen])[0]
    return body[5 + dlen:5 + dlen + nlen], digest


def seckey_response(session, nonce, digest, handle, secret, index=300):
    """Op 200 answering a challenge as index:handle with the legacy SHA-1 MAC
    of its HS_SECKEY secret (SHA1(secret | nonce | digest | secret))."""
    import hashlib
    mac = hashlib.sha1(secret + nonce + digest + secret).digest()
    body = s("HS_SECKEY") + s(handle) + struct.pack(">I", index) + s(b"\x02" + mac)
    return request("", op=200, flags=0x18000000, body=body, session=session)


def admin_data(rights, index, handle):
    """HS_ADMIN data, hex: int2 rights, the admin's handle and index."""
    return (struct.pack(">H", rights) + s(handle) + struct.pack(">I", index)).hex()


def vlist_data(refs):
    """HS_VLIST data, hex, from (index, handle) pairs."""
    return (struct.pack(">I", len(refs)) +
            b"".join(s(h) + struct.pack(">I", i) for i, h in refs)).hex()


def hexval(index, typ, hexdata, perms=None):
    """A value for `idnode load` with hex data (perms: the permission bits)."""
    v = {"index": index, "type": typ, "data": {"format": "hex", "value": hexdata}}
    if perms is not None:
        v["perms"] = perms
    return v
