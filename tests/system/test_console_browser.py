"""Browser test of the web console (docs/console.md): `idnode demo` with its
back-filled history, and its two consoles driven in headless Chromium
(Debian's chromium through playwright-core, tests/browser/console.mjs):

- the top-level node's console, as its operator, in English at a desktop's
  size (1280x800) and in Chinese at a phone's (390x844): a wrong password
  refused on the page, then overview, industries, one industry, enterprises,
  one enterprise and health; the charts have one bar per day of the 30, and
  their totals (the SVG's label, formatted for the language, and the bars'
  sum) are the demo's: registrations exactly what the documented generator
  makes (computed here again), resolutions those of /api/stats; the language
  switch turns the English pages Chinese;
- the motor works' console, as its enterprise account: no industries or
  health pages, its own prefix only, and its identifiers found through
  /api/search with links to their record pages.

Screenshots go to IDN_BUILD/console-*.png (paths printed). Skipped, saying
why, like test_http_browser.py when Chromium or playwright-core cannot be
had, unless IDN_BROWSER_REQUIRED=1."""
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import IDNODE  # noqa: E402
from test_demo import free_base, stop_demo, wait_started  # noqa: E402
from test_http_browser import BROWSER_DIR, BUILD, require_browser  # noqa: E402

SCALE = 10
DAYS = 30
WEIGHTS = {"88.100.1": 3, "88.100.2": 2, "88.200.1": 4}  # cli/cmd_demo.c's demo_ents
WEEKDAY_PCT = [100, 104, 108, 106, 102, 60, 50]  # Monday first


def registered(prefix, today):
    """The demo generator's registrations of prefix per day (cli/demo_history.c)."""
    out = {}
    for i in range(DAYS):
        day = today - (DAYS - 1 - i)
        reg = WEIGHTS[prefix] * 40 * SCALE // 100
        reg = reg * (100 + 2 * i) // 100 * WEEKDAY_PCT[(day + 3) % 7] // 100
        out[str(datetime.date(1970, 1, 1) + datetime.timedelta(days=day))] = reg
    return out


def resolved(row):
    return sum(v for k, v in row.items() if k.startswith("resolved_"))


