"""System tests for authenticated administration against a real `idnode serve`:
each operation through the CLI with an RSA identity (keygen'd) and a secret-key
identity, then attacks (wrong key, another nonce, replayed op 200, expired
challenge, another prefix's admin, a non-admin adding HS_ADMIN, an HS_VLIST
loop), each refused with the right code and the store unchanged."""
import hashlib
import os
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import keygen, parse_answer, request, start_admin_node, tcp_exchange  # noqa: E402
from idnlib import admin_data, hexval, s, vlist_data  # noqa: E402

SECRET = b"sys-secret-2026"


def values_body(handle, values):
    """str handle + value[] (index, type, text data) as a 9.x client sends them."""
    out = s(handle) + struct.pack(">I", len(values))
    for index, typ, data in values:
        out += struct.pack(">IIBIB", index, 0, 0, 86400, 0x0e) + s(typ) + s(data)
        out += struct.pack(">I", 0)
    return out


class AdminTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        admin_values = [
            # The secret-key identity may create handles and add values, nothing else.
            hexval(101, "HS_ADMIN", admin_data(0x0041, 200, "0.NA/88.100.1")),
            hexval(200, "HS_VLIST", vlist_data([(300, "88.100.1/sec"), (201, "0.NA/88.100.1")])),
            # A group that contains itself: membership must still end.
            hexval(201, "HS_VLIST", vlist_data([(200, "0.NA/88.100.1"), (201, "0.NA/88.100.1")]))]
        sec = {"handle": "88.100.1/sec", "values": [
            hexval(300, "HS_SECKEY", SECRET.hex(), perms=0x0c),
            hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, "0.NA/88.100.1"))]}
        other_prefix = {"handle": "0.NA/88.999", "values": [
            hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, "0.NA/88.999"))]}
        start_admin_node(cls, "adm", [sec, other_prefix], values=admin_values,
                         homes=("88.100.1", "88.999", "0.NA"), extra_args=["--max-auth-time", "2"])
        cls.other = os.path.join(cls.tmp, "other.pem")
        keygen(cls.other)
        cls.secret = os.path.join(cls.tmp, "secret")
        with open(cls.secret, "wb") as f:
            f.write(SECRET + b"\n")
        cls.server = "127.0.0.1:%d" % cls.node.port

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        cls.node.close()

    def rsa(self, cmd, arg, *more, key=None):
        return self.node.cli(cmd, arg, "--server", self.server, "--id", "300:0.NA/88.100.1",
                             "--key", key or self.key, *more)

    def sec(self, cmd, arg, *more):
        return self.node.cli(cmd, arg, "--server", self.server, "--id", "300:88.100.1/sec",
                             "--secret-file", self.secret, *more)

    def resolved(self, handle):
        out = self.node.resolve(handle, "--tcp")
        return out.stdout if out.returncode == 0 else None

    def test_rsa_each_operation(self):
        h = "88.100.1/rsa-1"
        r = self.rsa("create", h, "--value", "1:URL:https://example.com/1",
                     "--value", "100:HS_ADMIN:300:0.NA/88.100.1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("https://example.com/1", self.resolved(h))
        r = self.rsa("create", h, "--value", "1:URL:https://example.com/again")
        self.assertEqual(r.returncode, 1)
        self.assertIn("101", r.stderr)
        r = self.rsa("add", h, "--value", "2:EMAIL:qa@example.com")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.rsa("modify", h, "--value", "2:EMAIL:ops@example.com")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ops@example.com", self.resolved(h))
        r = self.rsa("remove", h, "--index", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("example.com", self.resolved(h).replace("https://example.com/1", ""))
        r = self.rsa("list", "88.100.1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(h, r.stdout.split())
        r = self.rsa("delete", h)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIsNone(self.resolved(h))
        r = self.rsa("home", "88.555")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.rsa("unhome", "88.555")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.rsa("create", "88.100.1/", "--mint", "--value", "1:URL:https://m")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("88.100.1/"))

    def test_dsa_and_sm2_identities_each_operation(self):
        # The RSA admin makes each identity's handle (its HS_PUBKEY) and gives
        # it every right on the prefix; the identity then runs each operation.
        import subprocess
        from idnlib import IDNODE
        for n, typ in enumerate(("dsa", "sm2")):
            key = os.path.join(self.tmp, typ + ".pem")
            out = subprocess.run([IDNODE, "keygen", "--type", typ, "--out", key],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            ident = "88.100.1/%s-admin" % typ
            r = self.rsa("create", ident, "--value", "300:HS_PUBKEY:hex:" + out.stdout.strip(),
                         "--value", "100:HS_ADMIN:300:0.NA/88.100.1")
            self.assertEqual(r.returncode, 0, r.stderr)
            r = self.rsa("add", "0.NA/88.100.1",
                         "--value", "%d:HS_ADMIN:0FFF/300:%s" % (110 + n, ident))
            self.assertEqual(r.returncode, 0, r.stderr)

            def as_ident(cmd, arg, *more):
                return self.node.cli(cmd, arg, "--server", self.server, "--id", "300:" + ident,
                                     "--key", key, *more)
            h = "88.100.1/%s-1" % typ
            r = as_ident("create", h, "--value", "1:URL:https://example.com/" + typ,
                         "--value", "100:HS_ADMIN:300:" + ident)
            self.assertEqual(r.returncode, 0, typ + r.stderr)
            self.assertIn("https://example.com/" + typ, self.resolved(h))
            r = as_ident("add", h, "--value", "2:EMAIL:qa@example.com")
            self.assertEqual(r.returncode, 0, typ + r.stderr)
            r = as_ident("modify", h, "--value", "2:EMAIL:ops@example.com")
            self.assertEqual(r.returncode, 0, typ + r.stderr)
            self.assertIn("ops@example.com", self.resolved(h))
            r = as_ident("remove", h, "--index", "2")
            self.assertEqual(r.returncode, 0, typ + r.stderr)
            self.assertNotIn("ops@example.com", self.resolved(h))
            r = as_ident("list", "88.100.1")
            self.assertEqual(r.returncode, 0, typ + r.stderr)
            self.assertIn(h, r.stdout.split())
            r = as_ident("delete", h)
            self.assertEqual(r.returncode, 0, typ + r.stderr)
            self.assertIsNone(self.resolved(h))
            # another key of the same type is not this identity
            other = os.path.join(self.tmp, typ + "-other.pem")
            subprocess.run([IDNODE, "keygen", "--type", typ, "--out", other],
                           capture_output=True, timeout=60, check=True)
            r = self.node.cli("create", h, "--server", self.server, "--id", "300:" + ident,
                              "--key", other, "--value", "1:URL:https://evil")
            self.assertNotEqual(r.returncode, 0)
            self.assertIsNone(self.resolved(h))

    def test_secret_key_identity(self):
        h = "88.100.1/sec-1"
        r = self.sec("create", h, "--value", "1:URL:https://example.com/s",
                     "--value", "100:HS_ADMIN:300:88.100.1/sec")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.sec("add", h, "--value", "2:EMAIL:s@example.com")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("s@example.com", self.resolved(h))
        # Only add-handle and add-value on the prefix: listing is refused, naming the right.
        r = self.sec("list", "88.100.1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("401", r.stderr)
        self.assertIn("list handles", r.stderr)

    def test_attack_wrong_key(self):
        r = self.rsa("create", "88.100.1/evil-1", "--value", "1:URL:x", key=self.other)
        self.assertEqual(r.returncode, 1)
        self.assertIn("403", r.stderr)
        self.assertIsNone(self.resolved("88.100.1/evil-1"))

    def test_attack_other_prefix(self):
        # An admin of 88.100.1 only (not a node admin: secret key) creating under 88.999.
        r = self.sec("create", "88.999/evil", "--value", "1:URL:x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("400", r.stderr)
        self.assertIsNone(self.resolved("88.999/evil"))

    def test_attack_non_admin_adds_admin(self):
        h = "88.100.1/guarded"
        r = self.rsa("create", h, "--value", "1:URL:https://g",
                     "--value", "100:HS_ADMIN:0040/300:88.100.1/sec")
        self.assertEqual(r.returncode, 0, r.stderr)
        before = self.resolved(h)
        r = self.sec("add", h, "--value", "101:HS_ADMIN:300:88.100.1/sec")
        self.assertEqual(r.returncode, 1)
        self.assertIn("401", r.stderr)
        self.assertIn("add admin", r.stderr)
        self.assertEqual(self.resolved(h), before)

    def raw_challenge(self, handle):
        req = request(handle, op=100, flags=0x18000000,
                      body=values_body(handle, [(1, "URL", "https://raw")]))
        env, op, rc, flags, body = parse_answer(tcp_exchange(self.node.port, req))
        self.assertEqual(rc, 402)
        alg = body[0]
        dlen = {2: 20, 3: 32}[alg]
        digest = body[1:1 + dlen]
        nlen = struct.unpack(">I", body[1 + dlen:5 + dlen])[0]
        nonce = body[5 + dlen:5 + dlen + nlen]
        return env["session"], nonce, digest

    def raw_response(self, session, nonce, digest):
        mac = hashlib.sha1(SECRET + nonce + digest + SECRET).digest()
        body = s("HS_SECKEY") + s("88.100.1/sec") + struct.pack(">I", 300) + s(b"\x02" + mac)
        req = request("", op=200, flags=0x18000000, body=body, session=session)
        return parse_answer(tcp_exchange(self.node.port, req))

    def test_attack_replay_and_other_nonce(self):
        sid, nonce, digest = self.raw_challenge("88.100.1/raw-1")
        _, op, rc, _, _ = self.raw_response(sid, nonce, digest)
        self.assertEqual((op, rc), (100, 1))
        _, op, rc, _, _ = self.raw_response(sid, nonce, digest)  # replayed
        self.assertEqual((op, rc), (200, 500))
        sid, nonce, digest = self.raw_challenge("88.100.1/raw-2")
        _, op, rc, _, _ = self.raw_response(sid, bytes(16), digest)  # another nonce
        self.assertEqual(rc, 403)
        self.assertIsNone(self.resolved("88.100.1/raw-2"))

    def test_attack_expired_challenge(self):
        sid, nonce, digest = self.raw_challenge("88.100.1/late")
        time.sleep(3.2)  # --max-auth-time 2
        _, op, rc, _, _ = self.raw_response(sid, nonce, digest)
        self.assertEqual(rc, 500)
        self.assertIsNone(self.resolved("88.100.1/late"))

    def test_udp_refused(self):
        from idnlib import udp_exchange
        req = request("88.100.1/u", op=100, body=values_body("88.100.1/u", [(1, "URL", "x")]))
        _, op, rc, _, body = parse_answer(udp_exchange(self.node.port, req)[0])
        self.assertEqual(rc, 4)


if __name__ == "__main__":
    unittest.main()
