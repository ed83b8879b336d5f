"""Browser test: idnode's pages for people in headless Chromium (Debian's
chromium driven by playwright-core, tests/browser/record_page.mjs), each at a
phone's size (390x844) and a desktop's (1280x800):

- a template record with Chinese field labels, served by a real node: the
  fields in the template's order under their labels, the enterprise and its
  industry from their 0.NA sites, links (http(s) and mailto only), the
  "Technical details" fold closed and holding HS_ADMIN, no sideways scroll,
  readable fonts, and value text that cannot inject markup or script;
- the same record through the public gateway (a recursive node without a
  store in front of that node, which is also the root of its little
  hierarchy): the same page, saying which node answered;
- the not-found page of the same node (404);
- a stale record page and a node-down page (504): these need a gateway whose
  upstream stops answering, so they are rendered by the page code itself
  (`tests/test_page --write DIR`, the unit test's fixture mode) and served
  here over loopback with the node's headers: no test code in idnode.

Screenshots go to IDN_BUILD/page-*.png (paths printed). It runs
scripts/browser-deps.sh first and skips itself, saying why, when chromium or
playwright-core cannot be had, unless IDN_BROWSER_REQUIRED=1 (scripts/test
sets it): then that is a failure. IDN_BROWSER=0 skips it on purpose."""
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode  # noqa: E402
from idnlib import admin_data, free_port, hexval  # noqa: E402
from idnlib import siteinfo  # noqa: E402
from test_http import site_desc  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
BROWSER_DIR = os.path.join(ROOT, "tests/browser")
BUILD = os.path.abspath(os.environ.get("IDN_BUILD", "/tmp"))
SIZES = {"phone": (390, 844), "desktop": (1280, 800)}

TDEF = {"name": "电机 Motor", "fields": [
    {"name": "serial", "type": "string", "description": "序列号 Serial number"},
    {"name": "model", "type": "string", "description": "型号 Model"},
    {"name": "made", "type": "date", "description": "生产日期 Production date"},
    {"name": "power", "type": "number", "description": "额定功率 Rated power (kW)"},
    {"name": "datasheet", "type": "url", "description": "产品说明书 Datasheet"},
    {"name": "产地", "type": "string"}]}
MOTOR = "88.100.1/MOTOR-2026-000001"
RECORDS = [
    {"handle": "88.100.1/TEMPLATE-MOTOR", "values": [
        {"index": 1, "type": "TEMPLATE.DEF", "data": json.dumps(TDEF, ensure_ascii=False)}]},
    {"handle": MOTOR, "values": [
        {"index": 1, "type": "URL", "data": "https://example.com/motors/YE3-132M-4?lot=7&s=1"},
        {"index": 2, "type": "EMAIL", "data": "service@example.com"},
        {"index": 3, "type": "DESC",
         "data": "Three-phase asynchronous motor <img src=x onerror=alert(1)>"},
        {"index": 4, "type": "LINK", "data": "javascript:alert(2)"},
        {"index": 5, "type": "BIN", "data": {"format": "hex", "value": "00ff10" * 40}},
        hexval(100, "HS_ADMIN", admin_data(0x0FF2, 300, "0.NA/88.100.1")),
        {"index": 1001, "type": "TEMPLATE", "data": "88.100.1/TEMPLATE-MOTOR"},
        {"index": 2000, "type": "model", "data": "YE3-132M-4 \"><script>alert(3)</script>"},
        {"index": 2001, "type": "serial", "data": "SN-2026-000001"},
        {"index": 2002, "type": "made", "data": "2026-03-14"},
        {"index": 2003, "type": "datasheet",
         "data": "https://example.com/" + "very-long-path-segment-" * 8 + ".pdf"},
        {"index": 2004, "type": "产地", "data": "浙江温州 Wenzhou, Zhejiang"}]},
    {"handle": "0.NA/88.100", "values": [
        {"index": 1, "type": "HS_SITE",
         "data": {"format": "hex", "value": site_desc("电机制造业 Motor manufacturing")}}]},
]


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


