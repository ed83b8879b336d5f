"""Trusted resolution on a real hierarchy on loopback ports (a root node for
88 and 0.NA, a secondary for 88.100, an enterprise for 88.100.1):
certificates issued root -> secondary -> enterprise with `idnode cert
--store`, identifiers signed with `idnode sign`, and `idnode resolve
--trusted` from the root saying verified, or naming what failed: a value
changed after signing (its digest), a wrong trust root key, an expired
certificate, a signature whose signer's permissions do not cover the handle.
Every wait is bounded."""
import json
import os
import re
import shutil
import subprocess
import sys
import socket
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import DEADLINE  # noqa: E402
from idnlib import (IDNODE, Node, admin_data, class_nodes, free_port, hexval, parse_answer,  # noqa: E402
                    request, start_hierarchy, tcp_exchange, url)

ROOT_ISS = "300:88.111.1/0.0"


def run(*args, timeout=60):
    return subprocess.run([IDNODE] + list(args), capture_output=True, text=True, timeout=timeout)


class DelayProxy:
    """A UDP and TCP relay on loopback that forwards each datagram (each TCP
    connection) to target_port after delay seconds and relays the answers
    back. Each relay lasts until its answer (its connection's end), the
    proxy's close, or DEADLINE: no window of its own that a loaded machine
    could outlast."""

    def __init__(self, target_port, delay):
        self.target, self.delay, self.stopped = target_port, delay, False
        # One port for both: a UDP port free may be taken for TCP (by a test
        # running beside this one), so a few tries, each on a fresh port.
        for attempt in range(20):
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]
            self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.lsock.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.sock.close()
                self.lsock.close()
                if attempt == 19:
                    raise
        self.sock.settimeout(0.2)
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.threads = [threading.Thread(target=self.loop, daemon=True),
                        threading.Thread(target=self.accept, daemon=True)]
        for t in self.threads:
            t.start()

    def loop(self):
        while not self.stopped:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.relay, args=(data, addr), daemon=True).start()

    def accept(self):
        while not self.stopped:
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.pipe, args=(c,), daemon=True).start()

    def pipe(self, c):
        """One TCP connection: each chunk the client sends goes on after the delay."""
        deadline = time.monotonic() + DEADLINE
        with c, socket.create_connection(("127.0.0.1", self.target), timeout=DEADLINE) as up:
            c.settimeout(0.05)
            up.settimeout(0.05)
            while time.monotonic() < deadline and not self.stopped:
                try:
                    data = c.recv(65535)
                    if not data:
                        return
                    time.sleep(self.delay)
                    up.sendall(data)
                except socket.timeout:
                    pass
                try:
                    data = up.recv(65535)
                    if not data:
                        return
                    c.sendall(data)
                except socket.timeout:
                    pass

    def relay(self, data, addr):
        time.sleep(self.delay)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
            up.settimeout(0.05)
            up.sendto(data, ("127.0.0.1", self.target))
            deadline = time.monotonic() + DEADLINE
            while time.monotonic() < deadline and not self.stopped:  # the answer
                try:
                    ans, _ = up.recvfrom(65535)
                    self.sock.sendto(ans, addr)
                    return
                except socket.timeout:
                    continue
                except OSError:
                    return

    def close(self):
        self.stopped = True
        for t in self.threads:
            t.join(timeout=2)
        self.sock.close()
        self.lsock.close()


