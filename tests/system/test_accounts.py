"""Management accounts of a secondary node (docs/secondary-node.md),
against the real binary: accounts made with `idnode account add`, token
login over HTTP in both variants of ../shared/IDIS.md §4 (v1's digest
computed here with hashlib from the spec's formula), a wrong password
slowed down (measured), token expiry, disable and passwd revoking tokens,
the admission workflow (apply over HTTP -> an operator approves -> the
enterprise logs in and its identity writes under its prefix with the Handle
protocol, through `idnode create`; another enterprise's identity refused
there; an operator without the right refused), and the audit log read back
over HTTP and with `idnode audit`. The workflow runs again on PostgreSQL
when IDN_TEST_PG names a server."""
import datetime
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode  # noqa: E402
from idnlib import IDNODE, admin_data, hexval, pg_database  # noqa: E402

OP_ID = "300:0.NA/88.100"
KDF = ["--kdf-mib", "1", "--kdf-passes", "1"]  # fast for tests; the default is 64 MiB, 3 passes


def records():
    """0.NA/88.100: the operator's identity 300:0.NA/88.100 holds every right on it,
    so it may add derived prefixes (88.100.7) as the Handle protocol checks."""
    return [{"handle": "0.NA/88.100", "values": [
        hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, "0.NA/88.100"))]}]


def sha256hex(s):
    return hashlib.sha256(s.encode()).hexdigest()


def v1_password(pwd, day=None):
    day = day or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    return sha256hex(sha256hex(pwd) + day)


class AcctNode(HttpNode):
    def __init__(self, *extra, store=None):
        super().__init__(records=records(), homes=("88.100", "0.NA"), store=store,
                         http_args=tuple(extra))

    def loc(self):
        return self.where  # ["--data", dir] or ["--store", uri]

    def account(self, *args, password=None):
        inp = None if password is None else password + "\n"
        return subprocess.run([IDNODE, "account"] + list(args) + self.loc(),
                              input=inp, capture_output=True, text=True, timeout=60)

    def add(self, name, role, ident, password, *more):
        r = self.account("add", name, "--role", role, "--id", ident, "--password-stdin",
                         *KDF, *more, password=password)
        assert r.returncode == 0, r.stderr
        return r

    def call(self, method, path, body=None, token=None, raw=None):
        h = {}
        if token:
            h["Authorization"] = "Bearer " + token
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is not None:
            h["Content-Type"] = "application/json"
        st, hdrs, b = self.req(method, path, body=data, headers=h)
        return st, hdrs, json.loads(b) if b else None

    def login(self, user, password, v1=False):
        path = "/identity/token/v1" if v1 else "/identity/token"
        return self.call("POST", path, {"username": user, "password": password})

    def token(self, user, password):
        st, _, j = self.login(user, password)
        assert st == 200 and j["status"] == 1, (st, j)
        return j["data"]["token"]