def post_json(url, doc):
    req = urllib.request.Request(url, data=json.dumps(doc).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def get_json(url, token):
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


class ConsoleBrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_browser()
        base = free_base(14)
        # the top-level node's; base + 9 the motor works', base + 10 the secondary 88.100's
        cls.console = base + 8
        cls.tmp = tempfile.mkdtemp(prefix="idn-console-test-")
        out_path = os.path.join(cls.tmp, "demo.out")
        cls.out = open(out_path, "w+")
        cls.proc = subprocess.Popen(
            [IDNODE, "demo", "--dir", os.path.join(cls.tmp, "demo"), "--base-port", str(base),
             "--http-port", str(base + 7), "--console-port", str(cls.console),
             "--scale", str(SCALE), "--report-s", "2"], stdout=cls.out,
            stderr=subprocess.STDOUT)
        try:
            cls.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start(cls):
        text = wait_started(cls.proc, cls.out)
        cls.text = text
        cls.password = re.search(r"user operator, password (\S+)", text).group(1)
        cls.today = int(time.time()) // 86400
        shots = os.path.join(BUILD, "console-shots")
        os.makedirs(shots, exist_ok=True)
        top = "http://127.0.0.1:%d/console/" % cls.console
        motors = "http://127.0.0.1:%d/console/" % (cls.console + 1)
        op_pages = ["overview", "industries", "industries/88.100", "enterprises",
                    "enterprises/88.100.1", "health"]
        runs = [
            {"name": "en-desktop", "url": top, "user": "operator", "locale": "en-US",
             "width": 1280, "height": 800, "pages": op_pages, "switchLang": True},
            {"name": "zh-phone", "url": top, "user": "operator", "locale": "zh-CN",
             "width": 390, "height": 844,
             "pages": ["overview", "industries", "enterprises/88.200.1", "health"]},
            {"name": "motors", "url": motors, "user": "motors", "locale": "en-US",
             "width": 1280, "height": 800,
             "pages": ["overview", "enterprises/88.100.1", "identifiers/88.100.1"]},
            # The secondary 88.100's console: its enterprises' reports (docs/console.md).
            {"name": "reported-zh-phone", "url": cls.secondary_url(), "user": "operator",
             "locale": "zh-CN", "width": 390, "height": 844, "source": "reported",
             "pages": ["overview", "enterprises"]},
        ]
        for r in runs:
            r["password"] = cls.password
        spec_file = os.path.join(cls.tmp, "spec.json")
        with open(spec_file, "w") as f:
            json.dump({"shots": shots, "runs": runs}, f)
        r = subprocess.run(["node", os.path.join(BROWSER_DIR, "console.mjs"), spec_file],
                           capture_output=True, text=True, timeout=240, cwd=BROWSER_DIR)
        if r.returncode:
            raise RuntimeError("console.mjs: " + r.stderr[-3000:])
        cls.runs = json.loads(r.stdout.strip().splitlines()[-1])
        for name, run in cls.runs.items():
            for shot in run["shots"]:
                w, h = png_size(shot)
                print("screenshot: %s (%dx%d, %d bytes)" % (shot, w, h, os.path.getsize(shot)),
                      file=sys.stderr)
        # What the node says now, read after the pages (its own counts only grow).
        tok = post_json("http://127.0.0.1:%d/identity/token" % cls.console,
                        {"username": "operator", "password": cls.password})["data"]["token"]
        day = lambda d: str(datetime.date(1970, 1, 1) + datetime.timedelta(days=d))  # noqa: E731
        cls.rows = get_json("http://127.0.0.1:%d/api/stats?from=%s&to=%s" % (
            cls.console, day(cls.today - DAYS + 1), day(cls.today)), tok)["rows"]

    @classmethod
    def secondary_url(cls):
        """The secondary 88.100's console, once the motor works' reports of the
        history's 30 days are there (bounded wait)."""
        port = cls.console + 2
        tok = post_json("http://127.0.0.1:%d/identity/token" % port,
                        {"username": "operator", "password": cls.password})["data"]["token"]
        want = registered("88.100.1", cls.today)
        q = "/api/stats?source=reported&prefix=88.100.1&from=%s&to=%s" % (min(want), max(want))
        deadline, got = time.time() + 60, {}
        while time.time() < deadline:
            got = {r["period"]: r["registered"] for r in get_json(
                "http://127.0.0.1:%d%s" % (port, q), tok)["rows"]}
            if all(got.get(d, -1) >= n for d, n in want.items()):
                break
            time.sleep(0.5)
        cls.reported = got
        return "http://127.0.0.1:%d/console/" % port

    @classmethod
    def tearDownClass(cls):
        stop_demo(cls.proc)
        cls.out.close()
        subprocess.run(["rm", "-rf", cls.tmp])

    def expected(self, keep):
        """Registrations by the generator and resolutions by /api/stats of the rows kept."""
        reg = sum(sum(registered(p, self.today).values()) for p in WEIGHTS if keep({
            "prefix": p, "industry": p.rsplit(".", 1)[0]}))
        res = sum(resolved(r) for r in self.rows if keep(r))
        return reg, res

    def check_charts(self, page, lang, keep):
        reg, res = self.expected(keep)
        charts = {c["kind"]: c for c in page["charts"]}
        self.assertEqual(sorted(charts), ["registered", "resolutions"], page)
        for kind, want in (("registered", reg), ("resolutions", res)):
            c = charts[kind]
            self.assertEqual((c["points"], c["bars"]), (DAYS, DAYS), c)
            self.assertEqual(c["barSum"], c["total"], c)
            if kind == "registered":
                self.assertEqual(c["total"], want, c)
            else:  # the node's own resolutions may have come in since the page was drawn
                self.assertLessEqual(c["total"], want, c)
                self.assertGreater(c["total"], want * 0.9, c)
            word = "total" if lang == "en" else "合计"
            self.assertEqual(c["label"], "%s %s" % (word, "{:,}".format(c["total"])), c)
            self.assertGreater(c["width"], 200, c)
        self.assertGreater(reg, 0)
        self.assertEqual(page["errors"], [])
        self.assertLessEqual(page["scrollWidth"], page["innerWidth"], page["page"])

    def test_login(self):
        for name in ("en-desktop", "zh-phone", "motors"):
            run = self.runs[name]
            self.assertTrue(run["loginShown"])
            self.assertTrue(run["badLogin"].startswith(
                "登录失败" if name == "zh-phone" else "Login failed"), run["badLogin"])
            self.assertTrue(run["token"])
            self.assertEqual(run["afterLogout"], {"login": True, "token": None})
            self.assertEqual(run["failed"], [], name)
            for page in run["pages"].values():  # logged in: the form is gone
                self.assertFalse(page["loginVisible"], (name, page["page"]))
        self.assertEqual(self.runs["en-desktop"]["loginTitle"], "Log in")
        self.assertEqual(self.runs["zh-phone"]["loginTitle"], "登录")

    def test_overview(self):
        for name, lang in (("en-desktop", "en"), ("zh-phone", "zh")):
            p = self.runs[name]["pages"]["overview"]
            self.assertEqual(p["lang"], "en" if lang == "en" else "zh-CN")
            self.check_charts(p, lang, lambda r: True)
            # Each prefix's identifiers held on its latest day: the demo's exactly
            # (the generator's start plus registered minus deleted), the node's own on top.
            latest = {}
            for r in self.rows:
                latest[r["prefix"]] = max(latest.get(r["prefix"], ("", 0)),
                                          (r["period"], r["held"]))
            demo = sum(WEIGHTS[x] * 500 * SCALE // 100 +
                       sum(n - n // 50 for n in registered(x, self.today).values())
                       for x in WEIGHTS)
            for x in WEIGHTS:
                self.assertEqual(latest[x][0], max(registered(x, self.today)))
            self.assertEqual(sum(latest[x][1] for x in WEIGHTS), demo)
            held = int(p["totals"]["held"].replace(",", ""))
            self.assertGreaterEqual(held, demo)
            self.assertLessEqual(held, sum(n for _, n in latest.values()))
            # The demo's three, and the node's own prefixes once it has counted them.
            self.assertGreaterEqual(int(p["totals"]["enterprises"]), len(WEIGHTS))
            self.assertLessEqual(int(p["totals"]["enterprises"]),
                                 len({r["prefix"] for r in self.rows}))
        self.assertEqual(self.runs["en-desktop"]["pages"]["overview"]["nav"],
                         ["Overview", "Industries", "Enterprises", "Identifiers", "Health"])
        self.assertEqual(self.runs["zh-phone"]["pages"]["overview"]["nav"],
                         ["总览", "行业", "企业", "标识", "运行状态"])

    def test_industries(self):
        for name in ("en-desktop", "zh-phone"):
            p = self.runs[name]["pages"]["industries"]
            names = [r[0] for r in p["rows"]]
            self.assertIn("88.100", names)
            self.assertIn("88.200", names)
            self.assertEqual(p["sparks"], len(names))
            # Ordered by resolutions, the largest first.
            res = [int(r[3].replace(",", "")) for r in p["rows"]]
            self.assertEqual(res, sorted(res, reverse=True))
        one = self.runs["en-desktop"]["pages"]["industries/88.100"]
        self.check_charts(one, "en", lambda r: r["industry"] == "88.100")
        self.assertEqual(sorted(r[0] for r in one["rows"]), ["88.100.1", "88.100.2"])

    def test_enterprises(self):
        p = self.runs["en-desktop"]["pages"]["enterprises"]
        self.assertTrue({"88.100.1", "88.100.2", "88.200.1"} <= {r[0] for r in p["rows"]})
        self.check_charts(self.runs["en-desktop"]["pages"]["enterprises/88.100.1"], "en",
                          lambda r: r["prefix"] == "88.100.1")
        self.check_charts(self.runs["zh-phone"]["pages"]["enterprises/88.200.1"], "zh",
                          lambda r: r["prefix"] == "88.200.1")

    def test_health(self):
        for name in ("en-desktop", "zh-phone"):
            h = self.runs[name]["pages"]["health"]["health"]
            self.assertRegex(h["uptime"], r"^0d 0h \d+m$")
            self.assertGreaterEqual(int(h["threads"]), 2)
            self.assertGreater(int(h["store"].split()[0].replace(",", "")), 0)
            self.assertGreater(int(h["identifiers"].replace(",", "")), 0)
            self.assertEqual(h["lag"], "0 s / 0")  # not a mirror

    def test_language_switch(self):
        s = self.runs["en-desktop"]["switched"]
        self.assertEqual(s["lang"], "zh-CN")
        self.assertEqual(s["nav"], ["总览", "行业", "企业", "标识", "运行状态"])
        self.assertEqual(s["healthLabels"][:3], ["运行时间", "线程数", "已应答请求"])
        self.assertEqual(self.runs["en-desktop"]["pages"]["health"]["healthLabels"][:3],
                         ["Uptime", "Threads", "Requests answered"])

    def test_enterprise_account(self):
        run = self.runs["motors"]
        p = run["pages"]["overview"]
        self.assertEqual(p["nav"], ["Overview", "Enterprises", "Identifiers"])
        self.assertIn("motors", p["who"])
        # The motor works' node holds its own history only (the same generator's numbers).
        reg = sum(registered("88.100.1", self.today).values())
        charts = {c["kind"]: c for c in p["charts"]}
        self.assertEqual(charts["registered"]["total"], reg)
        self.assertEqual(charts["registered"]["bars"], DAYS)
        ids = run["pages"]["identifiers/88.100.1"]["handles"]
        self.assertGreater(len(ids), 0)
        for i in ids:
            self.assertTrue(i["handle"].startswith("88.100.1/"), i)
            self.assertEqual(i["link"], "/" + i["handle"] + "?noredirect")
        # The record page the link opens, served by the same node.
        motor = next(i for i in ids if "/MOTOR-" in i["handle"])
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.console + 1, motor["link"]),
                                    timeout=30) as r:
            self.assertEqual(r.status, 200)
            self.assertIn(motor["handle"], r.read().decode())

    def test_reported_figures(self):
        """The secondary's console, figures reported by its enterprises, on a phone
        in Chinese: the motor works' history, day by day, and its enterprises only."""
        run = self.runs["reported-zh-phone"]
        p = run["pages"]["overview"]
        self.assertEqual(p["source"], "reported")
        charts = {c["kind"]: c for c in p["charts"]}
        self.assertEqual(charts["registered"]["total"], sum(self.reported.values()))
        self.assertGreaterEqual(charts["registered"]["total"],
                                sum(registered("88.100.1", self.today).values()))
        self.assertEqual(charts["registered"]["bars"], DAYS)
        names = {r[0] for r in run["pages"]["enterprises"]["rows"]}
        self.assertIn("88.100.1", names)
        self.assertTrue(names <= {"88.100.1", "88.100.2"}, names)
        self.assertEqual(p["errors"], [])

    def test_headers_one_line(self):
        """No table header wraps, on a phone in Chinese either (the table scrolls)."""
        for name, page in (("zh-phone", "industries"), ("en-desktop", "enterprises"),
                           ("reported-zh-phone", "enterprises")):
            self.assertEqual(self.runs[name]["pages"][page]["headerLines"], 1, (name, page))

    def test_screenshots(self):
        n = 0
        for run in self.runs.values():
            for shot in run["shots"]:
                w, h = png_size(shot)
                self.assertGreaterEqual(w, 390 * 1)
                # A blank page compresses to almost nothing; these hold charts and tables.
                self.assertGreater(os.path.getsize(shot), 15000, shot)
                n += 1
        self.assertEqual(n, 6 + 1 + 4 + 3 + 2)


if __name__ == "__main__":
    unittest.main()
