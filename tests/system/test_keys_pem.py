"""System tests for identity keys stored the national SDKs' way: HS_PUBKEY
data that is the PEM text of the public key (`idnode keygen --pubkey-format
pem`; Java's CRLF form too). RSA and SM2 identities whose PEM keys were
loaded as JSON Lines ("format": "string") log in through the normal Handle
challenge with `idnode create --key`, with and without a session; another
key is refused and leaves the store unchanged; a PEM key stored through the
REST API (PUT /api/handles, HTTP Basic) and through `idnode add` with
pem:@FILE logs in too; a malformed or wrong-curve key is refused by the CLI
with a message saying what is wrong."""
import base64
import json
import os
import subprocess
import sys
import shutil
import tempfile
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode  # noqa: E402
from idnlib import IDNODE  # noqa: E402
from idnlib import admin_data, hexval  # noqa: E402

SECRET = b"pem-secret-2026"
PREFIX = "0.NA/88.100.1"


def keygen(path, typ, fmt="pem"):
    out = subprocess.run([IDNODE, "keygen", "--type", typ, "--out", path,
                          "--pubkey-format", fmt], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def java_pem(pem):
    """The same key as id-pointer-sdk's KeyConverter.toX509Pem writes it:
    MIME base64 in 76 columns, CRLF line ends."""
    body = "".join(l for l in pem.splitlines() if not l.startswith("-----"))
    lines = [body[i:i + 76] for i in range(0, len(body), 76)]
    return "\r\n".join(["-----BEGIN PUBLIC KEY-----"] + lines +
                       ["-----END PUBLIC KEY-----"]) + "\r\n"


def strval(index, typ, text, perms=None):
    v = {"index": index, "type": typ, "data": {"format": "string", "value": text}}
    if perms is not None:
        v["perms"] = perms
    return v


class KeysPemTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="idn-pem-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        p = lambda n: os.path.join(cls.tmp, n)  # noqa: E731
        cls.rsa, cls.sm2, cls.other = p("rsa.pem"), p("sm2.pem"), p("other.pem")
        cls.rest_key, cls.cli_key = p("rest.pem"), p("cli.pem")
        rsa_pub = keygen(cls.rsa, "rsa")
        sm2_pub = keygen(cls.sm2, "sm2")
        keygen(cls.other, "sm2")
        cls.rest_pub = keygen(cls.rest_key, "sm2")
        keygen(cls.cli_key, "rsa")
        assert rsa_pub.startswith("-----BEGIN PUBLIC KEY-----\n"), rsa_pub
        assert sm2_pub.startswith("-----BEGIN PUBLIC KEY-----\n"), sm2_pub
        # The prefix's admin has an RSA key as PEM (LF); the SM2 admin's is in
        # Java's CRLF form; the secret-key identity writes through REST.
        prefix = {"handle": PREFIX, "values": [
            hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, PREFIX)),
            hexval(101, "HS_ADMIN", admin_data(0x0FFF, 300, "88.100.1/sm2admin")),
            hexval(102, "HS_ADMIN", admin_data(0x0FFF, 300, "88.100.1/restadmin")),
            hexval(103, "HS_ADMIN", admin_data(0x0FFF, 300, "88.100.1/cliadmin")),
            hexval(104, "HS_ADMIN", admin_data(0x0FFF, 300, "88.100.1/sec")),
            strval(300, "HS_PUBKEY", rsa_pub)]}
        sm2admin = {"handle": "88.100.1/sm2admin", "values": [
            hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, PREFIX)),
            strval(300, "HS_PUBKEY", java_pem(sm2_pub))]}
        sec = {"handle": "88.100.1/sec", "values": [
            hexval(300, "HS_SECKEY", SECRET.hex(), perms=0x0c),
            hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, PREFIX))]}
        cls.node = HttpNode(records=[prefix, sm2admin, sec], homes=("88.100.1",))
        cls.server = "127.0.0.1:%d" % cls.node.port

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        cls.node.close()

    def admin(self, ident, key, cmd, handle, *more):
        return self.node.cli(cmd, handle, "--server", self.server, "--id", ident,
                             "--key", key, *more)

    def resolved(self, handle):
        out = self.node.resolve(handle, "--tcp")
        return out.stdout if out.returncode == 0 else None

    def login_creates(self, ident, key, handle):
        """With and without a session: the handle is created, then another key is refused."""
        for i, more in enumerate(((), ("--no-session",))):
            h = "%s-%d" % (handle, i)
            out = self.admin(ident, key, "create", h, "--value", "1:URL:https://example.org/" + h,
                             *more)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertIn("https://example.org/" + h, self.resolved(h) or "")
        before = self.node.dump()
        h = handle + "-wrong"
        out = self.admin(ident, self.other, "create", h, "--value", "1:URL:https://x.test/")
        self.assertNotEqual(out.returncode, 0, out.stdout)
        self.assertIsNone(self.resolved(h))
        self.assertEqual(self.node.dump(), before)

    def test_rsa_pem_identity(self):
        self.login_creates("300:" + PREFIX, self.rsa, "88.100.1/RSA-PEM")

    def test_sm2_pem_crlf_identity(self):
        self.login_creates("300:88.100.1/sm2admin", self.sm2, "88.100.1/SM2-PEM")
        # The SM2 key under another identity's name: the user ID differs, so no.
        out = self.admin("300:" + PREFIX, self.sm2, "create", "88.100.1/SM2-X",
                         "--value", "1:URL:https://x.test/")
        self.assertNotEqual(out.returncode, 0, out.stdout)
        self.assertIsNone(self.resolved("88.100.1/SM2-X"))

    def test_pem_key_stored_through_rest(self):
        auth = base64.b64encode(urllib.parse.quote("300:88.100.1/sec", safe="/").encode() +
                                b":" + SECRET).decode()
        body = json.dumps({"values": [
            {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
                "handle": PREFIX, "index": 300, "permissions": "111111111111"}}},
            {"index": 300, "type": "HS_PUBKEY",
             "data": {"format": "string", "value": java_pem(self.rest_pub)}}]})
        c = self.node.conn(timeout=60)
        try:
            c.request("PUT", "/api/handles/88.100.1/restadmin", body=body,
                      headers={"Authorization": "Basic " + auth,
                               "Content-Type": "application/json"})
            r = c.getresponse()
            st, ans = r.status, r.read()
        finally:
            c.close()
        self.assertIn(st, (200, 201), ans)
        # The REST API gives the key back as the text it is.
        st, got = self.node.get_json("/api/handles/88.100.1/restadmin?type=HS_PUBKEY")
        self.assertEqual(st, 200)
        v = got["values"][0]
        self.assertEqual(v["data"], {"format": "string", "value": java_pem(self.rest_pub)})
        self.login_creates("300:88.100.1/restadmin", self.rest_key, "88.100.1/REST-PEM")

    def test_pem_key_added_by_cli(self):
        pub = os.path.join(self.tmp, "cli.pub")
        out = subprocess.run(["openssl", "pkey", "-in", self.cli_key, "-pubout", "-out", pub],
                             capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        out = self.admin("300:" + PREFIX, self.rsa, "create", "88.100.1/cliadmin",
                         "--value", "300:HS_PUBKEY:pem:@" + pub,
                         "--value", "100:HS_ADMIN:300:" + PREFIX)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.login_creates("300:88.100.1/cliadmin", self.cli_key, "88.100.1/CLI-PEM")

    def test_bad_keys_refused_by_cli(self):
        ec = os.path.join(self.tmp, "p256.pem")
        out = subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                              "ec_paramgen_curve:P-256", "-out", ec],
                             capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(self.other, "rb") as f:
            priv_body = f.read().split(b"\n", 1)[1]
        before = self.node.dump()
        for data, want in (
                ("pem:@" + ec, "HS_PUBKEY: EC key on curve prime256v1: only SM2 accepted"),
                ("hex:" + b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".hex(),
                 "HS_PUBKEY: PEM: not an X.509 SubjectPublicKeyInfo"),
                ("hex:" + (b"-----BEGIN PRIVATE KEY-----\n" + priv_body).hex(),
                 "HS_PUBKEY: PEM: not a public key"),
                ("hex:30590102", "HS_PUBKEY: DER:")):
            out = self.admin("300:" + PREFIX, self.rsa, "create", "88.100.1/BAD",
                             "--value", "300:HS_PUBKEY:" + data)
            self.assertNotEqual(out.returncode, 0, out.stdout)
            self.assertIn(want, out.stderr)
        self.assertEqual(self.node.dump(), before)


if __name__ == "__main__":
    unittest.main()
