"""Identities homed on another node, with real processes: a root node R that
also homes the identities' prefix 88.200 (an RSA identity with a public
HS_PUBKEY, a secret-key identity whose HS_SECKEY is not public), and an
enterprise node E (88.100.1, `--root R`) whose prefix is administered by them.
E fetches the HS_PUBKEY by resolution from R and caches it; it asks R with op
201 whether a HS_SECKEY response verifies. Wrong keys and unknown identities
get 403 naming the identity and the reason; an unreachable root gives 403
"timeout" within the configured bound. Op 201 is also checked raw against R.
Every wait is bounded."""
import hashlib
import os
import shutil
import socket
import struct
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import Node, free_port, parse_answer, request, tcp_exchange, udp_exchange  # noqa: E402
from idnlib import admin_data, hexval, keygen, s  # noqa: E402
from idnlib import siteinfo  # noqa: E402

SECRET = b"remote-secret-2026"


def start_pair(tmp, timeout_ms=1500):
    """(R, E): R homes 0.NA and 88.200 (the identities), E homes 88.100.1."""
    rp, ep = free_port(), free_port()
    alice_pub = keygen(os.path.join(tmp, "alice.pem"))
    r = Node(records=[
        {"handle": "0.NA/88.200", "values": [siteinfo("--listen", "127.0.0.1:%d" % rp)]},
        {"handle": "0.NA/88.100.1", "values": [siteinfo("--listen", "127.0.0.1:%d" % ep)]},
        {"handle": "88.200/alice", "values": [hexval(300, "HS_PUBKEY", alice_pub)]},
        {"handle": "88.200/bob", "values": [hexval(300, "HS_SECKEY", SECRET.hex(), perms=0x0c)]},
    ], homes=("0.NA", "88.200"), listen=["127.0.0.1:%d" % rp])
    try:
        e = Node(records=[{"handle": "0.NA/88.100.1", "values": [
            hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, "88.200/alice")),
            hexval(101, "HS_ADMIN", admin_data(0x0041, 300, "88.200/bob")),
            hexval(102, "HS_ADMIN", admin_data(0x0FFF, 300, "88.200/nobody")),
            hexval(103, "HS_ADMIN", admin_data(0x0FFF, 300, "88.777/ghost"))]}],
            homes=("88.100.1",), listen=["127.0.0.1:%d" % ep],
            extra_args=["--root", "127.0.0.1:%d" % rp,
                        "--identity-timeout-ms", str(timeout_ms)])
    except Exception:
        r.stop()
        r.close()
        raise
    return r, e