def require_browser():
    """Returns when the browser test can run; else skips it, or fails it
    under IDN_BROWSER_REQUIRED=1 (CI), naming the reason."""
    why = setup_problem()
    if why:
        if os.environ.get("IDN_BROWSER_REQUIRED") == "1":
            raise RuntimeError("browser test required (IDN_BROWSER_REQUIRED=1): " + why)
        raise unittest.SkipTest("browser test skipped: " + why)


class Fixture(http.server.BaseHTTPRequestHandler):
    """Serves DIR/NAME.html with the status in DIR/NAME.status and the
    node's page headers (the CSP that forbids scripts)."""
    pages = None

    def do_GET(self):
        name = self.path.strip("/")
        if not name.isalpha() or not os.path.exists(os.path.join(self.pages, name + ".html")):
            self.send_error(404)
            return
        with open(os.path.join(self.pages, name + ".status")) as f:
            status = int(f.read())
        with open(os.path.join(self.pages, name + ".html"), "rb") as f:
            body = f.read()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class BrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_browser()
        # The node is the root of its hierarchy too: 0.NA/88.100.1 names its own site.
        port = free_port()
        site = siteinfo("--listen", "127.0.0.1:%d" % port, "--site-desc",
                        "浙江电机有限公司 Zhejiang Motor Co.")
        cls.node_addr = "127.0.0.1:%d" % port
        cls.node = HttpNode(records=RECORDS + [{"handle": "0.NA/88.100.1", "values": [site]}],
                            homes=("88.100.1", "0.NA"), listen=[cls.node_addr])
        cls.gateway = HttpNode(nostore=True, homes=(),
                               extra_args=["--recursive", "--root", cls.node_addr])
        cls.tmp = tempfile.TemporaryDirectory()
        r = subprocess.run([os.path.join(BUILD, "tests/test_page"), "--write", cls.tmp.name],
                           capture_output=True, text=True, timeout=30)
        if r.returncode:
            raise RuntimeError("test_page --write: " + r.stderr)
        Fixture.pages = cls.tmp.name
        cls.fixture = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fixture)
        threading.Thread(target=cls.fixture.serve_forever, daemon=True).start()
        base = "http://127.0.0.1:%d" % cls.node.http_port
        fixture = "http://127.0.0.1:%d" % cls.fixture.server_address[1]
        gateway = "http://127.0.0.1:%d" % cls.gateway.http_port
        urls = {"record": base + "/" + MOTOR + "?noredirect",
                "gateway": gateway + "/" + MOTOR + "?noredirect",
                "notfound": base + "/88.100.1/NO-SUCH-%3Cb%3E",
                "stale": fixture + "/stale", "down": fixture + "/down"}
        spec = [{"name": "%s-%s" % (page, size), "url": url, "width": w, "height": h,
                 "shot": os.path.join(BUILD, "page-%s-%s.png" % (page, size))}
                for page, url in urls.items() for size, (w, h) in SIZES.items()]
        spec_file = os.path.join(cls.tmp.name, "spec.json")
        with open(spec_file, "w") as f:
            json.dump(spec, f)
        r = subprocess.run(["node", os.path.join(BROWSER_DIR, "record_page.mjs"), spec_file],
                           capture_output=True, text=True, timeout=120, cwd=BROWSER_DIR)
        if r.returncode:
            raise RuntimeError("record_page.mjs: " + r.stderr[-2000:])
        cls.pages = {p["name"]: p for p in json.loads(r.stdout.strip().splitlines()[-1])}
        for p in cls.pages.values():
            print("%s: %d, width %d of %d px, smallest font %.1f px" % (
                p["name"], p["status"], p["scrollWidth"], p["innerWidth"], p["minFont"]),
                file=sys.stderr)
            for shot in p["shots"]:
                print("screenshot: " + shot, file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        cls.fixture.shutdown()
        cls.fixture.server_close()
        cls.tmp.cleanup()
        cls.gateway.close()
        cls.node.close()

    def each(self, page):
        for size in SIZES:
            yield size, self.pages["%s-%s" % (page, size)]

    def assert_fits(self, p):
        self.assertLessEqual(p["scrollWidth"], p["innerWidth"],
                             "%s scrolls sideways: %s" % (p["name"], p["wide"]))
        self.assertGreaterEqual(p["minFont"], 12, p["name"])
        self.assertEqual(p["scripts"], 0)
        self.assertEqual(p["dialogs"], [])

    def test_template_record(self):
        self.check_record("record", "Answered by this node")

    def test_through_the_gateway(self):
        self.check_record("gateway", "Answered by node " + self.node_addr)

    def check_record(self, page, source):
        for size, p in self.each(page):
            self.assertEqual(p["status"], 200)
            self.assert_fits(p)
            self.assertEqual(p["handle"], MOTOR)
            self.assertEqual(p["kind"], "电机 Motor")
            self.assertEqual([f["name"] for f in p["fields"]],
                             ["serial", "model", "made", "power", "datasheet", "产地"])
            # The label: the field's description, else its name (a Chinese value type here).
            self.assertEqual([f["label"] for f in p["fields"]],
                             [f.get("description", f["name"]) for f in TDEF["fields"]])
            vals = [f["value"] for f in p["fields"]]
            self.assertEqual(vals[0], "SN-2026-000001")
            self.assertEqual(vals[1], "YE3-132M-4 \"><script>alert(3)</script>")
            self.assertEqual(vals[2], "14 Mar 2026")
            self.assertEqual(vals[3], "not set")
            self.assertEqual(vals[5], "浙江温州 Wenzhou, Zhejiang")
            self.assertEqual(p["enterprise"], "浙江电机有限公司 Zhejiang Motor Co.")
            self.assertEqual(p["industry"], "电机制造业 Motor manufacturing")
            self.assertIn("Three-phase asynchronous motor <img src=x onerror=alert(1)>",
                          p["info"])
            self.assertIn("javascript:alert(2)", p["info"])
            self.assertEqual(p["links"], [
                "https://example.com/motors/YE3-132M-4?lot=7&s=1",
                "https://example.com/" + "very-long-path-segment-" * 8 + ".pdf",
                "https://example.com/motors/YE3-132M-4?lot=7&s=1",
                "mailto:service@example.com"])
            # The fold: closed, HS_ADMIN inside and hidden until a tap opens it.
            self.assertIs(p["techOpen"], False)
            self.assertIn("HS_ADMIN", p["techTypes"])
            self.assertIn("TEMPLATE", p["techTypes"])
            self.assertIn("BIN", p["techTypes"])
            self.assertFalse(p["adminShown"])
            self.assertIs(p["techOpenedByTap"], True)
            self.assertTrue(p["adminShownOpen"])
            self.assertLessEqual(p["scrollWidthOpen"], p["innerWidth"], p["wideOpen"])
            self.assertIn(source, p["source"])
            self.assertIsNone(p["stale"])
            self.assertGreaterEqual(p["qr"]["width"], 150)
            self.assertGreater(os.path.getsize(p["shots"][0]), 10000)

    def test_not_found(self):
        for size, p in self.each("notfound"):
            self.assertEqual(p["status"], 404)
            self.assert_fits(p)
            self.assertEqual(p["handle"], "88.100.1/NO-SUCH-<b>")
            self.assertIn("Identifier not found", p["h1"])

    def test_stale(self):
        for size, p in self.each("stale"):
            self.assertEqual(p["status"], 200)
            self.assert_fits(p)
            self.assertIn("Stale: the node holding this identifier is not answering; "
                          "this is the record as of 14 Nov 2023, 22:13 UTC", p["stale"])
            self.assertIn("Answered by node 127.0.0.1:2641, fetched 14 Nov 2023", p["source"])

    def test_down(self):
        for size, p in self.each("down"):
            self.assertEqual(p["status"], 504)
            self.assert_fits(p)
            self.assertIn("not answering", p["h1"])
            self.assertIn("Asked node 127.0.0.1:2641", p["source"])


if __name__ == "__main__":
    unittest.main()
