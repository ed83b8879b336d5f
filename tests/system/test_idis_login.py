"""The national system's login (op 2001) against a real `idnode serve`, with a
client written from ../shared/IDIS.md (idislib.py): RSA and SM2 identities
whose HS_PUBKEY is PEM text, both SDKs' 2001 bodies, identifiers created,
modified and deleted in the login without further challenges; refusals (a
wrong key, a reused nonce, no login, a second login and a bad signature
under --national-codes ids) each leaving the store unchanged; the keep-alive
resolution of "0" kept out of the log; resolutions with the trailing auth
bytes and the header flags 0x2 and 0x4; idnode's own client logging in the
national way (`idnode create --login idis`)."""
import hashlib
import os
import shutil
import struct
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import idislib as L  # noqa: E402
from idnlib import IDNODE, Node, clear_of_midnight  # noqa: E402  (the process only, not its messages)

PREFIX = "88.100.1"
RSA_ID, SM2_ID = PREFIX + "/rsa-user", PREFIX + "/sm2-user"
# What the test's identities may do under 0.NA/88.100.1: everything.
ALL = 0x0FFF


def hexval(index, typ, data, perms=0x0e):
    return {"index": index, "type": typ, "perms": perms,
            "data": {"format": "hex", "value": data.hex()}}


def records(rsa_pem, sm2_pem):
    return [
        {"handle": "0.NA/" + PREFIX, "values": [
            hexval(100, "HS_ADMIN", L.admin_data(ALL, 300, RSA_ID)),
            hexval(101, "HS_ADMIN", L.admin_data(ALL, 300, SM2_ID))]},
        {"handle": RSA_ID, "values": [hexval(300, "HS_PUBKEY", L.hs_pubkey_pem(rsa_pem)),
                                      hexval(100, "HS_ADMIN", L.admin_data(ALL, 300, RSA_ID))]},
        {"handle": SM2_ID, "values": [hexval(300, "HS_PUBKEY", L.hs_pubkey_pem(sm2_pem)),
                                      hexval(100, "HS_ADMIN", L.admin_data(ALL, 300, SM2_ID))]},
        {"handle": PREFIX + "/keep", "values": [hexval(1, "URL", b"https://example.org/keep")]},
        # A record with a value only its administrators may read (perms: admin read/write).
        {"handle": PREFIX + "/restricted", "values": [
            hexval(1, "URL", b"https://example.org/r"),
            hexval(2, "SERIAL", b"internal-7731", perms=0x0c),
            hexval(100, "HS_ADMIN", L.admin_data(ALL, 300, SM2_ID))]},
    ]


class IdisLoginTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="idn-idis-")
        cls.keys = {}
        pems = {}
        for kind in ("rsa", "sm2", "other-rsa", "other-sm2"):
            path = os.path.join(cls.tmp, kind + ".pem")
            pems[kind] = L.genkey(path, kind.split("-")[-1])
            cls.keys[kind] = path
        cls.recs = records(pems["rsa"], pems["sm2"])
        cls.node = Node(records=cls.recs, homes=(PREFIX, "0.NA"))
        cls.ids = Node(records=cls.recs, homes=(PREFIX, "0.NA"),
                       extra_args=("--national-codes", "ids"))
        cls.session = 10000

    @classmethod
    def tearDownClass(cls):
        cls.node.close()
        cls.ids.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # ---- helpers ----

    def next_session(self):
        IdisLoginTest.session += 1
        return IdisLoginTest.session

    def conn(self, node=None):
        c = L.Conn((node or self.node).port)
        self.addCleanup(c.close)
        return c

    def login(self, conn, ident, kind, ids=False, session=None):
        lg = L.Login(conn, ident, 300, self.keys[kind], kind, session or self.next_session(),
                     ids)
        return lg, lg.run()

    def resolve(self, handle, node=None):
        """(rc, {index: (type, data)}) over a TCP connection of its own."""
        c = L.Conn((node or self.node).port)
        try:
            _, a = c.ask(L.OP_RESOLUTION, L.resolution_body(handle))
        finally:
            c.close()
        return a.rc, (L.decode_values(a.body) if a.rc == 1 else {})

    def state(self, *handles, node=None):
        return [self.resolve(h, node) for h in handles]

    # ---- logins that work ----

    def check_login(self, ident, kind, ids):
        c = self.conn()
        lg = L.Login(c, ident, 300, self.keys[kind], kind, self.next_session(), ids)
        ch = lg.start()
        self.assertEqual(ch.rc, 402, ch.message_text())
        self.assertEqual(ch.op, L.OP_LOGIN)
        # The digest is SHA-256 of the 2001's header + body, as the SDK checks.
        hb = lg.request[20:20 + 24 + struct.unpack(">I", lg.request[40:44])[0]]
        self.assertEqual(ch.digest, hashlib.sha256(hb).digest())
        ok = lg.answer()
        self.assertEqual((ok.rc, ok.op, ok.body), (1, L.OP_LOGIN, b""), ok.message_text())
        h = "%s/%s-%s" % (PREFIX, kind, "ids" if ids else "ips")
        # Create, modify, delete in the login: no 402 on any of them.
        own = L.value(100, "HS_ADMIN", L.admin_data(ALL, 300, ident))
        _, a = c.ask(L.OP_CREATE,
                     L.values_body(h, [L.value(1, "URL", "https://a.example/"), own]),
                     lg.session)
        self.assertEqual((a.rc, a.op), (1, L.OP_CREATE), a.message_text())
        self.assertEqual(self.resolve(h)[1][1], ("URL", b"https://a.example/"))
        _, a = c.ask(L.OP_MODIFY, L.values_body(h, [L.value(1, "URL", "https://b.example/")]),
                     lg.session)
        self.assertEqual(a.rc, 1, a.message_text())
        self.assertEqual(self.resolve(h)[1][1], ("URL", b"https://b.example/"))
        _, a = c.ask(L.OP_DELETE, L.bstr(h), lg.session)
        self.assertEqual(a.rc, 1, a.message_text())
        self.assertEqual(self.resolve(h)[0], 100)

    def test_rsa_pem_ips_body(self):
        self.check_login(RSA_ID, "rsa", False)

    def test_rsa_pem_ids_body(self):
        self.check_login(RSA_ID, "rsa", True)

    def test_sm2_pem_ips_body(self):
        self.check_login(SM2_ID, "sm2", False)

    def test_sm2_pem_ids_body(self):
        self.check_login(SM2_ID, "sm2", True)

    def test_restricted_read_in_login(self):
        """A resolution without PO reads restricted values as the login's identity."""
        h = PREFIX + "/restricted"
        # Not logged in: the restricted value needs a proof (402), as the reference asks it.
        c = self.conn()
        _, a = c.ask(L.OP_RESOLUTION, L.resolution_body(h), self.next_session())
        self.assertEqual(a.rc, 402, a.message_text())
        # Logged in: every value, no challenge.
        lg, ok = self.login(c, SM2_ID, "sm2")
        self.assertEqual(ok.rc, 1)
        _, a = c.ask(L.OP_RESOLUTION, L.resolution_body(h), lg.session)
        self.assertEqual(a.rc, 1, a.message_text())
        vals = L.decode_values(a.body)
        self.assertEqual(vals[2], ("SERIAL", b"internal-7731"))
        # With PO (public only), the public values alone, logged in or not.
        _, a = c.ask(L.OP_RESOLUTION, L.resolution_body(h), lg.session, L.F_PO)
        self.assertEqual(a.rc, 1, a.message_text())
        self.assertEqual(sorted(L.decode_values(a.body)), [1, 100])
        # Another identity without the read right is refused, not answered.
        c2 = self.conn()
        lg2, ok = self.login(c2, RSA_ID, "rsa")
        self.assertEqual(ok.rc, 1)
        _, a = c2.ask(L.OP_RESOLUTION, L.resolution_body(h), lg2.session)
        self.assertNotEqual(a.rc, 1, a.message_text())

    # ---- refusals: the store unchanged after each ----

    def attempt_create(self, conn, session, handle):
        _, a = conn.ask(L.OP_CREATE, L.values_body(handle, [L.value(1, "URL", "https://x/")]),
                        session)
        return a

    def test_wrong_key(self):
        for ident, kind in ((RSA_ID, "rsa"), (SM2_ID, "sm2")):
            before = self.state(ident, PREFIX + "/keep")
            c = self.conn()
            lg = L.Login(c, ident, 300, self.keys[kind], kind, self.next_session())
            self.assertEqual(lg.start().rc, 402)
            a = lg.answer(key_path=self.keys["other-" + kind])
            self.assertEqual(a.rc, 403, a.message_text())
            # Not logged in: a create in the session is refused.
            a = self.attempt_create(c, lg.session, PREFIX + "/wrong-key")
            self.assertNotEqual(a.rc, 1)
            self.assertEqual(self.state(ident, PREFIX + "/keep"), before)
            self.assertEqual(self.resolve(PREFIX + "/wrong-key")[0], 100)

    def test_reused_nonce(self):
        c1 = self.conn()
        first, ok = self.login(c1, RSA_ID, "rsa")
        self.assertEqual(ok.rc, 1)
        # The same op 200 again: its challenge is spent.
        _, a = c1.ask(L.OP_CHALLENGE_RESPONSE,
                      L.challenge_response_body(RSA_ID, 300, first.signed),
                      first.challenge.session, L.F_RD)
        self.assertNotEqual(a.rc, 1)
        # A new login answered with the old signature (the old nonce): refused.
        c2 = self.conn()
        lg = L.Login(c2, RSA_ID, 300, self.keys["rsa"], "rsa", self.next_session())
        self.assertEqual(lg.start().rc, 402)
        a = lg.answer(signed=first.signed)
        self.assertEqual(a.rc, 403)
        # ... or signed over the old nonce and the new digest.
        lg = L.Login(c2, RSA_ID, 300, self.keys["rsa"], "rsa", self.next_session())
        self.assertEqual(lg.start().rc, 402)
        a = lg.answer(nonce=L.challenge_of(first.challenge))
        self.assertEqual(a.rc, 403)
        before = self.state(PREFIX + "/reused")
        a = self.attempt_create(c2, lg.session, PREFIX + "/reused")
        self.assertNotEqual(a.rc, 1)
        self.assertEqual(self.state(PREFIX + "/reused"), before)

    def test_without_login(self):
        before = self.state(PREFIX + "/nologin", PREFIX + "/keep")
        c = self.conn()
        # A session id of its own, never logged in: 500 (ips codes), nothing written.
        a = self.attempt_create(c, self.next_session(), PREFIX + "/nologin")
        self.assertEqual(a.rc, 500, a.message_text())
        # Another connection's login does not carry over.
        c2 = self.conn()
        lg, ok = self.login(c2, RSA_ID, "rsa")
        self.assertEqual(ok.rc, 1)
        a = self.attempt_create(c, lg.session, PREFIX + "/nologin")
        self.assertEqual(a.rc, 500)
        # Without a session id: the standard challenge, left unanswered.
        a = self.attempt_create(c, 0, PREFIX + "/nologin")
        self.assertEqual(a.rc, 402)
        self.assertEqual(self.state(PREFIX + "/nologin", PREFIX + "/keep"), before)
        # Legacy password login: refused, saying why.
        _, a = c.ask(L.OP_PASSWORD_LOGIN, L.bstr("user") + struct.pack(">I", 0))
        self.assertEqual(a.rc, 5)
        self.assertIn("2001", a.message_text())

    def test_ids_codes(self):
        before = self.state(PREFIX + "/ids-x", node=self.ids)
        c = self.conn(self.ids)
        lg, ok = self.login(c, SM2_ID, "sm2", ids=True)
        self.assertEqual(ok.rc, 1)
        # A second login on the connection: 407.
        _, a = c.ask(L.OP_LOGIN, L.login_body(SM2_ID, 300, True), self.next_session(), L.F_RD)
        self.assertEqual(a.rc, 407)
        # No login, with a session id of its own: 408.
        c2 = self.conn(self.ids)
        a = self.attempt_create(c2, self.next_session(), PREFIX + "/ids-x")
        self.assertEqual(a.rc, 408)
        self.assertIn("login", a.message_text())
        # A bad signature: 3001.
        lg2 = L.Login(c2, RSA_ID, 300, self.keys["rsa"], "rsa", self.next_session(), True)
        self.assertEqual(lg2.start().rc, 402)
        self.assertEqual(lg2.answer(key_path=self.keys["other-rsa"]).rc, 3001)
        self.assertEqual(self.state(PREFIX + "/ids-x", node=self.ids), before)

    # ---- SM4 transport encryption ----

    def test_sm4_session(self):
        for ident, kind in ((RSA_ID, "rsa"), (SM2_ID, "sm2")):
            c = L.Sm4Conn(self.node.port)
            self.addCleanup(c.close)
            sid = self.next_session()
            # As id-pointer-sdk: the setup first, then the login, all encrypted.
            a = c.setup(ident, 300, self.keys[kind], kind, sid)
            self.assertEqual(a.rc, 1, a.message_text())
            lg = L.Login(c, ident, 300, self.keys[kind], kind, sid)
            ok = lg.run()
            self.assertEqual((ok.rc, ok.op), (1, L.OP_LOGIN), ok.message_text())
            self.assertTrue(c.last_encrypted)
            h = "%s/sm4-%s" % (PREFIX, kind)
            own = L.value(100, "HS_ADMIN", L.admin_data(ALL, 300, ident))
            _, a = c.ask(L.OP_CREATE, L.values_body(h, [L.value(1, "URL", "https://sm4/"), own]),
                         sid)
            self.assertEqual(a.rc, 1, a.message_text())
            self.assertTrue(c.last_encrypted)
            _, a = c.ask(L.OP_RESOLUTION, L.resolution_body(h), sid)
            self.assertEqual((a.rc, L.decode_values(a.body)[1]), (1, ("URL", b"https://sm4/")))
            self.assertTrue(c.last_encrypted)
            before = self.state(h, PREFIX + "/sm4-bad")
            # A wrong key: answered in the clear with a session error, nothing done.
            right, c.key = c.key, bytes(16)
            _, a = c.ask(L.OP_CREATE, L.values_body(PREFIX + "/sm4-bad",
                                                    [L.value(1, "URL", "x"), own]), sid)
            self.assertEqual(a.rc, 502, a.message_text())
            self.assertFalse(c.last_encrypted)
            c.key = right
            # Damaged: not whole blocks; and a last block whose padding is wrong.
            for ct in (b"\x01" * 21, L.sm4(right, b"x" * 40)[:32] + bytes(16)):
                raw = L.message(L.OP_DELETE, L.bstr(h), sid, c.next_id())
                c.send(raw[:2] + bytes([raw[2] | L.ENV_ENCRYPTED]) + raw[3:16] +
                       struct.pack(">I", len(ct)) + ct)
                a = c.read_answer()
                self.assertEqual(a.rc, 502)
            self.assertEqual(self.state(h, PREFIX + "/sm4-bad"), before)
            # The right key still works on the same connection.
            _, a = c.ask(L.OP_DELETE, L.bstr(h), sid)
            self.assertEqual(a.rc, 1, a.message_text())
            self.assertEqual(self.resolve(h)[0], 100)
        # A setup naming an identity with no key here: a session error.
        c = L.Sm4Conn(self.node.port)
        self.addCleanup(c.close)
        a = c.setup(PREFIX + "/nobody", 300, self.keys["rsa"], "rsa", self.next_session())
        self.assertEqual(a.rc, 501)

    # ---- resolution as the SDKs send it ----

    def test_keepalive_not_logged(self):
        c = self.conn()
        lg, ok = self.login(c, RSA_ID, "rsa")
        for _ in range(3):
            _, a = c.ask(L.OP_RESOLUTION, L.resolution_body("0"))
            self.assertEqual(a.rc, 100)
        # The connection stays usable, still logged in.
        a = self.attempt_create(c, lg.session, PREFIX + "/after-heartbeat")
        self.assertEqual(a.rc, 1, a.message_text())
        log = self.node.output()
        self.assertNotIn("error", log.lower().replace("errors", ""))

    def test_trailer_and_flags(self):
        c = self.conn()
        jwt = b"eyJhbGciOiJSUzI1NiJ9.eyJ1c2VyX2luZGV4IjozMDB9.c2ln"
        for auth, flags in ((b"", 0), (b"", L.F_TRUSTED | L.F_RECU_AUTH), (jwt, L.F_RECU_AUTH),
                            (jwt, L.F_TRUSTED)):
            _, a = c.ask(L.OP_RESOLUTION, L.resolution_body(PREFIX + "/keep", auth=auth),
                         flags=flags)
            self.assertEqual(a.rc, 1, a.message_text())
            self.assertEqual(L.decode_values(a.body)[1], ("URL", b"https://example.org/keep"))
        # A length that overruns the body: a protocol error.
        body = L.resolution_body(PREFIX + "/keep") + struct.pack(">I", 99) + b"short"
        _, a = c.ask(L.OP_RESOLUTION, body)
        self.assertEqual(a.rc, 4)

    # ---- idnode's own client, the national way ----

    def test_idnode_client_login(self):
        for ident, kind, mode in ((RSA_ID, "rsa", "idis"), (SM2_ID, "sm2", "idis-ids")):
            h = "%s/cli-%s" % (PREFIX, kind)
            out = self.node.cli("create", h, "--server", "127.0.0.1:%d" % self.node.port,
                                "--id", "300:" + ident, "--key", self.keys[kind],
                                "--login", mode, "--value", "1:URL:https://cli.example/")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(self.resolve(h)[1], {1: ("URL", b"https://cli.example/")})
            out = self.node.cli("delete", h, "--server", "127.0.0.1:%d" % self.node.port,
                                "--id", "300:" + ident, "--key", self.keys[kind],
                                "--login", mode)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(self.resolve(h)[0], 100)
        # SM4-encrypted, after the login.
        for ident, kind in ((RSA_ID, "rsa"), (SM2_ID, "sm2")):
            h = "%s/cli-enc-%s" % (PREFIX, kind)
            out = self.node.cli("create", h, "--server", "127.0.0.1:%d" % self.node.port,
                                "--id", "300:" + ident, "--key", self.keys[kind],
                                "--login", "idis", "--encrypt", "--value", "1:URL:https://e/")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(self.resolve(h)[1][1], ("URL", b"https://e/"))
        # A list, answered encrypted.
        out = self.node.cli("list", PREFIX, "--server", "127.0.0.1:%d" % self.node.port,
                            "--id", "300:" + RSA_ID, "--key", self.keys["rsa"], "--login",
                            "idis", "--encrypt")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(PREFIX + "/cli-enc-sm2", out.stdout.split())
        self.assertIn(PREFIX + "/keep", out.stdout.split())
        # The wrong key: refused, named, nothing written.
        out = self.node.cli("create", PREFIX + "/cli-bad", "--server",
                            "127.0.0.1:%d" % self.node.port, "--id", "300:" + RSA_ID, "--key",
                            self.keys["other-rsa"], "--login", "idis", "--value", "1:URL:x")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("login (2001) refused: 403", out.stderr)
        self.assertEqual(self.resolve(PREFIX + "/cli-bad")[0], 100)