class RemoteIdentity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="idn-ident-")
        cls.other = os.path.join(cls.tmp, "other.pem")
        keygen(cls.other)
        cls.secret = os.path.join(cls.tmp, "secret")
        with open(cls.secret, "wb") as f:
            f.write(SECRET + b"\n")
        cls.wrong = os.path.join(cls.tmp, "wrong")
        with open(cls.wrong, "wb") as f:
            f.write(b"not-the-secret\n")
        cls.r, cls.e = start_pair(cls.tmp)
        cls.server = "127.0.0.1:%d" % cls.e.port

    @classmethod
    def tearDownClass(cls):
        for n in (cls.e, cls.r):
            n.stop()
            n.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def create(self, ident, cred, h):
        return self.e.cli("create", h, "--value", "1:URL:https://example.com/" + h,
                          "--server", self.server, "--id", ident, *cred, timeout=30)

    def resolved(self, h):
        out = self.e.resolve(h, "--tcp")
        return out.stdout if out.returncode == 0 else None

    def test_pubkey_fetched_from_root(self):
        r = self.create("300:88.200/alice", ["--key", os.path.join(self.tmp, "alice.pem")],
                        "88.100.1/by-alice")
        self.assertEqual(r.returncode, 0, r.stderr + self.e.output())
        self.assertIn("https://example.com/88.100.1/by-alice", self.resolved("88.100.1/by-alice"))
        # Again: the key comes from the cache; the answer is the same.
        r = self.create("300:88.200/alice", ["--key", os.path.join(self.tmp, "alice.pem")],
                        "88.100.1/by-alice-2")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_pubkey_wrong_key(self):
        r = self.create("300:88.200/alice", ["--key", self.other], "88.100.1/evil-alice")
        self.assertEqual(r.returncode, 1)
        self.assertIn("403", r.stderr)
        self.assertIsNone(self.resolved("88.100.1/evil-alice"))

    def test_seckey_verified_by_op201(self):
        r = self.create("300:88.200/bob", ["--secret-file", self.secret], "88.100.1/by-bob")
        self.assertEqual(r.returncode, 0, r.stderr + self.e.output())
        self.assertIsNotNone(self.resolved("88.100.1/by-bob"))

    def test_seckey_wrong_secret(self):
        r = self.create("300:88.200/bob", ["--secret-file", self.wrong], "88.100.1/evil-bob")
        self.assertEqual(r.returncode, 1)
        self.assertIn("403", r.stderr)
        self.assertIsNone(self.resolved("88.100.1/evil-bob"))

    def test_unknown_identity(self):
        r = self.create("300:88.200/nobody", ["--key", self.other], "88.100.1/by-nobody")
        self.assertEqual(r.returncode, 1)
        self.assertIn("403", r.stderr)
        self.assertIn("88.200/nobody", r.stderr)
        self.assertIn("not found", r.stderr)
        self.assertIsNone(self.resolved("88.100.1/by-nobody"))
        # A prefix the root does not know.
        r = self.create("300:88.777/ghost", ["--secret-file", self.secret], "88.100.1/by-ghost")
        self.assertEqual(r.returncode, 1)
        self.assertIn("403", r.stderr)
        self.assertIn("88.777/ghost", r.stderr)
        self.assertIsNone(self.resolved("88.100.1/by-ghost"))

    def op201(self, nonce, digest, mac_secret, handle="88.200/bob", index=300, udp=False,
              sent_digest=None):
        """Op 201 to R for a legacy SHA-1 MAC of mac_secret over nonce and digest."""
        mac = hashlib.sha1(mac_secret + nonce + digest + mac_secret).digest()
        sent = digest if sent_digest is None else sent_digest
        body = s(handle) + struct.pack(">I", index) + s(nonce) + s(sent) + s(b"\x02" + mac)
        req = request("", op=201, flags=0, body=body)
        ans = udp_exchange(self.r.port, req)[0] if udp else tcp_exchange(self.r.port, req)
        _, op, rc, flags, body = parse_answer(ans)
        return op, rc, body

    def test_op201_served(self):
        nonce, digest = os.urandom(16), os.urandom(32)
        self.assertEqual(self.op201(nonce, digest, SECRET), (201, 1, b"\x01"))
        self.assertEqual(self.op201(nonce, digest, SECRET, udp=True), (201, 1, b"\x01"))
        self.assertEqual(self.op201(nonce, digest, b"guess"), (201, 1, b"\x00"))
        self.assertEqual(self.op201(nonce, digest, SECRET, sent_digest=os.urandom(32)),
                         (201, 1, b"\x00"))
        # The digest as u8 algorithm + raw bytes (the reference decoder's other form).
        mac = hashlib.sha1(SECRET + nonce + digest + SECRET).digest()
        body = (s("88.200/bob") + struct.pack(">I", 300) + s(nonce) + b"\x03" + digest
                + s(b"\x02" + mac))
        _, op, rc, _, ans = parse_answer(tcp_exchange(self.r.port, request("", op=201, flags=0,
                                                                           body=body)))
        self.assertEqual((op, rc, ans), (201, 1, b"\x01"))
        op, rc, _ = self.op201(nonce, digest, SECRET, handle="88.200/none")
        self.assertEqual(rc, 100)
        op, rc, _ = self.op201(nonce, digest, SECRET, index=301)
        self.assertEqual(rc, 200)
        # Truncated body: a protocol error, and the node still answers afterwards.
        req = request("", op=201, flags=0, body=s("88.200/bob") + b"\x00\x00")
        _, op, rc, _, _ = parse_answer(tcp_exchange(self.r.port, req))
        self.assertEqual(rc, 4)
        self.assertEqual(self.op201(nonce, digest, SECRET)[1], 1)


