"""System tests for the quotas (603 daily requests, 604 identifiers under a
prefix, 605 child prefixes) against a real `idnode serve`: the limit-th
request passes and the next gets the configured code (--national-codes ips:
60x; ids: the standard codes), a delete makes room, counts survive a
graceful restart, a node admin raises a limit at runtime through
PUT /api/quotas and the next request passes, and a non-admin cannot change
a quota. Authenticated requests are raw Handle messages answered with a
secret key (op 200), so each answer's code is read exactly."""
import base64
import ctypes
import ctypes.util
import hashlib
import json
import os
import signal
import socket
import struct
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode  # noqa: E402
from idnlib import DEADLINE, clear_of_midnight  # noqa: E402
from idnlib import admin_data, challenge_of, hexval, keygen, parse_answer, request  # noqa: E402
from idnlib import pg_database, s, tcp_read_answer, vlist_data  # noqa: E402
from test_admin import values_body  # noqa: E402

SECRET = b"quota-secret-2026"
ADMIN = "88.900/admin"  # the node admin (--server-admin)
USERS = ("88.900/u-ids", "88.900/u-daily", "88.900/u-kids", "88.900/u-rest")


def records(rsa_pub=None):
    """Identities under 88.900 (not counted against 88.100.1), a group with
    every right on 88.100.1 and on 0.NA (prefix records)."""
    group = [(300, u) for u in USERS]
    out = [{"handle": h, "values": [hexval(300, "HS_SECKEY", SECRET.hex(), perms=0x0c)]}
           for h in (ADMIN,) + USERS]
    for p in ("0.NA/88.100.1", "0.NA/0.NA"):
        out.append({"handle": p, "values": [
            hexval(100, "HS_ADMIN", admin_data(0x0FFF, 200, "0.NA/88.900")),
            hexval(101, "HS_ADMIN", admin_data(0x0FFF, 300, ADMIN))]})
    out.append({"handle": "0.NA/88.900", "values": [hexval(200, "HS_VLIST", vlist_data(group))]})
    if rsa_pub:  # a second node admin, with a key pair
        out.append({"handle": "88.900/rsa-admin", "values": [hexval(300, "HS_PUBKEY", rsa_pub)]})
    return out


class MdbVal(ctypes.Structure):
    _fields_ = [("mv_size", ctypes.c_size_t), ("mv_data", ctypes.c_void_p)]


def stored_daily_count(data, identity):
    """The day's request count of identity as the store holds it (what a
    kill -9 keeps): its "qd." entry in the store's meta DB, read in a read-only
    LMDB transaction of our own (the library the node links), or None."""
    lib = ctypes.CDLL(ctypes.util.find_library("lmdb") or "liblmdb.so.0")
    key = b"u.qd." + hashlib.sha256(identity.encode()).hexdigest()[:48].encode()
    env, txn, dbi = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_uint()
    assert lib.mdb_env_create(ctypes.byref(env)) == 0
    try:
        lib.mdb_env_set_maxdbs(env, 16)
        if lib.mdb_env_open(env, data.encode(), 0x20000, 0o600) != 0:  # MDB_RDONLY
            return None
        if lib.mdb_txn_begin(env, None, 0x20000, ctypes.byref(txn)) != 0:
            return None
        try:
            k, v = MdbVal(len(key), ctypes.cast(ctypes.c_char_p(key), ctypes.c_void_p)), MdbVal()
            if (lib.mdb_dbi_open(txn, b"meta", 0, ctypes.byref(dbi)) != 0 or
                    lib.mdb_get(txn, dbi, ctypes.byref(k), ctypes.byref(v)) != 0 or
                    v.mv_size != 12):
                return None
            return struct.unpack(">IQ", ctypes.string_at(v.mv_data, 12))[1]
        finally:
            lib.mdb_txn_abort(txn)
    finally:
        lib.mdb_env_close(env)


def wait_stored(data, identity, count):
    deadline = time.time() + DEADLINE
    while time.time() < deadline:
        got = stored_daily_count(data, identity)
        if got == count:
            return got
        time.sleep(0.1)
    return got


def basic(user):
    tok = base64.b64encode(urllib.parse.quote("300:" + user, safe="/").encode() + b":" + SECRET)
    return {"Authorization": "Basic " + tok.decode()}


