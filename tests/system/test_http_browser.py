"""Browser test: a record page in headless Chromium (Debian's chromium driven
by playwright-core), at a phone's size: its content, that value text cannot
inject markup or script, and a screenshot (IDN_BUILD/record_page.png).

It runs scripts/browser-deps.sh first (chromium is too big for deps.sh) and
skips itself, saying why, when chromium or playwright-core cannot be had
(offline, no root). IDN_BROWSER=0 skips it on purpose. Runs in ~5 s."""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
BROWSER_DIR = os.path.join(ROOT, "tests/browser")
REC = {"handle": "88.100.1/PUMP-2026-0007", "values": [
    {"index": 1, "type": "URL", "data": "https://example.com/pumps/7"},
    {"index": 2, "type": "EMAIL", "data": "service@example.com"},
    {"index": 2001, "type": "model", "data": "P-200 <img src=x onerror=alert(1)>"},
    {"index": 2002, "type": "batch", "data": "B-2026-11-0042"},
    {"index": 2003, "type": "note", "data": "\"><script>alert(2)</script>"},
]}


def setup_problem():
    """None when the browser test can run, else the reason it cannot."""
    if os.environ.get("IDN_BROWSER") == "0":
        return "IDN_BROWSER=0"
    try:
        r = subprocess.run([os.path.join(ROOT, "scripts/browser-deps.sh")],
                           capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "scripts/browser-deps.sh: %s" % e
    if r.returncode != 0:
        return "scripts/browser-deps.sh failed: " + (r.stderr or r.stdout).strip()[-300:]
    if not os.path.exists("/usr/bin/chromium"):
        return "/usr/bin/chromium missing"
    return None


class BrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        why = setup_problem()
        if why:
            raise unittest.SkipTest("browser test skipped: " + why)
        cls.node = HttpNode(records=[REC])

    @classmethod
    def tearDownClass(cls):
        cls.node.close()

    def test_record_page_on_a_phone(self):
        shot = os.path.join(os.environ.get("IDN_BUILD", "/tmp"), "record_page.png")
        url = "http://127.0.0.1:%d/88.100.1/PUMP-2026-0007?noredirect" % self.node.http_port
        r = subprocess.run(["node", os.path.join(BROWSER_DIR, "record_page.mjs"), url, shot],
                           capture_output=True, text=True, timeout=60, cwd=BROWSER_DIR)
        self.assertEqual(r.returncode, 0, r.stderr)
        page = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(page["status"], 200)
        self.assertEqual(page["handle"], "88.100.1/PUMP-2026-0007")
        self.assertEqual(page["prefix"], "88.100.1")
        self.assertEqual(page["types"], ["URL", "EMAIL", "model", "batch", "note"])
        self.assertEqual(page["data"][2], "P-200 <img src=x onerror=alert(1)>")
        self.assertEqual(page["data"][4], "\"><script>alert(2)</script>")
        self.assertEqual(page["links"], ["https://example.com/pumps/7"])
        self.assertEqual(page["scripts"], 0)
        self.assertEqual(page["dialogs"], [])
        self.assertIsNotNone(page["qr"])
        self.assertGreaterEqual(page["qr"]["width"], 150)
        self.assertFalse(page["overflowX"], "the page scrolls sideways on a phone")
        self.assertGreater(os.path.getsize(shot), 10000)
        print("screenshot: " + shot, file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
