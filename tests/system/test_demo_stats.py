"""Statistics reports in the demo hierarchy (issue 14's acceptance;
docs/statistics.md "Reports to the parent", docs/console.md): `idnode demo`
itself, reporting every second (--report-s 1). Each enterprise reports to
its secondary, each secondary to the top level, signed with the node's key
against the HS_PUBKEY its parent's 0.NA/<child> record holds.

- The motor works' back-filled history reaches the top level through the
  secondary: yesterday's reported registrations of 88.100.1 at the top are
  exactly the generator's (cli/demo_history.c).
- Registrations (SNMS, as the motor works' account) and resolutions (UDP)
  at two enterprises appear, exactly, in today's reported figures of the
  secondary 88.100 (per enterprise and per industry) and then of the top
  level (per enterprise, and summed per industry).
- A node reporting for 88.100.1 with another node's key (the dairy's) is
  refused by the secondary (403, logged) and changes nothing.

Every wait is bounded."""
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import IDNODE, Node, parse_answer, request, udp_exchange  # noqa: E402
from snms_client import identifier  # noqa: E402
from test_console_browser import registered  # noqa: E402
from test_demo import free_base, stop_demo, wait_started  # noqa: E402

SCALE = 10  # test_console_browser.registered() computes the history at this scale
# --console-port N: top N, motor works N+1, 88.100 N+2, 88.200 N+3, bearings N+4, dairy N+5
TOP, MOTORS, EQUIPMENT = 0, 1, 2
ENT = "88.100.1"