class IdisQuotaTest(unittest.TestCase):
    """Requests in a 2001 login count against the identity's daily quota (603), the login too."""

    def test_daily_quota_in_login(self):
        clear_of_midnight()
        tmp = tempfile.mkdtemp(prefix="idn-idis-quota-")
        self.addCleanup(shutil.rmtree, tmp, True)
        rsa = os.path.join(tmp, "rsa.pem")
        sm2 = os.path.join(tmp, "sm2.pem")
        node = Node(records=records(L.genkey(rsa, "rsa"), L.genkey(sm2, "sm2")),
                    homes=(PREFIX, "0.NA"), extra_args=("--quota-daily-requests", "3"))
        self.addCleanup(node.close)
        c = L.Conn(node.port)
        self.addCleanup(c.close)
        lg = L.Login(c, SM2_ID, 300, sm2, "sm2", 10001)
        self.assertEqual(lg.run().rc, 1)
        own = L.value(100, "HS_ADMIN", L.admin_data(ALL, 300, SM2_ID))
        for i in range(3):  # the login was the first of the day's 3
            h = "%s/quota-%d" % (PREFIX, i)
            _, a = c.ask(L.OP_CREATE, L.values_body(h, [L.value(1, "URL", "https://q/"), own]),
                         lg.session)
            if i < 2:
                self.assertEqual(a.rc, 1, a.message_text())
            else:
                self.assertEqual(a.rc, 603, a.message_text())
                self.assertIn("daily requests of 300:" + SM2_ID, a.message_text())
        # The refused create wrote nothing.
        r = L.Conn(node.port)
        self.addCleanup(r.close)
        _, a = r.ask(L.OP_RESOLUTION, L.resolution_body(PREFIX + "/quota-2"))
        self.assertEqual(a.rc, 100)


if __name__ == "__main__":
    unittest.main()
