"""The web console's routes without a browser (docs/console.md), against the
real binary: the pages served from the binary byte for byte as they are in
src/api/console/ with their types and CSP, /console redirected, an unknown
file a 404; /api/console/me, /api/stats with a bearer token (an operator
reads every prefix, an enterprise its own prefix only: another prefix, an
industry or all prefixes are 403) and /api/console/health (operators only,
with the threads the page shows); no token, a forged one, a malformed
period each refused with a clear answer. tests/system/test_console_browser.py
drives the pages themselves in Chromium."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from test_accounts import AcctNode, OP_ID  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
ASSETS = os.path.join(ROOT, "src/api/console")


class ConsoleRoutes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.n = AcctNode()
        cls.n.add("op", "operator", OP_ID, "op-password-1")
        cls.n.add("ent", "enterprise", "300:0.NA/88.100.7", "ent-password-1",
                  "--prefix", "88.100.7")
        cls.op = cls.n.login("op", "op-password-1")[2]["data"]["token"]
        cls.ent = cls.n.login("ent", "ent-password-1")[2]["data"]["token"]

    @classmethod
    def tearDownClass(cls):
        cls.n.close()

    def test_files(self):
        for path, name, ctype in (("/console/", "index.html", "text/html"),
                                  ("/console/console.js", "console.js", "text/javascript"),
                                  ("/console/console.css", "console.css", "text/css")):
            st, h, body = self.n.req("GET", path)
            self.assertEqual(st, 200, path)
            self.assertTrue(h["content-type"].startswith(ctype), h)
            self.assertIn("default-src 'self'", h["content-security-policy"])
            with open(os.path.join(ASSETS, name), "rb") as f:
                self.assertEqual(body, f.read(), name)
        st, h, _ = self.n.req("GET", "/console")
        self.assertEqual((st, h["location"]), (301, "/console/"))
        for bad in ("/console/nope.js", "/console/../api/site", "/console/console.js/x"):
            st, h, body = self.n.req("GET", bad)
            self.assertEqual(st, 404, bad)
            self.assertIn(b"no such console file", body)

    def test_me(self):
        st, _, b = self.n.call("GET", "/api/console/me", token=self.op)
        self.assertEqual((st, b), (200, {"name": "op", "role": 1, "identity": OP_ID,
                                         "prefixes": []}))
        st, _, b = self.n.call("GET", "/api/console/me", token=self.ent)
        self.assertEqual(b["prefixes"], ["88.100.7"])
        self.assertEqual(b["role"], 2)
        st, _, b = self.n.call("GET", "/api/console/me")
        self.assertEqual((st, b["status"]), (401, -1))
        st, _, b = self.n.call("GET", "/api/console/me", token=self.op[:-4] + "0000")
        self.assertEqual((st, b["status"]), (401, -1))

    def test_stats(self):
        ok = "/api/stats?from=2026-01-01&to=2026-01-30"
        st, _, b = self.n.call("GET", ok, token=self.op)
        self.assertEqual(st, 200, b)
        self.assertEqual((b["granularity"], b["from"], b["to"]), ("day", "2026-01-01",
                                                                 "2026-01-30"))
        st, _, b = self.n.call("GET", ok + "&prefix=88.100.7", token=self.ent)
        self.assertEqual(st, 200, b)
        for q in ("", "&prefix=88.100.8", "&industry=88.100", "&prefix=88.100.70"):
            st, _, b = self.n.call("GET", ok + q, token=self.ent)
            self.assertEqual(st, 403, q)
            self.assertIn("its own prefixes only", b["message"])
        st, _, b = self.n.call("GET", ok, token="1.2.op.forged")
        self.assertEqual((st, b["status"]), (401, -1))
        st, _, b = self.n.call("GET", "/api/stats?from=2026-13-01", token=self.op)
        self.assertEqual(st, 400)
        self.assertIn("from", b["message"])

    def test_health(self):
        st, h, body = self.n.req("GET", "/api/console/health",
                                 headers={"Authorization": "Bearer " + self.op})
        self.assertEqual(st, 200)
        text = body.decode()
        threads = [int(l.split()[1]) for l in text.splitlines()
                   if l.startswith("idnode_process_threads ")]
        self.assertEqual(len(threads), 1, text[-500:])
        self.assertGreaterEqual(threads[0], 2)
        self.assertIn("idnode_start_time_seconds", text)
        self.assertIn("idnode_store_bytes", text)
        st, _, b = self.n.call("GET", "/api/console/health", token=self.ent)
        self.assertEqual((st, b["status"]), (403, -3))
        st, _, b = self.n.call("GET", "/api/console/health")
        self.assertEqual((st, b["status"]), (401, -1))


if __name__ == "__main__":
    unittest.main()
