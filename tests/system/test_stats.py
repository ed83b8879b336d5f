"""System test of the statistics (docs/statistics.md) against a real
`idnode serve`: identifiers registered, deleted and modified over Handle
(op 200 with a secret key), resolutions over UDP, TCP and HTTP, and an
authentication that fails, read back from GET /api/stats as JSON and as CSV
and from `idnode stats` while the node runs, for the prefix and for its
industry; the counts of the last seconds before a graceful stop are written
at stop and read after a restart; a non-admin is refused (403), no
credentials 401, and malformed or huge periods get a clear 400."""
import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import test_quota  # noqa: E402
from idnlib import DEADLINE  # noqa: E402
from idnlib import IDNODE, request, tcp_exchange, udp_exchange, parse_answer  # noqa: E402
from test_admin import values_body  # noqa: E402
from test_quota import ADMIN, USERS, QuotaNode, basic  # noqa: E402

P = "88.100.1"


def started(n, times=1, timeout=10.0):
    """Waits (bounded) for the times-th banner: from then on SIGTERM stops the node
    gracefully."""
    deadline = time.time() + timeout
    while time.time() < deadline and n.output().count("idnode: serving") < times:
        time.sleep(0.05)


def rcode(answer):
    return parse_answer(answer[0] if isinstance(answer, tuple) else answer)[2]


class StatsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = QuotaNode("ips", "--stats-flush-s", "1")

    @classmethod
    def tearDownClass(cls):
        cls.node.close()

    def stats(self, query, who=ADMIN):
        st, h, body = self.node.req("GET", "/api/stats?" + query,
                                    headers=basic(who) if who else {})
        return st, h, body

    def row(self, query, timeout=15.0, want=None):
        """The one JSON row of query once want(row) holds (bounded wait)."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            st, _, body = self.stats(query)
            self.assertEqual(st, 200, body)
            rows = json.loads(body)["rows"]
            self.assertLessEqual(len(rows), 1, rows)
            last = rows[0] if rows else None
            if last and (want is None or want(last)):
                return last
            time.sleep(0.2)
        self.fail("no row as wanted for %s: last %r\n%s" % (query, last, self.node.output()))

    def test_counts_read_back(self):
        n = self.node
        who = USERS[0]
        for h in ("a", "b", "c"):
            self.assertEqual(n.create(who, "%s/%s" % (P, h))[0], 1)
        self.assertEqual(n.delete(who, P + "/c")[0], 1)
        self.assertEqual(n.admin_op(ADMIN, 104, P + "/a",
                                    values_body(P + "/a", [(1, "URL", "https://m")]))[0], 1)
        # a signature that does not verify: an authentication failure for the prefix
        saved = test_quota.SECRET
        test_quota.SECRET = b"not-the-secret"
        try:
            self.assertEqual(n.create(who, P + "/d")[0], 403)
        finally:
            test_quota.SECRET = saved
        for _ in range(5):
            self.assertEqual(rcode(udp_exchange(n.port, request(P + "/a"))), 1)
        for _ in range(2):
            self.assertEqual(rcode(udp_exchange(n.port, request(P + "/none"))), 100)
        self.assertEqual(rcode(tcp_exchange(n.port, request(P + "/b", flags=0x19000000))), 1)
        for _ in range(3):
            st, _, _ = n.req("GET", "/api/handles/%s/a" % P)
            self.assertEqual(st, 200)

        r = self.row("prefix=" + P, want=lambda r: r["resolved_http_found"] >= 3
                     and r["auth_failed"] >= 1)
        self.assertEqual(r["prefix"], P)
        self.assertEqual(r["industry"], "88.100")
        self.assertEqual(r["registered"], 3)
        self.assertEqual(r["deleted"], 1)
        self.assertEqual(r["modified"], 1)
        self.assertEqual(r["held"], 2)
        self.assertEqual(r["resolved_udp_found"], 5)
        self.assertGreaterEqual(r["resolved_udp_not_found"], 2)  # and the readiness probes
        self.assertEqual(r["resolved_tcp_found"], 1)
        self.assertEqual(r["resolved_http_found"], 3)
        self.assertEqual(r["auth_ok"], 5)
        self.assertEqual(r["auth_failed"], 1)

        # the industry sums its prefixes; hourly rows exist too
        ind = self.row("industry=88.100")
        self.assertEqual(ind["industry"], "88.100")
        self.assertEqual(ind["registered"], 3)
        self.assertEqual(ind["held"], 2)
        hour = self.row("prefix=%s&granularity=hour&from=%s" % (
            P, time.strftime("%Y-%m-%dT%H", time.gmtime())))
        self.assertEqual(hour["registered"], 3)

        # CSV: a header row, then the same numbers
        st, h, body = self.stats("prefix=%s&format=csv" % P)
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/csv"))
        rows = list(csv.DictReader(io.StringIO(body.decode())))
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["name"], P)
        self.assertEqual(rows[0]["kind"], "prefix")
        for k in ("held", "registered", "deleted", "resolved_udp_found", "auth_failed"):
            self.assertEqual(int(rows[0][k]), r[k], k)

        # the command line, from the store, while the node runs
        out = subprocess.run([IDNODE, "stats", "--data", n.data, "--prefix", P, "--format",
                              "json"], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        cli = json.loads(out.stdout)
        self.assertEqual(len(cli), 1)
        for k in ("held", "registered", "deleted", "resolved_tcp_found", "auth_ok"):
            self.assertEqual(cli[0][k], r[k], k)
        out = subprocess.run([IDNODE, "stats", "--data", n.data, "--industry", "88.100"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(out.stdout.startswith("period,granularity,kind,name,"), out.stdout)
        self.assertIn(',industry,"88.100","88.100",2,3,', out.stdout)

    def test_written_at_stop(self):
        """What came in the seconds before a graceful stop is there after a restart."""
        n = QuotaNode("ips", "--stats-flush-s", "3600")
        try:
            started(n)
            for _ in range(4):
                self.assertEqual(rcode(udp_exchange(n.port, request("88.900/admin"))), 1)
            self.assertEqual(n.stop(signal.SIGTERM), 0, n.output())
            out = subprocess.run([IDNODE, "stats", "--data", n.data, "--prefix", "88.900",
                                  "--format", "json"], capture_output=True, text=True,
                                 timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            rows = json.loads(out.stdout)
            self.assertEqual(rows[0]["resolved_udp_found"], 4, rows)
            self.assertEqual(rows[0]["held"], 5)  # the admin and the four users
            n.proc = subprocess.Popen(n.args, stdout=n.log, stderr=subprocess.STDOUT)
            n.wait_ready()
            started(n, 2)
            self.assertEqual(rcode(udp_exchange(n.port, request("88.900/admin"))), 1)
            self.assertEqual(n.stop(signal.SIGTERM), 0, n.output())
            out = subprocess.run([IDNODE, "stats", "--data", n.data, "--prefix", "88.900",
                                  "--format", "json"], capture_output=True, text=True,
                                 timeout=30)
            self.assertEqual(json.loads(out.stdout)[0]["resolved_udp_found"], 5)
        finally:
            n.close()

    def test_prefix_not_utf8(self):
        # a stranger's request under a prefix that is not UTF-8: counted under
        # "other", and every statistics answer stays JSON (its bytes broke them)
        n = self.node
        udp_exchange(n.port, request(b"\xff\xfe\x22/x"))
        deadline = time.time() + DEADLINE
        while time.time() < deadline:
            st, _, body = self.stats("")
            self.assertEqual(st, 200, body)
            rows = json.loads(body.decode("utf-8"))["rows"]
            if any(r.get("prefix") == "other" for r in rows):
                break
            time.sleep(0.2)
        self.assertTrue(any(r.get("prefix") == "other" for r in rows), rows)

    def test_who_may_read(self):
        st, _, body = self.stats("prefix=" + P, who=None)
        self.assertEqual(st, 401, body)
        st, _, body = self.stats("prefix=" + P, who=USERS[1])
        self.assertEqual(st, 403, body)
        self.assertIn("node admin", json.loads(body)["message"])

    def test_bad_periods(self):
        cases = {
            "from=2026-13-01": "from: expected YYYY-MM-DD",
            "to=tomorrow": "to: expected",
            "from=2026-12-08&to=2026-12-01": "from is after to",
            "from=2020-01-01&to=2026-01-01": "at most 1000",
            "granularity=hour&from=2026-01-01T00&to=2026-12-01T00": "at most 1000",
            "granularity=week": "granularity: expected hour or day",
            "format=xml": "format: expected json or csv",
            "prefix=88.1&industry=88": "not both",
            "colour=blue": "unknown parameter",
            "prefix=%2Fetc": "prefix/industry",
        }
        for q, msg in cases.items():
            st, h, body = self.stats(q)
            self.assertEqual(st, 400, (q, body))
            doc = json.loads(body)
            self.assertIn(msg, doc["message"], q)
            self.assertIn("responseCode", doc)
        out = subprocess.run([IDNODE, "stats", "--data", self.node.data, "--from", "2026-02-30"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 2)
        self.assertIn("from: expected YYYY-MM-DD", out.stderr)


if __name__ == "__main__":
    unittest.main()
