"""`idnode demo` on free ports: it starts seven nodes, prints what runs and
four commands; the commands work as printed (found via the recursive node,
found from the root, not found, verified with --trusted); the recursive node
sets the verified bit for a signed sample and not for an unsigned one;
the public gateway on the recursive node answers the three URLs it prints
(record page first, then the proxy, then REST) for identifiers of three
enterprises; SIGTERM stops it cleanly, children reaped and the temporary directory
removed. Every wait is bounded."""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import IDNODE, free_port_run, parse_answer, request, tcp_exchange  # noqa: E402


def free_base(n=7):
    """A base port with the n ports from it free (UDP and TCP), best effort."""
    base = free_port_run(n)
    if base is None:
        raise RuntimeError("no free port range")
    return base


def children_of(pid):
    """Live children of pid, from /proc (no procps needed)."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(d))
    return kids


def wait_started(proc, out, timeout=90):
    """The demo's output once it printed its tour (bounded wait), else RuntimeError."""
    deadline, text = time.time() + timeout, ""
    while time.time() < deadline:
        out.seek(0)
        text = out.read()
        if "Ctrl-C" in text or proc.poll() is not None:
            break
        time.sleep(0.1)
    if "Ctrl-C" not in text:
        raise RuntimeError("the demo did not start:\n" + text)
    return text


def stop_demo(proc):
    """SIGTERM to the demo, then SIGKILL to it and its nodes if it does not stop."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            for k in children_of(proc.pid):
                os.kill(k, signal.SIGKILL)
            proc.kill()
            proc.wait(5)


def start_times(pid):
    """{prefix a child of pid serves (its first --home; "*": the recursive
    node): its start time (clock ticks since boot)}, from /proc."""
    out = {}
    for k in children_of(pid):
        with open("/proc/%d/cmdline" % k) as f:
            args = f.read().split("\0")
        with open("/proc/%d/stat" % k) as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        out["*" if "--recursive" in args else args[args.index("--home") + 1]] = ticks
    return out


def json_call(port, path, body=None, token=None):
    """The JSON answer of a request to 127.0.0.1:port (POST with a body); fails on an HTTP error."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), headers=headers,
                                 data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