class QuotaNode(HttpNode):
    def __init__(self, codes, *flags, store=None, rsa_pub=None):
        super().__init__(records=records(rsa_pub), homes=("88.100.1", "88.900", "0.NA"),
                         extra_args=["--server-admin", "300:" + ADMIN,
                                     "--server-admin", "300:88.900/rsa-admin",
                                     "--national-codes", codes] + list(flags), store=store)

    def admin_op(self, who, op, handle, body):
        """An authenticated request as 300:who: (rcode, message or b"")."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as c:
            c.sendall(request(handle, op=op, flags=0x18000000, body=body))
            env, _, rc, _, b = parse_answer(tcp_read_answer(c))
            if rc != 402:
                return rc, b
            nonce, digest = challenge_of(b)
            mac = hashlib.sha1(SECRET + nonce + digest + SECRET).digest()
            resp = s("HS_SECKEY") + s(who) + struct.pack(">I", 300) + s(b"\x02" + mac)
            c.sendall(request("", op=200, flags=0x18000000, body=resp, session=env["session"]))
            _, _, rc, _, b = parse_answer(tcp_read_answer(c))
        msg = b[4:4 + struct.unpack(">I", b[:4])[0]] if rc != 1 and len(b) >= 4 else b""
        return rc, msg

    def create(self, who, handle):
        return self.admin_op(who, 100, handle, values_body(handle, [(1, "URL", "https://q")]))

    def delete(self, who, handle):
        return self.admin_op(who, 101, handle, s(handle))

    def home(self, who, prefix):
        return self.admin_op(who, 300, "0.NA/" + prefix, s("0.NA/" + prefix))

    def lists(self, who):
        """An authenticated request that writes nothing (list handles of 88.100.1)."""
        return self.admin_op(who, 105, "0.NA/88.100.1", s("0.NA/88.100.1"))[0]

    def rest(self, method, path, who, body=None):
        h = basic(who)
        if body is not None:
            body = json.dumps(body)
            h["Content-Type"] = "application/json"
        c = self.conn(timeout=60)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, json.loads(r.read() or b"null")
        finally:
            c.close()

    def quota(self, method, path, who=ADMIN, body=None):
        return self.rest(method, "/api/quotas/" + path, who, body)

    def restart(self, sig=signal.SIGTERM):
        """A stop (SIGTERM: the day's counts are written) and a start on the same store."""
        rc = self.stop(sig)
        if sig == signal.SIGTERM and rc != 0:
            raise RuntimeError("stop returned %d: %s" % (rc, self.output()))
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()
        self.wait_http()


DAILY = "daily/300:88.900/u-daily"


class QuotaIpsTest(unittest.TestCase):
    """--national-codes ips: 603, 604, 605. The tests run in order on one node."""

    @classmethod
    def setUpClass(cls):
        clear_of_midnight()
        cls.tmp = tempfile.mkdtemp(prefix="idn-quota-")
        cls.key, cls.secret = (os.path.join(cls.tmp, f) for f in ("admin.pem", "secret"))
        with open(cls.secret, "wb") as f:
            f.write(SECRET)
        cls.node = QuotaNode("ips", "--quota-daily-requests", "20", "--quota-identifiers", "3",
                             "--quota-child-prefixes", "2", rsa_pub=keygen(cls.key))

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        cls.node.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def resolves(self, handle):
        return self.node.resolve(handle, "--tcp").returncode == 0

    def test_1_identifiers(self):
        n, u = self.node, "88.900/u-ids"
        for i in range(3):  # the limit-th create passes
            self.assertEqual(n.create(u, "88.100.1/q%d" % i), (1, b""))
        rc, msg = n.create(u, "88.100.1/q3")
        self.assertEqual(rc, 604, msg)
        self.assertIn(b"quota: identifiers under prefix 88.100.1: limit 3 reached", msg)
        self.assertFalse(self.resolves("88.100.1/q3"))
        # A delete gives its room back.
        self.assertEqual(n.delete(u, "88.100.1/q0"), (1, b""))
        self.assertEqual(n.create(u, "88.100.1/q3"), (1, b""))
        self.assertEqual(n.create(u, "88.100.1/q4")[0], 604)
        # Over REST: 409, the code in the JSON.
        st, j = n.rest("PUT", "/api/handles/88.100.1/q5", "88.900/u-rest",
                       {"values": [{"index": 1, "type": "URL", "data": "https://r"}]})
        self.assertEqual((st, j["responseCode"]), (409, 604), j)
        self.assertIn("limit 3", j["message"])
        st, q = n.quota("GET", "identifiers/0.NA/88.100.1")
        self.assertEqual((st, q["used"], q["limit"], q["default"], q["override"]),
                         (200, 3, 3, 3, False), q)

    def test_2_children(self):
        n, k = self.node, "88.900/u-kids"
        # A 0.NA/P.C record and P.C homed here count once between them.
        self.assertEqual(n.create(k, "0.NA/88.100.1.1"), (1, b""))
        self.assertEqual(n.home(ADMIN, "88.100.1.1"), (1, b""))
        self.assertEqual(n.home(ADMIN, "88.100.1.2"), (1, b""))
        rc, msg = n.create(k, "0.NA/88.100.1.3")
        self.assertEqual(rc, 605, msg)
        self.assertIn(b"quota: child prefixes of 88.100.1: limit 2 reached", msg)
        self.assertEqual(n.home(ADMIN, "88.100.1.4")[0], 605)
        # A grandchild is not 88.100.1's child.
        self.assertEqual(n.create(k, "0.NA/88.100.1.1.7"), (1, b""))
        st, q = n.quota("GET", "child-prefixes/88.100.1")
        self.assertEqual((st, q["used"], q["limit"]), (200, 2, 2), q)

    def test_3_daily(self):
        n, d = self.node, "88.900/u-daily"
        for i in range(20):  # the default: 20 a day
            self.assertEqual(n.lists(d), 1, i)
        rc, msg = n.admin_op(d, 105, "0.NA/88.100.1", s("0.NA/88.100.1"))
        self.assertEqual(rc, 603, msg)
        self.assertIn(b"quota: daily requests of 300:88.900/u-daily: limit 20 a day reached; "
                      b"resets at ", msg)
        self.assertIn(b"T00:00:00Z", msg)
        # Resolution is not counted.
        self.assertTrue(self.resolves("88.100.1/q1"))
        st, q = n.quota("GET", DAILY)
        self.assertEqual((st, q["used"], q["limit"]), (200, 20, 20), q)
        self.assertEqual(q["resets"] % 86400, 0)

    def test_4_restart(self):
        n = self.node
        n.restart()
        self.assertEqual(n.admin_op("88.900/u-daily", 105, "0.NA/88.100.1",
                                    s("0.NA/88.100.1"))[0], 603)
        self.assertEqual(n.create("88.900/u-ids", "88.100.1/q6")[0], 604)
        self.assertEqual(n.create("88.900/u-kids", "0.NA/88.100.1.5")[0], 605)
        st, q = n.quota("GET", DAILY)
        self.assertEqual(q["used"], 20, q)

    def test_5_admin_raises_at_runtime(self):
        n = self.node
        # Not a node admin: refused, nothing changed.
        st, j = n.quota("PUT", DAILY, who="88.900/u-daily", body={"limit": 100})
        self.assertEqual(st, 403, j)
        st, j = n.quota("DELETE", "identifiers/88.100.1", who="88.900/u-ids")
        self.assertEqual(st, 403, j)
        self.assertEqual(n.quota("GET", DAILY)[1]["limit"], 20)
        self.assertEqual(n.lists("88.900/u-daily"), 603)
        # The admin raises each limit; the next request passes.
        st, q = n.quota("PUT", DAILY, body={"limit": 21})
        self.assertEqual((st, q["limit"], q["override"]), (200, 21, True), q)
        self.assertEqual(n.lists("88.900/u-daily"), 1)
        st, q = n.quota("PUT", "identifiers/88.100.1", body={"limit": 4})
        self.assertEqual((st, q["limit"]), (200, 4), q)
        self.assertEqual(n.create("88.900/u-ids", "88.100.1/q6"), (1, b""))
        self.assertEqual(n.create("88.900/u-ids", "88.100.1/q7")[0], 604)
        st, q = n.quota("PUT", "child-prefixes/88.100.1", body={"limit": 3})
        self.assertEqual(st, 200, q)
        self.assertEqual(n.create("88.900/u-kids", "0.NA/88.100.1.3"), (1, b""))
        self.assertEqual(n.create("88.900/u-kids", "0.NA/88.100.1.6")[0], 605)
        self.assertEqual(n.lists("88.900/u-daily"), 603)  # the 22nd
        # Back to the default (20, already used 21 today): refused again.
        st, q = n.quota("DELETE", DAILY)
        self.assertEqual((st, q["limit"], q["override"], q["used"]), (200, 20, False, 21), q)
        self.assertEqual(n.lists("88.900/u-daily"), 603)
        # Over REST the daily quota is 429, Retry-After the seconds to 00:00 UTC.
        hd = dict(basic("88.900/u-daily"), **{"Content-Type": "application/json"})
        body = json.dumps({"values": [{"index": 1, "type": "URL", "data": "https://r"}]})
        st, h, b = n.req("PUT", "/api/handles/88.100.1/r1", body, hd)
        self.assertEqual((st, json.loads(b)["responseCode"]), (429, 603), b)
        left = 86400 - int(time.time()) % 86400
        self.assertLessEqual(abs(int(h["retry-after"]) - left), 5, h)
        # Raised limits hold across a restart too.
        n.restart()
        self.assertEqual(n.quota("GET", "identifiers/88.100.1")[1]["limit"], 4)
        self.assertEqual(n.create("88.900/u-ids", "88.100.1/q8")[0], 604)

    def test_6_bad_requests(self):
        n = self.node
        st, j = n.quota("GET", "weekly/88.100.1")
        self.assertEqual(st, 404, j)
        st, j = n.quota("GET", "daily/not-an-identity")
        self.assertEqual(st, 400, j)
        self.assertIn("INDEX:HANDLE", j["message"])
        st, j = n.quota("PUT", "identifiers/88.100.1", body={"limit": -1})
        self.assertEqual(st, 400, j)
        st, j = n.quota("PUT", "identifiers/88.100.1", body={"max": 3})
        self.assertEqual(st, 400, j)
        st, j = n.quota("PUT", "identifiers/88.100.1", body={"recount": "yes"})
        self.assertEqual(st, 400, j)
        st, j = n.quota("PUT", "daily/300:88.900/u-ids", body={"recount": True})
        self.assertEqual(st, 400, j)
        st, j = n.rest("GET", "/api/quotas/identifiers/88.100.1", "88.900/nobody")
        self.assertEqual(st, 401, j)
        # A recount finds what the counter holds (every write went through it).
        before = n.quota("GET", "identifiers/88.100.1")[1]["used"]
        st, q = n.quota("PUT", "identifiers/88.100.1", body={"recount": True})
        self.assertEqual((st, q["used"]), (200, before), q)

    def test_7_cli(self):
        n = self.node
        http = "127.0.0.1:%d" % n.http_port

        def cli(*args, who=ADMIN, cred=None):
            cred = cred or ["--secret-file", self.secret]
            return n.cli("quota", *args, "--http", http, "--id", "300:" + who, *cred)
        # A secret-key admin (HTTP Basic) sets; a key-pair admin (a signed session) reads.
        r = cli("set", "identifiers", "88.100.1", "9")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["limit"], 9)
        r = cli("get", "identifiers", "0.NA/88.100.1", who="88.900/rsa-admin",
                cred=["--key", self.key])
        self.assertEqual(r.returncode, 0, r.stderr)
        q = json.loads(r.stdout)
        self.assertEqual((q["limit"], q["override"], q["key"]), (9, True, "88.100.1"), q)
        used = q["used"]
        r = cli("recount", "identifiers", "88.100.1", who="88.900/rsa-admin",
                cred=["--key", self.key])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["used"], used)
        r = cli("unset", "identifiers", "88.100.1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["limit"], 3)
        # Refusals: not an admin, a key that is not the identity's, bad arguments.
        r = cli("set", "identifiers", "88.100.1", "100", who="88.900/u-ids")
        self.assertEqual(r.returncode, 1)
        self.assertIn("HTTP 403", r.stderr)
        other = os.path.join(self.tmp, "other.pem")
        keygen(other)
        r = cli("set", "identifiers", "88.100.1", "100", who="88.900/rsa-admin",
                cred=["--key", other])
        self.assertEqual(r.returncode, 1)
        self.assertIn("HTTP 401", r.stderr)
        self.assertEqual(n.quota("GET", "identifiers/88.100.1")[1]["limit"], 3)
        for bad in (["set", "identifiers", "88.100.1", "-1"], ["set", "daily", "x"],
                    ["weekly", "daily", "x"]):
            self.assertEqual(cli(*bad).returncode, 2, bad)
        r = cli("get", "daily", "no-index")
        self.assertEqual(r.returncode, 1)
        self.assertIn("HTTP 400", r.stderr)


class QuotaIdsTest(unittest.TestCase):
    """--national-codes ids: ID-SDK knows no 60x, so the standard codes with the message."""

    @classmethod
    def setUpClass(cls):
        clear_of_midnight()
        cls.node = QuotaNode("ids", "--quota-daily-requests", "3", "--quota-identifiers", "1",
                             "--quota-child-prefixes", "1")

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        cls.node.close()

    def test_standard_codes(self):
        n = self.node
        self.assertEqual(n.create("88.900/u-ids", "88.100.1/a"), (1, b""))
        rc, msg = n.create("88.900/u-ids", "88.100.1/b")
        self.assertEqual(rc, 2, msg)  # ERROR
        self.assertIn(b"quota: identifiers under prefix 88.100.1: limit 1 reached", msg)
        self.assertEqual(n.create("88.900/u-kids", "0.NA/88.100.1.1"), (1, b""))
        rc, msg = n.create("88.900/u-kids", "0.NA/88.100.1.2")
        self.assertEqual(rc, 2, msg)
        self.assertIn(b"child prefixes of 88.100.1: limit 1", msg)
        for _ in range(3):
            self.assertEqual(n.lists("88.900/u-daily"), 1)
        rc, msg = n.admin_op("88.900/u-daily", 105, "0.NA/88.100.1", s("0.NA/88.100.1"))
        self.assertEqual(rc, 3, msg)  # SERVER_BUSY
        self.assertIn(b"quota: daily requests of 300:88.900/u-daily: limit 3", msg)
        # kill -9 once the sweeper's flush (due within QUOTA_FLUSH_S + its 1 s
        # tick) has the count in the store: nothing lost.
        self.assertEqual(wait_stored(n.data, "300:88.900/u-daily", 3), 3)
        n.restart(signal.SIGKILL)
        self.assertEqual(n.lists("88.900/u-daily"), 3)
        # REST: the HTTP status says which quota, whatever the code.
        st, j = n.rest("PUT", "/api/handles/88.100.1/c", "88.900/u-rest",
                       {"values": [{"index": 1, "type": "URL", "data": "https://r"}]})
        self.assertEqual((st, j["responseCode"]), (409, 2), j)


class QuotaPgTest(unittest.TestCase):
    """The counts and overrides on a PostgreSQL store, across a restart (IDN_TEST_PG)."""

    def setUp(self):
        self.store = pg_database("quota", self.addCleanup)
        self.node = None

    def tearDown(self):
        if self.node:
            self.node.close()

    def test_pg_restart_and_raise(self):
        n = self.node = QuotaNode("ips", "--quota-daily-requests", "2", "--quota-identifiers",
                                  "1", store=self.store)
        # 0: no daily limit for this identity, whatever the default.
        st, q = n.quota("PUT", "daily/300:88.900/u-ids", body={"limit": 0})
        self.assertEqual((st, q["limit"], q["override"]), (200, 0, True), q)
        self.assertEqual(n.lists("88.900/u-daily"), 1)
        self.assertEqual(n.lists("88.900/u-daily"), 1)
        self.assertEqual(n.lists("88.900/u-daily"), 603)
        self.assertEqual(n.create("88.900/u-ids", "88.100.1/p1"), (1, b""))
        self.assertEqual(n.create("88.900/u-ids", "88.100.1/p2")[0], 604)
        n.restart()
        self.assertEqual(n.lists("88.900/u-daily"), 603)
        self.assertEqual(n.create("88.900/u-ids", "88.100.1/p2")[0], 604)
        st, q = n.quota("PUT", "identifiers/88.100.1", body={"limit": 2})
        self.assertEqual(st, 200, q)
        self.assertEqual(n.create("88.900/u-ids", "88.100.1/p2"), (1, b""))
        n.stop()


if __name__ == "__main__":
    unittest.main()