class Trust(unittest.TestCase):
    @classmethod
    def keygen(cls, name, typ):
        path = os.path.join(cls.tmp, name + ".pem")
        out = run("keygen", "--type", typ, "--out", path)
        assert out.returncode == 0, out.stderr
        pub = os.path.join(cls.tmp, name + ".pub")
        subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-out", pub],
                       check=True, capture_output=True, timeout=30)
        return path, out.stdout.strip()

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="idn-trust-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        class_nodes(cls)
        cls.root_key, _ = cls.keygen("root", "sm2")
        cls.other_key, _ = cls.keygen("other", "sm2")
        cls.sec_key, sec_pub = cls.keygen("sec", "rsa")
        cls.ent_key, ent_pub = cls.keygen("ent", "sm2")
        items = [{"handle": "88.100.1/ITEM-%d" % i, "values": [
            url(1, "https://motor.example/%d" % i),
            {"index": 2, "type": "EMAIL", "data": "ops%d@motor.example" % i},
            hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, "88.100.1/admin"))]}
            for i in range(7)]
        items.append({"handle": "88.100.1/admin", "values": [
            hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, "88.100.1/admin")),
            hexval(300, "HS_PUBKEY", ent_pub)]})
        start_hierarchy(cls, [("ent", "88.100.1", items, ())], root_values=[
            hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, "0.NA/88.100")),
            hexval(300, "HS_PUBKEY", sec_pub)], sec_values={"88.100.1": [
                hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, "0.NA/88.100.1")),
                hexval(300, "HS_PUBKEY", ent_pub)]})
        rp = cls.ports["root"]
        cls.issue_certs()
        # A recursive node (no store) with the root's key as its trust root.
        cls.rec = Node(homes=(), listen=["127.0.0.1:%d" % free_port()], extra_args=[
            "--recursive", "--root", "127.0.0.1:%d" % rp,
            "--trust-root", os.path.join(cls.tmp, "root.pub")])
        cls.nodes.append(cls.rec)
        # One that walks at most one certificate: our chains have two.
        cls.rec1 = Node(homes=(), listen=["127.0.0.1:%d" % free_port()], extra_args=[
            "--recursive", "--root", "127.0.0.1:%d" % rp, "--trust-max-links", "1",
            "--trust-root", os.path.join(cls.tmp, "root.pub")])
        cls.nodes.append(cls.rec1)

    @classmethod
    def cert(cls, issuer_key, issuer, subject, subject_key, perms, server, store_key,
             *more):
        args = ["cert", "--issuer-key", issuer_key, "--issuer", issuer, "--subject", subject,
                "--subject-key", subject_key, "--store", "--server", server,
                "--id", subject, "--key", store_key] + list(more)
        for p in perms:
            args += ["--perm", p]
        return run(*args)

    @classmethod
    def issue_certs(cls):
        out = cls.cert(cls.root_key, ROOT_ISS, "300:0.NA/88.100", cls.sec_key,
                       ["0.NA/88.100:derivedPrefixes", "0.NA/88.100:handlesUnderThisPrefix"],
                       "127.0.0.1:%d" % cls.ports["root"], cls.sec_key)
        assert out.returncode == 0, out.stdout + out.stderr
        out = cls.cert(cls.sec_key, "300:0.NA/88.100", "300:0.NA/88.100.1", cls.ent_key,
                       ["0.NA/88.100.1:handlesUnderThisPrefix"],
                       "127.0.0.1:%d" % cls.ports["sec"], cls.ent_key, "--sm2-jwk", "xy")
        assert out.returncode == 0, out.stdout + out.stderr

    def sign(self, handle, *more):
        return run("sign", handle, "--key", self.ent_key, "--signer", "300:0.NA/88.100.1",
                   "--server", "127.0.0.1:%d" % self.ports["ent"], "--id", "300:88.100.1/admin",
                   *more)

    def trusted(self, handle, root_pub=None, *more):
        return run("resolve", handle, "--root", "127.0.0.1:%d" % self.ports["root"], "--tcp",
                   "--trusted", "--trust-root",
                   root_pub or os.path.join(self.tmp, "root.pub"), *more)

    def expect(self, handle, rc, text, root_pub=None):
        """resolve --trusted of handle exits rc and prints text."""
        out = self.trusted(handle, root_pub)
        self.assertEqual(out.returncode, rc, out.stdout + out.stderr)
        self.assertIn(text, out.stdout)
        return out

    def test_1_chain_verifies(self):
        out = self.sign("88.100.1/ITEM-0")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("index 400", out.stdout)
        out = self.expect("88.100.1/ITEM-0", 0,
                          "verified: 3 values signed by 300:0.NA/88.100.1, 2 certificates up to "
                          "the trust root (HS_SIGNATURE at index 400)")
        self.assertIn("https://motor.example/0", out.stdout)
        # The same record against another root key: the chain ends at a wrong root.
        self.expect("88.100.1/ITEM-0", 1,
                    "not verified (wrong root): wrong root: certificate 2 (300:0.NA/88.100, "
                    "issued by 300:88.111.1/0.0) is not signed by the trusted root key",
                    root_pub=os.path.join(self.tmp, "other.pub"))
        # An unsigned record.
        self.expect("88.100.1/ITEM-3", 1, "not verified (no signature)")

    def rec_flags(self, handle, trusted=True, node=None, **kw):
        """rcode and the two national flag bits of the recursive node's TCP answer."""
        flags = 0x19000000 | (0x2 if trusted else 0)
        ans = tcp_exchange((node or self.rec).port, request(handle, flags=flags, **kw),
                           timeout=20)
        _, _, rc, fl, _ = parse_answer(ans)
        return rc, fl & 0x3

    def test_1b_recursive_node_sets_verified(self):
        for h, alg in (("88.100.1/ITEM-4", "SM2SM3"), ("88.100.1/ITEM-5", "SM2256")):
            out = self.sign(h, "--sm2-alg", alg)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        # ID-SDK's algorithm name, and the verdict in --json.
        out = self.trusted("88.100.1/ITEM-4", None, "--json")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        doc = json.loads(out.stdout)
        self.assertEqual((doc["trust"]["verified"], doc["trust"]["code"]), (True, "verified"))
        self.assertIn("(HS_SIGNATURE at index 400)", doc["trust"]["message"])
        self.assertIn('eyJhbGciOiJTTTJTTTMifQ.', out.stdout)  # {"alg":"SM2SM3"}
        # Signed and unchanged: trusted bit echoed, verified set; again from the cache.
        self.assertEqual(self.rec_flags("88.100.1/ITEM-4"), (1, 0x3))
        self.assertEqual(self.rec_flags("88.100.1/ITEM-4"), (1, 0x3))
        # A question with a filter is verified on the whole record.
        self.assertEqual(self.rec_flags("88.100.1/ITEM-4", indexes=(1,)), (1, 0x3))
        # Not asked: neither bit.
        self.assertEqual(self.rec_flags("88.100.1/ITEM-4", trusted=False), (1, 0))
        # A value changed after signing: trusted echoed, not verified.
        out = run("modify", "88.100.1/ITEM-5", "--server", "127.0.0.1:%d" % self.ports["ent"],
                  "--id", "300:88.100.1/admin", "--key", self.ent_key,
                  "--value", "1:URL:https://evil.example/")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(self.rec_flags("88.100.1/ITEM-5"), (1, 0x2))
        # Unsigned; and a handle that does not exist.
        self.assertEqual(self.rec_flags("88.100.1/ITEM-3"), (1, 0x2))
        self.assertEqual(self.rec_flags("88.100.1/NO-SUCH"), (100, 0x2))
        # The second question came from the cache: two verifications, not three.
        self.assertIn("verified=2 unverified=2 ", self.rec_stats(self.rec))
        # Over --trust-max-links: not verified, and the limit counted.
        self.assertEqual(self.rec_flags("88.100.1/ITEM-4", node=self.rec1), (1, 0x2))
        stats = self.rec_stats(self.rec1)
        self.assertIn("verified=0 unverified=1 ", stats)
        self.assertIn("trust-chain=1", stats)

    def test_1c_filtered_answer_must_be_the_verified_record(self):
        """A filtered trusted question is verified on the whole record, which the
        recursive node may take from its cache: the values it answers must be in
        that record byte for byte, or the answer is not verified."""
        h = "88.100.1/ITEM-6"
        out = self.sign(h)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        # Verified; the whole record (fetched for the check) is now in the cache.
        self.assertEqual(self.rec_flags(h, indexes=(1,)), (1, 0x3))
        out = run("modify", h, "--server", "127.0.0.1:%d" % self.ports["ent"],
                  "--id", "300:88.100.1/admin", "--key", self.ent_key,
                  "--value", "1:URL:https://evil.example/6")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        # Another filter: a new question upstream, answered with the changed value,
        # which the cached (signed) record does not hold.
        ans = tcp_exchange(self.rec.port, request(h, flags=0x19000002, types=("URL",)),
                           timeout=20)
        _, _, rc, fl, body = parse_answer(ans)
        self.assertEqual(rc, 1)
        self.assertIn(b"https://evil.example/6", body)
        self.assertEqual(fl & 0x3, 0x2)

    def test_1d_verdict_cached_no_longer_than_the_chain_holds(self):
        """A verified answer stays in the recursive node's cache only until the
        first certificate of its chain expires: asked again after that, it is
        verified anew (and fails, expired)."""
        h = "88.100.1/ITEM-4"  # signed by test_1b
        ent_cert = [self.sec_key, "300:0.NA/88.100", "300:0.NA/88.100.1", self.ent_key,
                    ["0.NA/88.100.1:handlesUnderThisPrefix"],
                    "127.0.0.1:%d" % self.ports["sec"], self.ent_key]
        # The enterprise's certificate replaced by one that expires in 6 seconds.
        ends = int(time.time()) + 6
        out = self.cert(*ent_cert, "--not-before", str(ends - 86400), "--days", "1",
                        "--replace")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        # A recursive node of its own, whose cache has not seen the old certificate.
        rec = Node(homes=(), listen=["127.0.0.1:%d" % free_port()], extra_args=[
            "--recursive", "--root", "127.0.0.1:%d" % self.ports["root"],
            "--trust-root", os.path.join(self.tmp, "root.pub")])
        try:
            self.assertEqual(self.rec_flags(h, node=rec), (1, 0x3))
            time.sleep(max(0.0, ends + 1.5 - time.time()))
            self.assertEqual(self.rec_flags(h, node=rec), (1, 0x2))
        finally:
            rec.close()
            out = self.cert(*ent_cert, "--replace")
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_1e_verification_time_budget(self):
        """The certificate fetches of one verification share a time budget
        (--trust-budget-ms): over it, the answer goes without the verified bit
        and the trust-chain limit counts it, so a chain of slow links cannot
        hold a resolver thread for max-links times the upstream timeout."""
        h = "88.100.1/ITEM-4"  # signed by test_1b
        proxy = DelayProxy(self.ports["root"], 0.35)  # every question to the root waits
        nodes = []
        try:
            for budget in (5000, 500):
                nodes.append(Node(homes=(), listen=["127.0.0.1:%d" % free_port()], extra_args=[
                    "--recursive", "--root", "127.0.0.1:%d" % proxy.port,
                    "--trust-budget-ms", str(budget),
                    "--trust-root", os.path.join(self.tmp, "root.pub")]))
            # Two certificates, each fetched through the slow root: 0.7 s.
            t0 = time.time()
            self.assertEqual(self.rec_flags(h, node=nodes[0]), (1, 0x3))
            took = time.time() - t0
            self.assertGreater(took, 1.0)  # the record and two certificates, each 0.35 s late
            # The 500 ms budget ends the chain early: unverified, and the limit
            # counted (counts, not a second wall-clock duration compared with
            # the first: other load on the machine stretches both unevenly).
            self.assertEqual(self.rec_flags(h, node=nodes[1]), (1, 0x2))
            stats = self.rec_stats(nodes[1])
            self.assertIn("verified=0 unverified=1 ", stats)
            self.assertIn("trust-chain=1", stats)
        finally:
            for n in nodes:
                n.close()
            proxy.close()

    def rec_stats(self, node):
        """A recursive node's statistics and limits lines (SIGUSR1 logs them)."""
        import signal
        before = len(node.output())
        node.proc.send_signal(signal.SIGUSR1)
        deadline = time.time() + DEADLINE
        # Until the limits line, which follows the resolver's, is written whole.
        while time.time() < deadline and not re.search(r"limits:[^\n]*\n",
                                                       node.output()[before:]):
            time.sleep(0.05)
        return node.output()[before:]

    def test_2_changed_value_names_its_digest(self):
        out = self.sign("88.100.1/ITEM-1", "--index", "1,2")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.expect("88.100.1/ITEM-1", 0,
                    "verified: 2 values signed by 300:0.NA/88.100.1, 2 certificates up to the "
                    "trust root; not covered by the signature: 100 (HS_ADMIN)")
        out = run("modify", "88.100.1/ITEM-1", "--server", "127.0.0.1:%d" % self.ports["ent"],
                  "--id", "300:88.100.1/admin", "--key", self.ent_key,
                  "--value", "2:EMAIL:attacker@evil.example")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.expect("88.100.1/ITEM-1", 1,
                    "not verified (digest): digest of value 2 (EMAIL) does not match the "
                    "signature: the value changed after signing")

    def test_3_permission_not_covering(self):
        # A signature on a handle outside the enterprise's prefix (the root's 0.NA/88
        # record, signed as if by the enterprise) is refused for permissions.
        out = run("sign", "0.NA/88.100", "--key", self.ent_key, "--signer",
                  "300:0.NA/88.100.1", "--server", "127.0.0.1:%d" % self.ports["root"],
                  "--id", "300:0.NA/88.100", "--admin-key", self.sec_key, "--index", "1,2,100,300")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.expect("0.NA/88.100", 1,
                    "not verified (permission): permission: the certificate of "
                    "300:0.NA/88.100.1 does not cover 0.NA/88.100")

    def test_4_expired_certificate(self):
        out = self.sign("88.100.1/ITEM-2")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.expect("88.100.1/ITEM-2", 0, "verified: 3 values")
        # The enterprise's certificate replaced by one that ended yesterday.
        nbf = str(int(time.time()) - 10 * 86400)
        out = self.cert(self.sec_key, "300:0.NA/88.100", "300:0.NA/88.100.1", self.ent_key,
                        ["0.NA/88.100.1:handlesUnderThisPrefix"],
                        "127.0.0.1:%d" % self.ports["sec"], self.ent_key,
                        "--not-before", nbf, "--days", "9", "--replace")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.expect("88.100.1/ITEM-2", 1,
                    "not verified (expired): certificate 1 (300:0.NA/88.100.1, issued by "
                    "300:0.NA/88.100) expired at %d" % (int(nbf) + 9 * 86400))

    def test_5_usage_errors(self):
        out = run("resolve", "88.100.1/ITEM-0", "--trusted")
        self.assertEqual(out.returncode, 2)
        self.assertIn("--trusted needs --trust-root", out.stderr)
        bad = os.path.join(self.tmp, "bad.pub")
        with open(bad, "w") as f:
            f.write("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
        out = self.trusted("88.100.1/ITEM-0", bad)
        self.assertEqual(out.returncode, 2)
        self.assertIn("not a PEM public key", out.stderr)
        out = run("cert", "--issuer-key", self.root_key, "--issuer", ROOT_ISS, "--subject",
                  "300:0.NA/88.100", "--subject-key", self.sec_key, "--perm", "0.NA/88.100:all")
        self.assertEqual(out.returncode, 2)
        self.assertIn("--perm '0.NA/88.100:all'", out.stderr)
        # The node's settings: a trust root is a recursive node's, and must be a key.
        out = run("serve", "--data", os.path.join(self.tmp, "nodata"), "--trust-root", bad)
        self.assertEqual(out.returncode, 2)
        self.assertIn("--trust-root is a recursive node's: it needs --recursive", out.stderr)
        out = run("serve", "--recursive", "--root", "127.0.0.1:%d" % self.ports["root"],
                  "--listen", "127.0.0.1:%d" % free_port(), "--trust-root", bad)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("trust root '%s': not a PEM public key" % bad, out.stderr)


if __name__ == "__main__":
    unittest.main()