class CachedKey(unittest.TestCase):
    """A fetched HS_PUBKEY is cached for its TTL: with the root gone, the RSA
    identity still works; the secret-key one (op 201 needs its node) fails in
    bounded time with a reason."""

    def test_cache_outlives_root(self):
        tmp = tempfile.mkdtemp(prefix="idn-ident-cache-")
        r, e = start_pair(tmp, timeout_ms=800)
        try:
            srv = "127.0.0.1:%d" % e.port
            alice = ["--id", "300:88.200/alice", "--key", os.path.join(tmp, "alice.pem")]
            secret = os.path.join(tmp, "secret")
            with open(secret, "wb") as f:
                f.write(SECRET + b"\n")
            out = e.cli("create", "88.100.1/c1", "--value", "1:URL:x", "--server", srv, *alice)
            self.assertEqual(out.returncode, 0, out.stderr)
            r.stop()
            out = e.cli("create", "88.100.1/c2", "--value", "1:URL:x", "--server", srv, *alice)
            self.assertEqual(out.returncode, 0, out.stderr)
            # refused, not hung (the CLI's timeout: 30 s)
            out = e.cli("create", "88.100.1/c3", "--value", "1:URL:x", "--server", srv,
                        "--id", "300:88.200/bob", "--secret-file", secret)
            self.assertEqual(out.returncode, 1)
            self.assertIn("403", out.stderr)
            self.assertIn("88.200/bob", out.stderr)
            self.assertEqual(e.resolve("88.100.1/c3", "--tcp").returncode, 1)
        finally:
            for n in (e, r):
                n.stop()
                n.close()
            shutil.rmtree(tmp, ignore_errors=True)


class UnreachableRoot(unittest.TestCase):
    """A root that accepts TCP connections and UDP packets and never answers."""

    def test_timeout_is_bounded(self):
        tmp = tempfile.mkdtemp(prefix="idn-ident-to-")
        port = free_port()
        silent_u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent_t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        e = None
        try:
            silent_u.bind(("127.0.0.1", port))
            silent_t.bind(("127.0.0.1", port))
            silent_t.listen(16)
            secret = os.path.join(tmp, "secret")
            with open(secret, "wb") as f:
                f.write(SECRET + b"\n")
            keygen(os.path.join(tmp, "k.pem"))
            e = Node(records=[{"handle": "0.NA/88.100.1", "values": [
                hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, "88.200/alice")),
                hexval(101, "HS_ADMIN", admin_data(0x0FFF, 300, "88.200/bob"))]}],
                homes=("88.100.1",),
                extra_args=["--root", "127.0.0.1:%d" % port, "--identity-timeout-ms", "700"])
            srv = "127.0.0.1:%d" % e.port
            for ident, cred in (("300:88.200/alice", ["--key", os.path.join(tmp, "k.pem")]),
                                ("300:88.200/bob", ["--secret-file", secret])):
                t0 = time.monotonic()
                r = e.cli("create", "88.100.1/late", "--value", "1:URL:x", "--server", srv,
                          "--id", ident, *cred, timeout=30)
                took = time.monotonic() - t0
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertIn("403", r.stderr)
                self.assertIn("timeout", r.stderr)
                self.assertIn(ident.split(":", 1)[1], r.stderr)
                # E waited its 700 ms out (the root is silent), and no more than
                # the CLI's timeout (30 s): not how fast a loaded machine is
                self.assertGreater(took, 0.7 * 0.8)
            # The worker is free again: an ordinary resolution answers at once.
            out = e.resolve("88.100.1/late", "--tcp")
            self.assertEqual(out.returncode, 1)
        finally:
            if e:
                e.stop()
                e.close()
            silent_u.close()
            silent_t.close()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