def call(port, method, path, body=None, token=None):
    """(status, JSON body) of an HTTP request to 127.0.0.1:port."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data,
                                 headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def day_text(d):
    return str(datetime.date(1970, 1, 1) + datetime.timedelta(days=d))


class DemoStats(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        base = free_base(14)
        cls.port = base
        cls.console = base + 8
        cls.tmp = tempfile.mkdtemp(prefix="idn-demo-stats-")
        cls.dir = os.path.join(cls.tmp, "demo")
        cls.out = open(os.path.join(cls.tmp, "demo.out"), "w+")
        cls.proc = subprocess.Popen(
            [IDNODE, "demo", "--dir", cls.dir, "--base-port", str(base),
             "--http-port", str(base + 7), "--console-port", str(cls.console),
             "--scale", str(SCALE), "--report-s", "1"],
            stdout=cls.out, stderr=subprocess.STDOUT)
        try:
            text = wait_started(cls.proc, cls.out)
            cls.text = text
            pw = re.search(r"user operator, password (\S+)", text).group(1)
            cls.tokens = {}
            for k, user in ((TOP, "operator"), (MOTORS, "motors"), (EQUIPMENT, "operator")):
                st, b = call(cls.console + k, "POST", "/identity/token",
                             {"username": user, "password": pw})
                assert st == 200 and b["status"] == 1, (k, st, b)
                cls.tokens[k] = b["data"]["token"]
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        stop_demo(cls.proc)
        cls.out.close()
        bad = []  # a sanitizer's report in a node's log (the ASan tree), read after the stop
        for name in sorted(os.listdir(cls.dir)) if os.path.isdir(cls.dir) else []:
            log = os.path.join(cls.dir, name, "serve.log")
            if os.path.isfile(log):
                with open(log, errors="replace") as f:
                    text = f.read()
                bad += [name for w in ("AddressSanitizer", "runtime error:", "LeakSanitizer")
                        if w in text]
        if not bad:
            subprocess.run(["rm", "-rf", cls.tmp])
        assert not bad, "sanitizer reports in the logs of %s (kept in %s)" % (bad, cls.dir)

    def log(self, name):
        with open(os.path.join(self.dir, name, "serve.log"), errors="replace") as f:
            return f.read()

    def rows(self, k, query):
        """The day rows of /api/stats?<query> on node k (its console's account)."""
        st, b = call(self.console + k, "GET", "/api/stats?" + query, token=self.tokens[k])
        self.assertEqual(st, 200, b)
        return b["rows"]

    def today_row(self, k, query):
        today = day_text(int(time.time()) // 86400)
        rows = [r for r in self.rows(k, query) if r["period"] == today]
        return rows[0] if rows else None

    def wait(self, k, query, want, what, timeout=60.0):
        """Today's row of query on node k once want(row) holds (bounded), else fails."""
        deadline, row = time.time() + timeout, None
        while time.time() < deadline:
            row = self.today_row(k, query)
            if row and want(row):
                return row
            time.sleep(0.25)
        self.fail("%s: no row of %s on node %d as wanted; last %r\n%s" % (
            what, query, k, row, self.log("equipment")[-2000:]))

    def test_1_history_reaches_the_top(self):
        """Yesterday's figures of the motor works, two hops up, are the generator's."""
        yesterday = int(time.time()) // 86400 - 1
        want = registered(ENT, yesterday + 1)[day_text(yesterday)]
        self.assertGreater(want, 0)
        q = "source=reported&prefix=%s&from=%s&to=%s" % (ENT, day_text(yesterday),
                                                         day_text(yesterday))
        deadline, rows = time.time() + 60, []
        while time.time() < deadline:
            rows = self.rows(TOP, q)
            if rows and rows[0]["registered"] == want:
                break
            time.sleep(0.25)
        self.assertEqual([r["registered"] for r in rows], [want], rows)
        # The secondary's own figures hold none of it (no history of its own).
        own = self.rows(EQUIPMENT, q.replace("source=reported", "source=own"))
        self.assertTrue(all(r["registered"] == 0 for r in own), own)

    def test_2_activity_reaches_secondary_and_top(self):
        q = "prefix=" + ENT
        before = self.wait(MOTORS, q, lambda r: True, "the motor works' own row")
        for i in range(3):  # SNMS creates as the motor works' account (no template)
            doc = identifier("%s/REPORT-TEST-%d" % (ENT, i), None,
                             [(1, "URL", "https://motors.example.com/r/%d" % i)])
            st, b = call(self.console + MOTORS, "POST", "/identityv2/data", doc,
                         token=self.tokens[MOTORS])
            self.assertEqual((st, b.get("status")), (200, 1), b)
        # unsigned ones: a signed record's answer is over the UDP budget (ask over TCP)
        for handle, port, n in (("88.100.1/MOTOR-2026-000100", self.port + 4, 5),
                                ("88.100.2/BEARING-6204-000050", self.port + 5, 4)):
            for _ in range(n):
                ans, _, _ = udp_exchange(port, request(handle), timeout=5)
                self.assertEqual(parse_answer(ans)[2], 1, handle)
        reg, found = before["registered"] + 3, before["resolved_udp_found"] + 5
        exact = lambda r: (r["registered"], r["resolved_udp_found"]) == (reg, found)  # noqa
        self.wait(MOTORS, q, exact, "the motor works' own count")
        # The secondary: its child's report, per enterprise and in its industry.
        row = self.wait(EQUIPMENT, "source=reported&" + q, exact, "88.100's report of 88.100.1")
        self.assertGreaterEqual(row["held"], 3)
        own = self.today_row(EQUIPMENT, q)  # its own figures: apart, none registered
        self.assertTrue(own is None or own["registered"] == 0, own)
        bearings = self.wait(EQUIPMENT, "source=reported&prefix=88.100.2",
                             lambda r: r["resolved_udp_found"] == 4, "88.100.2's report")
        both = lambda r: (r["registered"], r["resolved_udp_found"]) == (  # noqa: E731
            reg + bearings["registered"], found + 4)
        self.wait(EQUIPMENT, "source=reported&industry=88.100", both, "88.100's industry")
        # The top level: the secondary's report carries them on, summed per industry.
        self.wait(TOP, "source=reported&" + q, exact, "the top's 88.100.1")
        self.wait(TOP, "source=reported&industry=88.100", both, "the top's industry 88.100")
        food = self.today_row(TOP, "source=reported&industry=88.200")
        self.assertTrue(food is None or food["registered"] == 0, food)

    def test_3_report_with_another_nodes_key_refused(self):
        """The dairy's key cannot report for the motor works: 403, nothing counted."""
        imp = Node(homes=(ENT,), extra_args=[
            "--server-key", os.path.join(self.dir, "dairy", "server-key.pem"),
            "--stats-parent", "127.0.0.1:%d" % (self.console + EQUIPMENT),
            "--stats-report", ENT, "--stats-flush-s", "1", "--stats-report-s", "1",
            "--stats-report-days", "1"])
        self.addCleanup(imp.close)
        # Something to report: a resolution (not found) on the impostor.
        udp_exchange(imp.port, request(ENT + "/NOT-HERE"), timeout=5)
        deadline = time.time() + 30
        while time.time() < deadline and "refused" not in imp.output():
            time.sleep(0.2)
        self.assertIn("refused", imp.output())
        self.assertIn("403", imp.output())
        self.assertIn("does not verify", self.log("equipment"))
        # The secondary's figures of 88.100.1 are still the motor works' own (an
        # accepted report would have replaced them with the impostor's: nothing held).
        keys = ("held", "registered", "resolved_udp_found", "resolved_udp_not_found")
        own = None
        deadline = time.time() + 30
        while time.time() < deadline:
            own = self.today_row(MOTORS, "prefix=" + ENT)
            rep = self.today_row(EQUIPMENT, "source=reported&prefix=" + ENT)
            if rep and [rep[k] for k in keys] == [own[k] for k in keys]:
                break
            time.sleep(0.25)
        self.assertEqual([rep[k] for k in keys], [own[k] for k in keys])
        self.assertGreater(own["held"], 0)


if __name__ == "__main__":
    unittest.main()
