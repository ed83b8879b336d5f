"""System test of the statistics reports to the parent (docs/statistics.md,
"Reports to the parent") on a small hierarchy of real nodes on loopback: a
top-level node (88), a secondary (88.100) reporting to it and an
enterprise (88.100.1) reporting to the secondary, each child's key in its
0.NA record at its parent, reports every second. Registrations and
resolutions at the enterprise appear in the secondary's reported
statistics and then in the top level's; a node reporting for 88.100.1 with
another key is refused (403, logged, nothing counted); with the secondary
down the enterprise retries, and once it is back the missed counts arrive,
exactly once; without --stats-parent the parent is looked up through
--root (a record with no HTTP interface is said; tests/system/
test_demo_stats.py has the lookup succeeding). Every wait is bounded."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import shutil

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode  # noqa: E402
from idnlib import DEADLINE  # noqa: E402
from idnlib import (IDNODE, Node, class_nodes, hexval, parse_answer, request,  # noqa: E402
                    udp_exchange)
from test_quota import ADMIN, QuotaNode, keygen  # noqa: E402

ENT = "88.100.1"
REPORT = ["--stats-flush-s", "1", "--stats-report-s", "1", "--stats-report-days", "2"]


def reported(node, query):
    """The rows of GET /api/stats?source=reported&<query> (the node runs --stats-public)."""
    st, _, body = node.req("GET", "/api/stats?source=reported&" + query)
    if st != 200:
        raise AssertionError("%d %s" % (st, body))
    return json.loads(body)["rows"]


def wait_row(node, query, want, timeout=30.0):
    """The last row of query once want(row) holds (bounded wait), else fails."""
    deadline, row = time.time() + timeout, None
    while time.time() < deadline:
        rows = reported(node, query)
        row = rows[-1] if rows else None
        if row and want(row):
            return row
        time.sleep(0.2)
    raise AssertionError("no row of %s as wanted; last %r\n%s" % (query, row, node.output()))


def resolve_udp(port, handle, times):
    for _ in range(times):
        ans, _, _ = udp_exchange(port, request(handle))
        assert parse_answer(ans)[2] == 1


class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="idn-rep-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        class_nodes(cls)
        keys = {}
        for k in ("sec", "ent", "other"):
            keys[k] = os.path.join(cls.tmp, k + ".pem"), None
            keys[k] = keys[k][0], keygen(keys[k][0])
        cls.root = HttpNode(records=[
            {"handle": "0.NA/88.100", "values": [hexval(300, "HS_PUBKEY", keys["sec"][1])]},
        ], homes=("88", "0.NA"), http_args=["--stats-public"])
        cls.nodes.append(cls.root)
        cls.sec = HttpNode(records=[
            {"handle": "0.NA/88.100.1", "values": [hexval(300, "HS_PUBKEY", keys["ent"][1])]},
        ], homes=("88.100", "0.NA"), http_args=[
            "--stats-public", "--server-key", keys["sec"][0],
            "--stats-parent", "127.0.0.1:%d" % cls.root.http_port,
            "--stats-report", "88.100"] + REPORT)
        cls.nodes.append(cls.sec)
        cls.ent = QuotaNode("ips", "--server-key", keys["ent"][0],
                            "--stats-parent", "127.0.0.1:%d" % cls.sec.http_port,
                            "--stats-report", ENT, *REPORT)
        cls.nodes.append(cls.ent)
        # Claims 88.100.1 with a key that is not in 0.NA/88.100.1 at the secondary.
        cls.impostor = Node(homes=(ENT,), extra_args=[
            "--server-key", keys["other"][0],
            "--stats-parent", "127.0.0.1:%d" % cls.sec.http_port,
            "--stats-report", ENT] + REPORT)
        cls.nodes.append(cls.impostor)

    def test_1_enterprise_figures_reach_secondary_and_top(self):
        for i in range(3):
            self.assertEqual(self.ent.create(ADMIN, "%s/REP-%d" % (ENT, i))[0], 1)
        resolve_udp(self.ent.port, ENT + "/REP-1", 5)
        want = lambda r: r["registered"] == 3 and r["resolved_udp_found"] == 5  # noqa: E731
        row = wait_row(self.sec, "prefix=" + ENT, want)
        self.assertEqual(row["held"], 3)
        wait_row(self.sec, "industry=88.100", want)
        # the secondary's own report carries them on to the top level
        row = wait_row(self.root, "prefix=" + ENT, want)
        self.assertEqual(row["held"], 3)
        wait_row(self.root, "industry=88.100", want)
        # the secondary's own counts are apart (source=own): nothing of 88.100.1 there
        st, _, body = self.sec.req("GET", "/api/stats?prefix=" + ENT)
        self.assertEqual(st, 200)
        self.assertTrue(all(r["registered"] == 0 for r in json.loads(body)["rows"]))

    def test_2_wrong_key_refused(self):
        deadline = time.time() + DEADLINE
        while time.time() < deadline and "stats-reports" not in self.sec.output():
            time.sleep(0.2)
        self.assertIn("does not verify", self.sec.output())
        self.assertIn("refused", self.impostor.output())
        self.assertIn("403", self.impostor.output())
        # a forged body posted by hand: 403 too, and 400 for garbage
        st, _, body = self.sec.req("POST", "/api/stats/report", body=json.dumps({
            "report": json.dumps({"v": 1, "prefix": ENT, "day": "2026-12-07", "seq": 99,
                                  "rows": []}), "signature": "00"}))
        self.assertEqual(st, 403, body)
        st, _, body = self.sec.req("POST", "/api/stats/report", body=b"{nope")
        self.assertEqual(st, 400, body)
        self.assertIn("responseCode", json.loads(body))
        for q in ("source=bogus", "source=reported&granularity=hour"):
            st, _, body = self.sec.req("GET", "/api/stats?" + q)
            self.assertEqual(st, 400, body)
            self.assertIn("source", json.loads(body)["message"])

    def test_3_parent_down_then_back_exactly_once(self):
        base = wait_row(self.sec, "prefix=" + ENT, lambda r: r["resolved_udp_found"] >= 5)
        n0 = base["resolved_udp_found"]
        self.assertEqual(self.sec.stop(signal.SIGTERM), 0, self.sec.output())
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            self.assertNotIn(bad, self.sec.output())
        resolve_udp(self.ent.port, ENT + "/REP-2", 4)
        deadline = time.time() + DEADLINE
        while time.time() < deadline and "parent unreachable" not in self.ent.output():
            time.sleep(0.2)
        self.assertIn("parent unreachable", self.ent.output())
        # back on the same store and ports
        self.sec.proc = subprocess.Popen(self.sec.args, stdout=self.sec.log,
                                         stderr=subprocess.STDOUT)
        self.sec.wait_ready()
        self.sec.wait_http()
        want = n0 + 4
        row = wait_row(self.sec, "prefix=" + ENT, lambda r: r["resolved_udp_found"] >= want)
        self.assertEqual(row["resolved_udp_found"], want)
        time.sleep(3)  # more cycles: nothing counted twice
        self.assertEqual(reported(self.sec, "prefix=" + ENT)[-1]["resolved_udp_found"], want)
        row = wait_row(self.root, "prefix=" + ENT, lambda r: r["resolved_udp_found"] >= want)
        self.assertEqual(row["resolved_udp_found"], want)

    def test_4_parent_through_the_root(self):
        """No --stats-parent: the parent is found through --root (0.NA/88.100's
        HS_SITE). Here that record holds no HS_SITE: said, and retried;
        neither a parent nor a root: serve refuses to start."""
        key = os.path.join(self.tmp, "ent.pem")
        n = Node(homes=(ENT,), extra_args=[
            "--server-key", key, "--root", "127.0.0.1:%d" % self.root.port,
            "--stats-report", ENT] + REPORT)
        self.addCleanup(n.close)
        deadline = time.time() + DEADLINE
        while time.time() < deadline and "parent not found" not in n.output():
            time.sleep(0.2)
        self.assertIn("statistics report of 88.100.1: parent not found through the root",
                      n.output())
        self.assertIn("0.NA/88.100: no HS_SITE with an HTTP interface", n.output())
        out = subprocess.run([IDNODE, "serve", "--data", os.path.join(self.tmp, "none"),
                              "--home", ENT, "--listen", "127.0.0.1:0", "--server-key", key,
                              "--stats-report", ENT], capture_output=True, text=True,
                             timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("stats_parent or root", out.stderr)


if __name__ == "__main__":
    unittest.main()