class AccountsTest(unittest.TestCase):
    store = None

    def setUp(self):
        self.n = AcctNode("--login-free-failures", "2", "--login-backoff-max", "2",
                          "--token-life", "3", store=self.store)
        self.n.add("op1", "operator", OP_ID, "op1-pass")

    def tearDown(self):
        self.n.close()

    def test_cli_messages(self):
        n = self.n
        r = n.account("add", "op1", "--role", "operator", "--id", OP_ID, "--password-stdin",
                      *KDF, password="x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("account op1 exists already", r.stderr)
        r = n.account("add", "op2", "--role", "operator", "--id", "0.NA/88.100",
                      "--password-stdin", password="x")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--id: expected INDEX:HANDLE", r.stderr)
        r = n.account("add", "op2", "--role", "operator", "--id", OP_ID, "--password-stdin",
                      password="")
        self.assertEqual(r.returncode, 2)
        self.assertIn("the password must be 1 to 256 bytes", r.stderr)
        # Without a terminal and without --password-stdin: told how, never a hang.
        r = subprocess.run([IDNODE, "account", "add", "op2", "--role", "operator", "--id", OP_ID]
                           + n.loc(), capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL, start_new_session=True)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--password-stdin", r.stderr)
        # A password file; the list shows both, never a hash.
        with tempfile.NamedTemporaryFile("w", suffix=".pw") as f:
            f.write("file-pass\n")
            f.flush()
            r = n.account("add", "op2", "--role", "operator", "--id", OP_ID, "--password-file",
                          f.name, *KDF)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(n.login("op2", "file-pass")[2]["status"], 1)
        r = n.account("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("op1\toperator\t300:0.NA/88.100", r.stdout)
        self.assertIn("op2\toperator", r.stdout)
        self.assertNotIn("argon2", r.stdout)

    def test_password_prompt_without_echo(self):
        """On a terminal the password is asked twice and never echoed."""
        import pty
        import select
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(IDNODE, [IDNODE, "account", "add", "tty1", "--role", "operator", "--id",
                              OP_ID, *KDF] + self.n.loc())
        seen = b""
        deadline = time.monotonic() + 20
        sent = 0
        try:
            while time.monotonic() < deadline:
                r, _, _ = select.select([fd], [], [], 0.5)
                if r:
                    try:
                        d = os.read(fd, 4096)
                    except OSError:
                        break
                    if not d:
                        break
                    seen += d
                if sent < 2 and seen.count(b":") > sent:  # "password:" then "again:"
                    os.write(fd, b"tty-secret\n")
                    sent += 1
        finally:
            done, status = os.waitpid(pid, os.WNOHANG)
            for _ in range(50):  # up to 5 s for it to exit after closing the terminal
                if done:
                    break
                time.sleep(0.1)
                done, status = os.waitpid(pid, os.WNOHANG)
            if not done:  # still running: a hang, which fails below
                os.kill(pid, signal.SIGKILL)
                _, status = os.waitpid(pid, 0)
            os.close(fd)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, seen)
        self.assertIn(b"password:", seen)
        self.assertIn(b"again:", seen)
        self.assertNotIn(b"tty-secret", seen)
        self.assertEqual(self.n.login("tty1", "tty-secret")[2]["status"], 1)

    def test_login_both_variants(self):
        n = self.n
        st, _, j = n.login("op1", "op1-pass")
        self.assertEqual((st, j["status"], j["message"]), (200, 1, "success"), j)
        self.assertGreater(len(j["data"]["token"]), 64)
        st, _, j = n.login("op1", v1_password("op1-pass"), v1=True)
        self.assertEqual((st, j["status"]), (200, 1), j)
        # v1 with the password itself, or another day's digest: refused.
        self.assertEqual(n.login("op1", "op1-pass", v1=True)[2]["status"], -1)
        self.assertEqual(n.login("op1", v1_password("op1-pass", "2001-01-01"), v1=True)[2]
                         ["status"], -1)
        st, _, j = n.login("op1", "wrong")
        self.assertEqual((st, j["status"]), (200, -1), j)
        self.assertIn("wrong username or password", j["message"])
        # Malformed bodies: 400, status -2, the field named.
        st, _, j = n.call("POST", "/identity/token", {"username": "op1"})
        self.assertEqual((st, j["status"], j["message"]), (400, -2, "password: missing"))
        st, _, j = n.call("POST", "/identity/token", {"username": 7, "password": "x"})
        self.assertEqual((st, j["message"]), (400, "username: expected a string"))
        st, _, j = n.call("POST", "/identity/token", raw="{not json")
        self.assertEqual((st, j["status"]), (400, -2))
        self.assertIn("invalid JSON", j["message"])
        st, _, j = n.call("POST", "/identity/token", raw="[1]")
        self.assertEqual((st, j["message"]), (400, "expected a JSON object"))

    def test_wrong_password_slowed(self):
        """Two free failures, then a back-off of 1 s doubling to 2 s; the right
        password is refused too while it runs; after it, the login passes."""
        n = self.n
        for _ in range(2):
            self.assertEqual(n.login("op1", "bad")[2]["status"], -1)
        self.assertEqual(n.login("op1", "bad")[2]["status"], -1)  # starts the back-off
        t0 = time.monotonic()
        st, h, j = n.login("op1", "op1-pass")
        self.assertEqual((st, j["status"]), (429, -1), j)
        self.assertIn("retry in", j["message"])
        wait = int(h["retry-after"])
        self.assertTrue(1 <= wait <= 2, wait)
        # Bounded wait: until the back-off is over (at most 3 s), then in.
        deadline = t0 + 3.5
        while time.monotonic() < deadline:
            st, _, j = n.login("op1", "op1-pass")
            if st == 200:
                break
            time.sleep(0.2)
        waited = time.monotonic() - t0
        self.assertEqual((st, j["status"]), (200, 1), j)
        self.assertGreater(waited, 0.5)
        # Another account from the same address is not held by op1's failures.
        n.add("op2", "operator", OP_ID, "p2")
        self.assertEqual(n.login("op2", "p2")[2]["status"], 1)
        print("back-off after 3 failures: Retry-After %d s, in after %.2f s" % (wait, waited))

    def test_token_expiry_and_revocation(self):
        n = self.n
        tok = n.token("op1", "op1-pass")
        st, _, j = n.call("GET", "/snms/api/idn/audit?limit=1", token=tok)
        self.assertEqual((st, j["status"]), (200, 1), j)
        # --token-life 3: void after 3 s (bounded wait).
        time.sleep(3.2)
        st, _, j = n.call("GET", "/snms/api/idn/audit?limit=1", token=tok)
        self.assertEqual((st, j["status"]), (401, -1), j)
        self.assertIn("invalid, expired or revoked", j["message"])
        # Forged and missing tokens.
        tok = n.token("op1", "op1-pass")
        forged = tok[:-1] + ("0" if tok[-1] != "0" else "1")
        self.assertEqual(n.call("GET", "/snms/api/idn/audit", token=forged)[0], 401)
        st, _, j = n.call("GET", "/snms/api/idn/audit")
        self.assertEqual((st, j["status"]), (401, -1))
        self.assertIn("Authorization: Bearer", j["message"])
        # disable revokes (and refuses logins); enable lets a new login in.
        self.assertEqual(n.account("disable", "op1").returncode, 0)
        self.assertEqual(n.call("GET", "/snms/api/idn/audit", token=tok)[0], 401)
        self.assertEqual(n.login("op1", "op1-pass")[2]["status"], -1)
        self.assertEqual(n.account("enable", "op1").returncode, 0)
        self.assertEqual(n.call("GET", "/snms/api/idn/audit", token=tok)[0], 401)
        tok = n.token("op1", "op1-pass")
        # passwd revokes; the new password logs in, the old does not.
        r = n.account("passwd", "op1", "--password-stdin", *KDF, password="new-pass")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(n.call("GET", "/snms/api/idn/audit", token=tok)[0], 401)
        self.assertEqual(n.login("op1", "op1-pass")[2]["status"], -1)
        self.assertEqual(n.login("op1", "new-pass")[2]["status"], 1)


def admission(tc, n, key_dir):
    """apply -> approve -> the enterprise logs in and writes with the Handle
    protocol; another enterprise and an operator without the right refused;
    the audit log read back. Returns the operator's token."""
    key, other = os.path.join(key_dir, "ent.pem"), os.path.join(key_dir, "other.pem")
    for k in (key, other):
        r = subprocess.run([IDNODE, "keygen", "--type", "rsa", "--out", k, "--pubkey-format",
                            "pem"], capture_output=True, text=True, timeout=60)
        tc.assertEqual(r.returncode, 0, r.stderr)
    pem = lambda k: subprocess.run(["openssl", "pkey", "-in", k, "-pubout"],  # noqa: E731
                                   capture_output=True, text=True, timeout=30).stdout
    st, _, j = n.call("POST", "/snms/api/idn/apply", {
        "company": "Motor Works", "contact": "ops@motor.example", "prefix": "88.100.7",
        "username": "motor", "password": "motor-pass", "pubkey": pem(key)})
    tc.assertEqual((st, j["status"], j["data"]["state"]), (200, 1, "pending"), j)
    app_id = j["data"]["id"]
    st, _, j = n.call("POST", "/snms/api/idn/apply", {
        "company": "Other", "parent": "88.100", "username": "other", "password": "o-pass",
        "pubkey": pem(other)})
    tc.assertEqual((st, j["status"]), (200, 1), j)
    other_id = j["data"]["id"]
    # Bad applications: the field named.
    st, _, j = n.call("POST", "/snms/api/idn/apply", {"company": "X", "username": "x",
                                                      "password": "p", "prefix": "88.100.9",
                                                      "parent": "88.100"})
    tc.assertEqual((st, j["status"]), (400, -2))
    tc.assertIn("prefix or parent", j["message"])
    st, _, j = n.call("POST", "/snms/api/idn/apply", {"company": "X", "username": "motor",
                                                      "password": "p", "prefix": "88.100.9"})
    tc.assertEqual((st, j["status"]), (409, -2), j)
    st, _, j = n.call("POST", "/snms/api/idn/apply", {"company": "X", "username": "y",
                                                      "password": "p", "prefix": "88.100.9",
                                                      "pubkey": "not a key"})
    tc.assertEqual(st, 400)
    tc.assertIn("pubkey:", j["message"])
    st, _, j = n.call("POST", "/snms/api/idn/apply", {"company": "X", "username": "y",
                                                      "password": "p", "prefix": "88.100.9",
                                                      "color": "red"})
    tc.assertEqual((st, j["message"]), (400, "color: unknown field"))

    op = n.token("op1", "op1-pass")
    # Not logged in yet: the enterprise account does not exist.
    tc.assertEqual(n.login("motor", "motor-pass")[2]["status"], -1)
    st, _, j = n.call("GET", "/snms/api/idn/applications", token=op)
    tc.assertEqual((st, j["status"]), (200, 1), j)
    tc.assertEqual([a["username"] for a in j["data"]["items"]], ["motor", "other"])
    # An operator whose identity lacks "add derived prefix" on 0.NA/88.100: -3.
    n.add("weak", "operator", "300:0.NA/88.999", "weak-pass")
    weak = n.token("weak", "weak-pass")
    st, _, j = n.call("POST", "/snms/api/idn/applications/%d/approve" % app_id, token=weak)
    tc.assertEqual((st, j["status"]), (403, -3), j)
    tc.assertIn("add derived prefix", j["message"])
    st, _, j = n.call("POST", "/snms/api/idn/applications/%d/approve" % app_id, token=op)
    tc.assertEqual((st, j["status"], j["data"]["prefix"]), (200, 1, "88.100.7"), j)
    st, _, j = n.call("POST", "/snms/api/idn/applications/%d/approve" % app_id, token=op)
    tc.assertEqual((st, j["status"]), (409, -2), j)
    st, _, j = n.call("POST", "/snms/api/idn/applications/%d/approve" % other_id, token=op)
    tc.assertEqual((st, j["data"]["prefix"]), (200, "88.100.1"), j)
    st, _, j = n.call("POST", "/snms/api/idn/applications/999/reject", token=op)
    tc.assertEqual((st, j["status"]), (404, -2), j)
    for bad in ("-1/reject", "1/approveX", "/approve", "99999999999999999999/approve"):
        st, _, j = n.call("POST", "/snms/api/idn/applications/" + bad, token=op)
        tc.assertEqual((st, j["status"]), (404, -2), (bad, j))
        tc.assertIn("{id} an application's number", j["message"])

    # The enterprise logs in (both variants); operators' routes are not its.
    ent = n.token("motor", "motor-pass")
    tc.assertEqual(n.login("motor", v1_password("motor-pass"), v1=True)[2]["status"], 1)
    st, _, j = n.call("GET", "/snms/api/idn/applications", token=ent)
    tc.assertEqual((st, j["status"]), (403, -3), j)
    # Its identity writes under its prefix with the Handle protocol...
    srv = "127.0.0.1:%d" % n.port
    r = n.cli("create", "88.100.7/MOTOR-1", "--value", "1:URL:https://motor.example/1",
              "--server", srv, "--id", "300:0.NA/88.100.7", "--key", key)
    tc.assertEqual(r.returncode, 0, r.stdout + r.stderr)
    r = n.resolve("88.100.7/MOTOR-1")
    tc.assertIn("https://motor.example/1", r.stdout)
    # ...and the other enterprise's identity is refused there.
    r = n.cli("create", "88.100.7/INTRUDER", "--value", "1:URL:https://x", "--server", srv,
              "--id", "300:0.NA/88.100.1", "--key", other)
    tc.assertNotEqual(r.returncode, 0)
    tc.assertNotIn("https://x", n.resolve("88.100.7/INTRUDER").stdout)

    # The audit log: who, what, from where; paged.
    st, _, j = n.call("GET", "/snms/api/idn/audit?limit=100", token=op)
    tc.assertEqual((st, j["status"]), (200, 1), j)
    items = j["data"]["items"]
    ops = [(e["who"], e["op"], e["result"]) for e in items]
    tc.assertIn(("motor", "application.apply", 1), ops)
    tc.assertIn(("op1", "application.approve", 1), ops)
    tc.assertIn(("weak", "application.approve", -3), ops)
    approve = [e for e in items if e["op"] == "application.approve" and e["who"] == "op1"][0]
    tc.assertEqual((approve["identity"], approve["from"], approve["message"]),
                   ("300:0.NA/88.100", "127.0.0.1", "88.100.7"))
    tc.assertTrue(any(e["op"] == "account.add" and e["who"].startswith("cli:") for e in items))
    st, _, p1 = n.call("GET", "/snms/api/idn/audit?limit=2", token=op)
    cur = p1["data"]["cursor"]
    tc.assertEqual(len(p1["data"]["items"]), 2)
    st, _, p2 = n.call("GET", "/snms/api/idn/audit?limit=2&cursor=" + cur, token=op)
    tc.assertEqual(p2["data"]["items"], items[2:4])
    st, _, j = n.call("GET", "/snms/api/idn/audit?account=weak", token=op)
    tc.assertEqual({e["who"] for e in j["data"]["items"]}, {"weak"})
    st, _, j = n.call("GET", "/snms/api/idn/audit?cursor=zz", token=op)
    tc.assertEqual((st, j["status"]), (400, -2))
    r = subprocess.run([IDNODE, "audit", "--account", "op1"] + n.loc(), capture_output=True,
                       text=True, timeout=30)
    tc.assertEqual(r.returncode, 0, r.stderr)
    tc.assertIn("application.approve\tapplication %d\t1\t127.0.0.1\t88.100.7" % app_id, r.stdout)
    return op


class AdmissionTest(unittest.TestCase):
    def test_admission_lmdb(self):
        n = AcctNode()
        try:
            n.add("op1", "operator", OP_ID, "op1-pass")
            with tempfile.TemporaryDirectory() as d:
                admission(self, n, d)
            self.assertEqual(n.stop(), 0, n.output())  # under ASan: no leak, no error
        finally:
            n.close()


class ApplicationsBoundTest(unittest.TestCase):
    def test_pending_bounded(self):
        """--applications-max 3: a fourth pending application is refused (429) before
        anything is hashed or kept; once one is decided there is room again. One
        address holds at most 10, which the bound of 3 hides here."""
        n = AcctNode("--applications-max", "3")
        try:
            n.add("op1", "operator", OP_ID, "op1-pass")
            for i in range(3):
                st, _, j = n.call("POST", "/snms/api/idn/apply", {
                    "company": "C%d" % i, "username": "u%d" % i, "password": "p",
                    "parent": "88.100"})
                self.assertEqual((st, j["status"]), (200, 1), j)
            st, _, j = n.call("POST", "/snms/api/idn/apply", {
                "company": "C3", "username": "u3", "password": "p", "parent": "88.100"})
            self.assertEqual((st, j["status"]), (429, -2), j)
            self.assertIn("--applications-max", j["message"])
            op = n.token("op1", "op1-pass")
            st, _, j = n.call("POST", "/snms/api/idn/applications/1/reject", {"reason": "no"},
                              token=op)
            self.assertEqual((st, j["data"]["state"]), (200, "rejected"), j)
            st, _, j = n.call("POST", "/snms/api/idn/apply", {
                "company": "C3", "username": "u3", "password": "p", "parent": "88.100"})
            self.assertEqual((st, j["status"]), (200, 1), j)
            st, _, j = n.call("GET", "/snms/api/idn/applications?state=rejected", token=op)
            self.assertEqual([(a["id"], a["reason"]) for a in j["data"]["items"]], [(1, "no")])
            self.assertEqual(n.stop(), 0, n.output())  # under ASan: no leak, no error
            self.assertIn("applications=1", n.output())
        finally:
            n.close()


class ApprovalQuotaTest(unittest.TestCase):
    def test_child_prefix_quota(self):
        """--quota-child-prefixes 1: an approval counts as the Handle create of
        0.NA/<prefix> would; the second is refused (409, -2) and writes nothing."""
        n = AcctNode("--quota-child-prefixes", "1")
        try:
            n.add("op1", "operator", OP_ID, "op1-pass")
            for u in ("a1", "a2"):
                st, _, j = n.call("POST", "/snms/api/idn/apply", {
                    "company": u, "username": u, "password": "p", "parent": "88.100"})
                self.assertEqual(st, 200, j)
            op = n.token("op1", "op1-pass")
            st, _, j = n.call("POST", "/snms/api/idn/applications/1/approve", token=op)
            self.assertEqual((st, j["data"]["prefix"]), (200, "88.100.1"), j)
            st, _, j = n.call("POST", "/snms/api/idn/applications/2/approve", token=op)
            self.assertEqual((st, j["status"]), (409, -2), j)
            self.assertIn("quota", j["message"])
            self.assertEqual(n.login("a2", "p")[2]["status"], -1)  # no account made
            self.assertIn("HS_ADMIN", n.resolve("0.NA/88.100.1").stdout)
            r = n.resolve("0.NA/88.100.2")
            self.assertNotIn("HS_ADMIN", r.stdout)
            self.assertNotEqual(r.returncode, 0)
        finally:
            n.close()


class AccountsPgTest(AccountsTest):
    """AccountsTest on a PostgreSQL store (IDN_TEST_PG), a database per test."""

    def setUp(self):
        self.store = pg_database("accts", self.addCleanup)
        super().setUp()


class AdmissionPgTest(unittest.TestCase):
    """The same workflow on a PostgreSQL store (IDN_TEST_PG)."""

    def setUp(self):
        self.store = pg_database("accounts", self.addCleanup)

    def test_admission_pg(self):
        n = AcctNode(store=self.store)
        try:
            n.add("op1", "operator", OP_ID, "op1-pass")
            with tempfile.TemporaryDirectory() as d:
                admission(self, n, d)
            self.assertEqual(n.stop(), 0, n.output())  # under ASan: no leak, no error
        finally:
            n.close()


class AccountCliOptionsTest(unittest.TestCase):
    """Bad options of `idnode account` and `idnode audit` (one table of rows
    in cmd_account.c): exit 2 with a message naming the option and the
    value; the store is never opened."""

    def test_bad_options(self):
        cases = [
            (["account", "list", "--data", "/nonexistent", "--limit", "0"],
             "idnode account: --limit '0': a number from 1 to 1000"),
            (["audit", "--data", "/nonexistent", "--limit", "x"],
             "idnode audit: --limit 'x': a number from 1 to 1000"),
            (["audit", "--data", "/nonexistent", "--from", "yesterday"],
             "idnode audit: --from: expected unix milliseconds or YYYY-MM-DD"),
            (["account", "add", "n", "--data", "/nonexistent", "--kdf-mib", "9999"],
             "idnode account: --kdf-mib '9999': a number from 1 to 4096"),
            (["account", "add", "n", "--data", "/nonexistent", "--kdf-passes", "0"],
             "idnode account: --kdf-passes '0': a number from 1 to 100"),
            (["account", "approve", "x", "--data", "/nonexistent"],
             "idnode account: ID 'x': a number from 1 to 2147483647"),
            (["account", "add", "n", "--data", "/nonexistent"] + ["--prefix", "88.1"] * 99,
             "at most"),
            (["account", "list", "--data", "/nonexistent", "--bogus"], "usage: idnode account"),
            (["account", "list"], "--data LOC (the node's store) is required"),
        ]
        for args, want in cases:
            r = subprocess.run([IDNODE] + args, capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2, (args[:4], r.stderr))
            self.assertIn(want, r.stderr, args[:4])


if __name__ == "__main__":
    unittest.main()