class Demo(unittest.TestCase):
    def test_demo_runs_prints_commands_and_stops(self):
        base = free_base(14)
        http_port = base + 7  # base + 8 .. + 13: the nodes' consoles and HTTP listeners
        tmp = tempfile.mkdtemp(prefix="idn-demo-test-")
        env = dict(os.environ, TMPDIR=tmp)
        out_path = os.path.join(tmp, "demo.out")
        with open(out_path, "w+") as out:
            proc = subprocess.Popen([IDNODE, "demo", "--base-port", str(base), "--scale", "30",
                                     "--http-port", str(http_port),
                                     "--console-port", str(base + 8)],
                                    stdout=out, stderr=subprocess.STDOUT, env=env)
            try:
                text = wait_started(proc, out, 60)
                self.assertEqual(len(children_of(proc.pid)), 7, text)
                for role, prefix in (("top-level", "88"), ("secondary", "88.100"),
                                     ("secondary", "88.200"), ("enterprise", "88.100.1"),
                                     ("enterprise", "88.200.1"), ("recursive", "*")):
                    self.assertRegex(text, r"%s\s+%s\s+127\.0\.0\.1:\d+" %
                                     (role, re.escape(prefix)))
                n = int(re.search(r"(\d+) sample identifiers", text).group(1))
                self.assertGreater(n, 1000)
                joined = text.replace("\\\n", " ")
                cmds = [l.strip() for l in joined.splitlines() if " resolve " in l]
                self.assertEqual(len(cmds), 4, text)
                self.assertIn("--server 127.0.0.1:%d" % base, cmds[0])
                self.assertIn("--root 127.0.0.1:%d" % (base + 1), cmds[1])
                results = [subprocess.run(shlex.split(c), capture_output=True, text=True,
                                          timeout=30) for c in cmds]
                self.assertEqual(results[0].returncode, 0, results[0].stderr)
                for want in ("URL", "EMAIL", "manufacturer", "batch", "TEMPLATE", "2000"):
                    self.assertIn(want, results[0].stdout)
                self.assertEqual(results[1].returncode, 0, results[1].stderr)
                self.assertIn("MILK-2026-000042", results[1].stdout)
                self.assertEqual(results[2].returncode, 1, results[2].stdout)
                self.assertIn("HANDLE_NOT_FOUND", results[2].stdout + results[2].stderr)
                self.assertEqual(results[3].returncode, 0, results[3].stdout + results[3].stderr)
                self.assertIn("verified: 9 values signed by 300:0.NA/88.100.1, 2 certificates",
                              results[3].stdout)
                # The recursive node: verified for a signed sample, not for an unsigned one.
                for handle, bits in (("88.100.1/MOTOR-2026-000001", 0x3),
                                     ("88.100.1/MOTOR-2026-000100", 0x2)):
                    ans = tcp_exchange(base, request(handle, flags=0x19000002), timeout=20)
                    _, _, rc, flags, _ = parse_answer(ans)
                    self.assertEqual((rc, flags & 0x3), (1, bits), handle)
                self.check_gateway(text, http_port)
                kids = children_of(proc.pid)

                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(30), 0)
                for k in kids:  # reaped: gone, not zombies of anyone
                    self.assertFalse(os.path.exists("/proc/%d/status" % k) and
                                     "idnode" in open("/proc/%d/cmdline" % k).read(),
                                     "child %d still running" % k)
                # The temporary data directory went with it.
                self.assertEqual([d for d in os.listdir(tmp) if d.startswith("idnode-demo")],
                                 [])
            finally:
                if proc.poll() is None:
                    for k in children_of(proc.pid):
                        os.kill(k, signal.SIGKILL)
                    proc.kill()
                    proc.wait(5)
                subprocess.run(["rm", "-rf", tmp])

    def check_gateway(self, text, http_port):
        """The gateway's URLs as printed: the browser's first, each answering."""
        urls = re.findall(r"(http://127\.0\.0\.1:%d/[^\s']+)" % http_port, text)
        self.assertEqual(len(urls), 6, text)
        page, proxy, rest = urls[:3]
        self.check_gs1(urls[3:])
        self.assertLess(text.index("browser"), text.index(page), text)
        self.assertTrue(page.endswith("?noredirect"), page)

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        with opener.open(page, timeout=30) as r:
            body = r.read().decode()
            self.assertEqual(r.status, 200)
            self.assertIn("text/html", r.headers["Content-Type"])
        self.assertIn("MOTOR-2026-000001", body)
        self.assertIn("Suzhou Motor Works", body)
        with self.assertRaises(urllib.error.HTTPError) as cm:
            opener.open(proxy, timeout=30)
        self.assertEqual(cm.exception.code, 302)
        self.assertTrue(cm.exception.headers["Location"].startswith("https://dairy.example.com"),
                        cm.exception.headers["Location"])
        with opener.open(rest, timeout=30) as r:
            doc = json.loads(r.read())
        self.assertEqual((doc["responseCode"], doc["handle"]),
                         (1, "88.100.2/BEARING-6204-000007"))
        self.assertIn("URL", [v["type"] for v in doc["values"]])

    def check_gs1(self, urls):
        """The GS1 Digital Link printed (issue 19 point 4): a 307 to the unit's
        page, its linkset, and a QR label of the GS1 URI."""
        dl, linkset, label = urls
        req = urllib.request.Request(dl, method="HEAD")

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args):
                return None

        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.build_opener(NoRedirect).open(req, timeout=30)
        self.assertEqual(cm.exception.code, 307)
        self.assertTrue(cm.exception.headers["Location"].startswith("https://motor"),
                        cm.exception.headers["Location"])
        with urllib.request.urlopen(linkset, timeout=30) as r:
            ls = json.loads(r.read())["linkset"]
        self.assertIn("https://gs1.org/voc/serviceInfo", ls[0])
        self.assertIn("https://gs1.org/voc/instructions", ls[1])  # the GTIN's level
        with urllib.request.urlopen(label, timeout=30) as r:
            self.assertEqual(r.headers["Content-Type"], "image/svg+xml")

    def test_start_logs_no_error(self):
        """A demo whose start takes a while (--scale 1000) and whose nodes
        report every second: no node logs an error or a "not found" line as
        it starts, nor the demo (the leaves, once started first, reported
        before the root and their parents ran: "parent not found through the
        root"). The nodes start from the top down (their start times), and
        the logs are read once every enterprise's figures reached the top
        level, so each node's first reports are done."""
        base = free_base(14)
        console = base + 8  # the top level's; its operator reads the reported figures
        tmp = tempfile.mkdtemp(prefix="idn-demo-log-")
        demo_dir = os.path.join(tmp, "demo")
        with open(os.path.join(tmp, "demo.out"), "w+") as out:
            proc = subprocess.Popen([IDNODE, "demo", "--dir", demo_dir, "--base-port", str(base),
                                     "--scale", "1000", "--report-s", "1",
                                     "--http-port", str(base + 7), "--console-port",
                                     str(console)], stdout=out, stderr=subprocess.STDOUT)
            try:
                text = wait_started(proc, out, 120)
                started = start_times(proc.pid)
                self.assertEqual(len(started), 7, started)
                for parent, child in (("88", "88.100"), ("88", "88.200"),
                                      ("88.100", "88.100.1"), ("88.100", "88.100.2"),
                                      ("88.200", "88.200.1"), ("88.100.1", "*"),
                                      ("88.100.2", "*"), ("88.200.1", "*")):
                    self.assertLessEqual(started[parent], started[child], (parent, child))
                pw = re.search(r"user operator, password (\S+)", text).group(1)
                token = json_call(console, "/identity/token",
                                  {"username": "operator", "password": pw})["data"]["token"]
                deadline = time.time() + 60
                for prefix in ("88.100.1", "88.100.2", "88.200.1"):
                    while not json_call(console, "/api/stats?source=reported&prefix=" + prefix,
                                        token=token)["rows"]:
                        self.assertLess(time.time(), deadline, "no report of " + prefix)
                        time.sleep(0.25)
                logs = {"demo": text}
                for name in os.listdir(demo_dir):
                    log = os.path.join(demo_dir, name, "serve.log")
                    if os.path.isfile(log):
                        with open(log, errors="replace") as f:
                            logs[name] = f.read()
                self.assertGreaterEqual(len(logs), 8, sorted(logs))
                bad = ["%s: %s" % (name, line) for name, t in sorted(logs.items())
                       for line in t.splitlines()
                       if "error" in line.lower() or "not found" in line.lower()]
                self.assertEqual(bad, [])
            finally:
                stop_demo(proc)
                subprocess.run(["rm", "-rf", tmp])

    def test_bad_option(self):
        out = subprocess.run([IDNODE, "demo", "--base-port", "x"], capture_output=True,
                             text=True, timeout=10)
        self.assertEqual(out.returncode, 2)
        self.assertIn("--base-port", out.stderr)


if __name__ == "__main__":
    unittest.main()
