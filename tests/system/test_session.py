"""System tests for Handle sessions against a real `idnode serve`: admin creates
through a session from the idnode CLI (encrypted, so that no fallback to plain
challenge-response can hide a failure) and from `idnode batch`, then a raw
client written here from the protocol facts (Diffie-Hellman with Python
integers, HMAC-SHA256 from hashlib, the 402 answered with an RSA signature made
by the openssl command) that authenticates a session and then sends a forged
MAC, a replayed counter and a request without MAC: each refused, the store
unchanged, while a correctly MACed request in the same session succeeds."""
import hashlib
import hmac
import json
import os
import secrets
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import keygen, parse_answer, s, start_admin_node, tcp_read_answer  # noqa: E402

PREFIX = "0.NA/88.100.1"
SHARED = os.environ.get("IDN_SHARED", os.path.join(os.path.dirname(__file__), "../../../shared"))


def jbytes(n):
    """A non-negative integer as Java's BigInteger.toByteArray()."""
    return n.to_bytes(n.bit_length() // 8 + 1, "big")


def message(op, body, flags=0x40000000 | 0x10000000, cred=b""):
    hdr = struct.pack(">IIIHBBII", op, 0, flags, 0xFFFF, 0, 0, int(time.time()) + 43200, len(body))
    return hdr + body, hdr + body + s(cred) if cred else hdr + body + struct.pack(">I", 0)


def envelope(sid, rid, mlen):
    return struct.pack(">BBBBIIII", 2, 11, 2, 11, sid, rid, 0, mlen)


class RawSession:
    """A session client of our own: DH in the client's group, MAC as the reference."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        with open(os.path.join(SHARED, "vectors", "vectors.json")) as f:
            x98 = next(v for v in json.load(f) if v["name"].startswith("x98-session-setup-java/01"))
        pk = x98["decoded"]["publicKey"]
        # The 9.3.1 client's group (the 1024-bit Oakley prime, g = 2).
        self.p, self.g = int(pk["p_hex"], 16), int(pk["g_hex"], 16)
        self.counter = 0

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)
        return tcp_read_answer(self.sock)

    def setup(self, identity, index, timeout=600):
        x = secrets.randbits(256) | 1
        y = pow(self.g, x, self.p)
        dh = s("DH_PUB_KEY") + struct.pack(">H", 0) + s(jbytes(y)) + s(jbytes(self.p)) + \
            s(jbytes(self.g))
        body = struct.pack(">HI", 4, timeout) + s(identity) + struct.pack(">I", index) + s(dh) + \
            b"\0\0"
        _, msg = message(400, body, flags=0x40000000 | 0x10000000 | 0x00800000)
        rid = secrets.randbelow(0x7FFFFFFF) + 1
        ans = self.send(envelope(0, rid, len(msg)) + msg)
        env, op, rc, flags, abody = parse_answer(ans)
        assert rc == 1, "session setup answered %d" % rc
        rest = abody[1 + 32:]  # RD: SHA-256 at 2.11
        mode, dlen = struct.unpack(">HI", rest[:6])
        data = rest[6:6 + dlen]
        assert mode == 4 and struct.unpack(">I", data[:4])[0] == 3
        off = 4
        fields = []
        tlen = struct.unpack(">I", data[off:off + 4])[0]
        off += 4 + tlen + 2
        for _ in range(3):
            n = struct.unpack(">I", data[off:off + 4])[0]
            fields.append(int.from_bytes(data[off + 4:off + 4 + n], "big"))
            off += 4 + n
        sy = fields[0]
        assert fields[1] == self.p and fields[2] == self.g
        secret = pow(sy, x, self.p).to_bytes((self.p.bit_length() + 7) // 8, "big")
        i = 0
        while i + 32 < len(secret) and secret[i] == 0:
            i += 1
        self.key = secret[i:i + 32]
        self.sid = env["session"]
        assert self.sid != 0

    def mac_cred(self, rid, hb, counter, forge=False):
        data = bytes([2, 11, 2, 11]) + struct.pack(">III", self.sid, rid, counter) + hb
        mac = hmac.new(self.key, data, hashlib.sha256).digest()
        if forge:
            mac = bytes([mac[0] ^ 0x80]) + mac[1:]
        section = s("HMAC-SHA256") + s(mac)
        return bytes([0, 0]) + struct.pack(">H", 0) + s(b"") + struct.pack(">I", counter) + \
            s("HS_MAC") + struct.pack(">I", len(section)) + section

    def request(self, op, body, counter=None, forge=False, mac=True, flags=0x40000000 | 0x10000000):
        rid = secrets.randbelow(0x7FFFFFFF) + 1
        hb, msg = message(op, body, flags)
        if mac:
            if counter is None:
                self.counter += 1
                counter = self.counter
            msg = hb + s(self.mac_cred(rid, hb, counter, forge))
        ans = self.send(envelope(self.sid, rid, len(msg)) + msg)
        env, aop, rc, aflags, abody = parse_answer(ans)
        assert env["request_id"] == rid
        return env, rc, abody


class Relay:
    """A TCP relay in front of the node that notes (opcode, session id) of each request."""

    def __init__(self, port):
        import threading
        self.target = port
        self.requests = []
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.done = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        import threading
        while not self.done:
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            u = socket.create_connection(("127.0.0.1", self.target), timeout=10)
            c.settimeout(10)
            back = threading.Thread(target=self.copy_back, args=(u, c), daemon=True)
            back.start()
            try:
                while True:
                    env = recv_all(c, 20)
                    if env is None:
                        break
                    msg = recv_all(c, struct.unpack(">I", env[16:20])[0])
                    if msg is None:
                        break
                    self.requests.append((struct.unpack(">I", msg[:4])[0],
                                          struct.unpack(">I", env[4:8])[0]))
                    u.sendall(env + msg)
            except OSError:
                pass
            try:
                u.shutdown(socket.SHUT_WR)  # the client is done: so is the node
            except OSError:
                pass
            back.join(10)
            u.close()
            c.close()

    @staticmethod
    def copy_back(u, c):
        """The node's answers, as they come, until the node or the client closes."""
        try:
            while True:
                d = u.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        try:
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def stop(self):
        self.done = True
        self.thread.join(10)
        self.lsock.close()


def recv_all(sock, n):
    buf = b""
    while len(buf) < n:
        d = sock.recv(n - len(buf))
        if not d:
            return None
        buf += d
    return buf


def create_body(handle, url):
    return s(handle) + struct.pack(">I", 1) + struct.pack(">IIBIB", 1, 0, 0, 86400, 0x0e) + \
        s("URL") + s(url) + struct.pack(">I", 0)


class SessionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        start_admin_node(cls, "sess", prefix=PREFIX, homes=("88.100.1",))
        cls.server = "127.0.0.1:%d" % cls.node.port

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        cls.node.close()

    def resolved(self, handle):
        out = self.node.resolve(handle, "--tcp")
        return out.stdout if out.returncode == 0 else None

    def cli(self, *args):
        return self.node.cli(*args, "--server", self.server, "--id", "300:" + PREFIX,
                             "--key", self.key)

    def test_cli_creates_in_a_session(self):
        for i in range(3):
            h = "88.100.1/cli-sess-%d" % i
            # --encrypt: only a working session gets this through (no fallback).
            r = self.cli("create", h, "--value", "1:URL:https://example.com/s%d" % i, "--encrypt")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("https://example.com/s%d" % i, self.resolved(h))
        r = self.cli("add", "88.100.1/cli-sess-0", "--value", "2:EMAIL:s@example.com")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("s@example.com", self.resolved("88.100.1/cli-sess-0"))
        r = self.cli("list", "88.100.1", "--encrypt")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("88.100.1/cli-sess-2", r.stdout.split())
        # Without a session, as before.
        r = self.cli("create", "88.100.1/cli-plain", "--value", "1:URL:https://p", "--no-session")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIsNotNone(self.resolved("88.100.1/cli-plain"))
        # A wrong key still fails inside a session, and writes nothing.
        other = os.path.join(self.tmp, "other.pem")
        keygen(other)
        r = self.node.cli("create", "88.100.1/cli-wrong", "--value", "1:URL:https://w",
                          "--server", self.server, "--id", "300:" + PREFIX, "--key", other,
                          "--encrypt")
        self.assertEqual(r.returncode, 1)
        self.assertIn("403", r.stderr)
        self.assertIsNone(self.resolved("88.100.1/cli-wrong"))

    def test_batch_in_a_session(self):
        path = os.path.join(self.tmp, "batch.txt")
        with open(path, "w") as f:
            f.write("AUTHENTICATE PUBKEY:300:%s\n%s\n\n" % (PREFIX, self.key))
            for i in range(20):
                f.write("CREATE 88.100.1/batch-sess-%d\n1 URL 86400 1110 UTF8 https://b/%d\n\n"
                        % (i, i))
        relay = Relay(self.node.port)
        try:
            r = self.node.cli("batch", path, "--server", "127.0.0.1:%d" % relay.port, "--quiet")
        finally:
            relay.stop()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for i in (0, 7, 19):
            self.assertIn("https://b/%d" % i, self.resolved("88.100.1/batch-sess-%d" % i))
        # One session, one challenge for all 20 records, every create in the session.
        ops = relay.requests
        self.assertEqual([op for op, _ in ops].count(400), 1, ops)
        self.assertEqual([op for op, _ in ops].count(200), 1, ops)
        creates = [sid for op, sid in ops if op == 100]
        self.assertEqual(len(creates), 20)
        self.assertEqual(len(set(creates)), 1)
        self.assertNotEqual(creates[0], 0)
        self.assertEqual([op for op, _ in ops][-1], 401)

    def authenticated_session(self):
        c = RawSession(self.node.port)
        c.setup(PREFIX, 300)
        # The first admin request: challenged in the session.
        env, rc, body = c.request(100, create_body("88.100.1/raw-1", "https://r/1"))
        self.assertEqual(rc, 402)
        self.assertEqual(env["session"], c.sid)
        digest, nonce = body[1:33], body[37:53]
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key],
                             input=nonce + digest, capture_output=True, timeout=30, check=True).stdout
        chresp = s("HS_PUBKEY") + s(PREFIX) + struct.pack(">I", 300) + s(s("SHA-256") + s(sig))
        env, rc, body = c.request(200, chresp, mac=False)
        self.assertEqual(rc, 1)
        self.assertIsNotNone(self.resolved("88.100.1/raw-1"))
        return c

    def test_attacks_leave_the_store_unchanged(self):
        c = self.authenticated_session()
        try:
            # Authenticated: a MACed request runs without a challenge.
            env, rc, _ = c.request(100, create_body("88.100.1/raw-2", "https://r/2"))
            self.assertEqual(rc, 1)
            used = c.counter
            self.assertIsNotNone(self.resolved("88.100.1/raw-2"))
            # A forged MAC: refused, nothing written.
            env, rc, _ = c.request(100, create_body("88.100.1/raw-forged", "https://evil"),
                                   forge=True)
            self.assertEqual(rc, 502)
            self.assertIsNone(self.resolved("88.100.1/raw-forged"))
            # A counter already used, with a valid MAC: 505, nothing written.
            env, rc, _ = c.request(100, create_body("88.100.1/raw-replay", "https://evil"),
                                   counter=used)
            self.assertEqual(rc, 505)
            self.assertIsNone(self.resolved("88.100.1/raw-replay"))
            # No MAC at all: 404.
            env, rc, _ = c.request(100, create_body("88.100.1/raw-nomac", "https://evil"),
                                   mac=False)
            self.assertEqual(rc, 404)
            self.assertIsNone(self.resolved("88.100.1/raw-nomac"))
            # An overwrite of an existing handle with a forged MAC changes nothing.
            env, rc, _ = c.request(100, create_body("88.100.1/raw-2", "https://evil"),
                                   forge=True, flags=0x40000000 | 0x10000000 | 0x00400000)
            self.assertEqual(rc, 502)
            self.assertNotIn("evil", self.resolved("88.100.1/raw-2"))
            # The session still works for the honest client.
            env, rc, _ = c.request(100, create_body("88.100.1/raw-3", "https://r/3"))
            self.assertEqual(rc, 1)
            # Terminated: the session id is dead.
            env, rc, _ = c.request(401, b"")
            self.assertEqual(rc, 1)
            env, rc, _ = c.request(100, create_body("88.100.1/raw-4", "https://r/4"))
            self.assertEqual(rc, 500)
            self.assertIsNone(self.resolved("88.100.1/raw-4"))
        finally:
            c.close()


if __name__ == "__main__":
    unittest.main()
