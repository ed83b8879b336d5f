"""System tests for `idnode load`: a JSON Lines file with good and bad lines,
the messages (FILE:LINE: FIELD: ...), the exit status, and what a real
`idnode serve` then answers for the loaded identifiers."""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import DEADLINE  # noqa: E402
from idnlib import IDNODE, free_port, request, udp_exchange

TIMEOUT = 120  # seconds, for any one command


def line(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


GOOD_X_OLD = {"handle": "88.100.1/X", "values": [
    {"index": 1, "type": "URL", "data": "https://example.com/old"}]}
GOOD_X = {"handle": "88.100.1/X", "values": [
    {"index": 1, "type": "URL", "data": "https://example.com/x"},
    {"index": 2, "type": "EMAIL", "data": "qa@example.com", "ttl": 3600}]}
GOOD_Y = {"handle": "88.100.1/Y-Grüße", "comment": "unknown top-level keys are ignored",
          "nested": {"a": [1, 2.5e3, None, True, {"b": "c"}]},
          "values": [
              {"index": 1, "type": "BIN", "data": {"format": "hex", "value": "0fFF00"}},
              {"index": 2, "type": "TXT", "data": {"format": "base64", "value": "aGVsbG8="},
               "ttl_type": "absolute", "ttl": 1900000000, "perms": 15,
               "timestamp": "2024-05-01T10:20:30Z"},
              {"index": 3, "type": "HS_VLIST", "data": "",
               "references": [{"handle": "88.100.1/X", "index": 1}], "timestamp": 1700000000},
              {"index": 4, "type": "PLAIN", "data": {"format": "string", "value": "\u00e9\n"}}]}

# (line text, expected "FIELD: message" fragment); line numbers follow the list.
LINES = [
    (line(GOOD_X_OLD), None),                                                      # 1
    ('{"handle":"88.100.1/BAD1","values":[', "invalid JSON at column"),            # 2
    (line({"values": [{"index": 1, "type": "URL", "data": "u"}]}), "handle: missing"),  # 3
    (line({"handle": "88.100.1-no-slash", "values": [{"index": 1, "type": "URL", "data": "u"}]}),
     "handle: must be PREFIX/SUFFIX"),                                             # 4
    (line({"handle": "88.100.1/BAD5", "values": [{"index": 1, "type": "URL", "data": "u"},
                                                 {"index": 0, "type": "URL", "data": "u"}]}),
     "values[1].index: must be an integer 1..2147483647"),                         # 5
    (line({"handle": "88.100.1/BAD6", "values": [{"index": 7, "type": "URL", "data": "u"},
                                                 {"index": 7, "type": "URL", "data": "v"}]}),
     "values[1].index: 7 is already used by values[0]"),                           # 6
    (line({"handle": "88.100.1/BAD7", "values": [{"index": 1, "data": "u"}]}),
     "values[0].type: missing"),                                                   # 7
    (line({"handle": "88.100.1/BAD8", "values": [
        {"index": 1, "type": "B", "data": {"format": "hex", "value": "0g"}}]}),
     "values[0].data.value: bad hex digit"),                                       # 8
    (line({"handle": "88.100.1/BAD9", "values": [
        {"index": 1, "type": "B", "data": {"format": "base64", "value": "a$=="}}]}),
     "values[0].data.value: bad base64"),                                          # 9
    (line({"handle": "88.100.1/BAD10", "values": [
        {"index": 1, "type": "B", "data": {"format": "octal", "value": "17"}}]}),
     'values[0].data.format: unknown format "octal"'),                             # 10
    (line({"handle": "88.100.1/BAD11", "values": [
        {"index": 1, "type": "URL", "data": "u", "ttl": "3600"}]}),
     "values[0].ttl: must be an integer"),                                         # 11
    (line({"handle": "88.100.1/" + "L" * 2040, "values": [{"index": 1, "type": "U", "data": "u"}]}),
     "handle: longer than 2048 bytes"),                                            # 12
    (None, "handle: not valid UTF-8"),  # 13: raw bytes, written below
    (line({"handle": "", "values": [{"index": 1, "type": "U", "data": "u"}]}),
     "handle: must not be empty"),                                                 # 14
    (line(GOOD_Y), None),                                                          # 15
    ("   ", None),                                                                 # 16: blank
    (line(GOOD_X), None),                                                          # 17: X again
    (line({"handle": "88.100.1/BAD18", "values": [
        {"index": 1, "type": "URL", "data": "u", "tll": 5}]}),
     "values[0].tll: unknown field"),                                              # 18
    (line({"handle": "88.100.1/BAD19", "values": []}), "values: must not be empty"),  # 19
    (line({"handle": "88.100.1/BAD20", "values": [{"index": 1, "type": "U", "data": 5}]}),
     "values[0].data: must be a string"),                                          # 20
    ('{"handle":"88.100.1/BAD21","values":[{"index":1,"type":"U","data":"u"}]} x',
     "invalid JSON at column 74"),                                                 # 21
    (line({"handle": "88.100.1/BAD22", "values": [
        {"index": 1, "type": "U", "data": "u", "perms": 16}]}),
     "values[0].perms: must be an integer 0..15"),                                 # 22
    (line({"handle": "88.100.1/BAD23", "values": [
        {"index": 1, "type": "U", "data": "u", "references": [{"handle": "88.100.1/X"}]}]}),
     "values[0].references[0].index: missing"),                                    # 23
    ('[{"handle":"88.100.1/BAD24"}]', "a line must be one JSON object"),           # 24
]
BAD_UTF8 = b'{"handle":"88.100.1/BAD\xff13","values":[{"index":1,"type":"U","data":"u"}]}'
N_ERRORS = sum(1 for text, err in LINES if err)


def run(*args, stdin=None):
    return subprocess.run([IDNODE] + [str(a) for a in args], input=stdin, capture_output=True,
                          timeout=TIMEOUT)


class Server:
    """`idnode serve` on a loopback port, for checking what was loaded."""

    def __init__(self, data, homes=("88.100.1",), extra=()):
        self.port = free_port()
        args = [IDNODE, "serve", "--data", data, "--listen", "127.0.0.1:%d" % self.port,
                "--threads", "1"]
        for h in homes:
            args += ["--home", h]
        self.proc = subprocess.Popen(args + list(extra), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.time() + DEADLINE
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("idnode serve exited: " + self.proc.stderr.read().decode())
            try:
                udp_exchange(self.port, request("88.100.1/__ready__"), timeout=0.2)
                return
            except (TimeoutError, OSError):
                if time.time() > deadline:
                    raise RuntimeError("idnode serve not ready")
                time.sleep(0.05)

    def resolve(self, handle):
        """(exit status, parsed --json answer)."""
        r = subprocess.run([IDNODE, "resolve", handle, "--server", "127.0.0.1:%d" % self.port,
                            "--json"], capture_output=True, text=True, timeout=30)
        return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else None)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc.stderr.close()


class LoadTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="idn-load-")
        self.data = os.path.join(self.dir, "data")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def serve(self, **kw):
        s = Server(self.data, **kw)
        self.servers.append(s)
        return s

    def write(self, name, content):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode())
        return path

    def mixed_file(self):
        out = b""
        for text, _ in LINES:
            out += (BAD_UTF8 if text is None else text.encode()) + b"\n"
        return self.write("in.jsonl", out)

    def test_mixed_good_and_bad_lines(self):
        path = self.mixed_file()
        r = run("load", "--data", self.data, path)
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 1, err)
        for n, (_, expect) in enumerate(LINES, 1):
            if expect:
                self.assertIn("%s:%d: %s" % (path, n, expect), err)
        # One message per failed line, and the count at the end.
        self.assertEqual(len([l for l in err.splitlines() if l.startswith(path + ":")]), N_ERRORS)
        self.assertIn("%d of %d lines failed" % (N_ERRORS, len(LINES)), err)
        self.assertIn("1 line not written: a later line has the same handle", err)  # line 1
        # X (twice: the last wins) and Y.
        self.assertRegex(r.stdout.decode(),
                         r"^loaded 2 identifiers \(%d errors\) in [0-9.]+ s: [0-9]+ identifiers/s\n$"
                         % N_ERRORS)

        srv = self.serve()
        rc, j = srv.resolve("88.100.1/X")
        self.assertEqual(rc, 0, j)
        self.assertEqual([(v["index"], v["type"], v["data"]["value"], v["ttl"]) for v in j["values"]],
                         [(1, "URL", "https://example.com/x", 86400),
                          (2, "EMAIL", "qa@example.com", 3600)])
        self.assertEqual(j["values"][0]["permissions"], 14)

        rc, j = srv.resolve(GOOD_Y["handle"])
        self.assertEqual(rc, 0, j)
        v = {x["index"]: x for x in j["values"]}
        self.assertEqual(v[1]["data"], {"format": "hex", "value": "0fff00"})
        self.assertEqual(v[2]["data"], {"format": "string", "value": "hello"})
        self.assertEqual(v[2]["ttl"], 1900000000)
        self.assertEqual(v[2]["ttlType"], 1)
        self.assertEqual(v[2]["permissions"], 15)
        self.assertEqual(v[2]["timestamp"], "2024-05-01T10:20:30Z")
        self.assertEqual(v[3]["references"], [{"handle": "88.100.1/X", "index": 1}])
        self.assertEqual(v[3]["timestamp"], "2023-11-14T22:13:20Z")
        self.assertEqual(v[4]["data"]["value"], "\u00e9\n")

        # Nothing of a failed line was stored.
        for h in ("88.100.1/BAD5", "88.100.1/BAD6", "88.100.1/BAD22", "88.100.1/BAD23"):
            rc, j = srv.resolve(h)
            self.assertEqual((rc, j["responseCode"]), (1, 100), h)

    def test_replace_and_no_overwrite(self):
        first = self.write("a.jsonl", line(GOOD_X_OLD) + "\n")
        r = run("load", "--data", self.data, "-q", first)
        self.assertEqual((r.returncode, r.stdout), (0, b""), r.stderr)

        # --no-overwrite keeps X, reports its line, still loads A (which sorts
        # before X, so the refused put is the last of its transaction).
        z = {"handle": "88.100.1/A", "values": [{"index": 1, "type": "URL", "data": "a"}]}
        second = self.write("b.jsonl", line(z) + "\n" + line(GOOD_X) + "\n")
        r = run("load", "--data", self.data, "--no-overwrite", second)
        self.assertEqual(r.returncode, 1)
        self.assertIn("%s:2: handle: 88.100.1/X is already in the store (--no-overwrite)" % second,
                      r.stderr.decode())
        self.assertIn("loaded 1 identifiers (1 errors)", r.stdout.decode())
        srv = self.serve()
        self.assertEqual(srv.resolve("88.100.1/X")[1]["values"][0]["data"]["value"],
                         "https://example.com/old")
        self.assertEqual(srv.resolve("88.100.1/A")[0], 0)
        srv.stop()

        # Without it, the identifier is replaced as a whole.
        r = run("load", "--data", self.data, second)
        self.assertEqual(r.returncode, 0, r.stderr)
        srv = self.serve()
        rc, j = srv.resolve("88.100.1/X")
        self.assertEqual([v["data"]["value"] for v in j["values"]],
                         ["https://example.com/x", "qa@example.com"])

    def test_stdin_case_insensitive_and_home(self):
        text = "\n".join(line({"handle": h, "values": [{"index": 1, "type": "URL", "data": h}]})
                         for h in ("88.100.7/Mixed-Case", "88.100.1/abc"))
        r = run("load", "--data", self.data, "--case-insensitive", "--home", "88.100.7",
                "-", stdin=text.encode())  # no final newline
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("loaded 2 identifiers (0 errors)", r.stdout.decode())
        # 88.100.7 was homed by the load; the server homes 88.100.1 itself.
        srv = self.serve(extra=["--case-insensitive"])
        for h in ("88.100.7/MIXED-case", "88.100.7/mixed-case", "88.100.1/ABC"):
            rc, j = srv.resolve(h)
            self.assertEqual(rc, 0, (h, j))
        self.assertEqual(srv.resolve("88.100.7/mixed-case")[1]["values"][0]["data"]["value"],
                         "88.100.7/Mixed-Case")

    def test_many_lines_random_order(self):
        # Enough lines for both parser threads and the sort; some handles repeat.
        rnd = random.Random(7)
        n = 70000
        ids = list(range(n))
        rnd.shuffle(ids)
        rows = []
        for i in ids:
            rows.append(line({"handle": "88.100.%d/P-%06d" % (1 + i % 3, i), "values": [
                {"index": 1, "type": "URL", "data": "https://example.com/%d" % i},
                {"index": 2, "type": "EMAIL", "data": "qa%d@example.com" % (i % 97), "ttl": 3600}]}))
        rows.append(line({"handle": "88.100.1/P-000003", "values": [
            {"index": 1, "type": "URL", "data": "last wins"}]}))
        rows.insert(n // 2, '{"handle":"88.100.1/broken"')
        path = self.write("many.jsonl", "\n".join(rows) + "\n")
        r = run("load", "--data", self.data, "--home", "88.100.2", "--home", "0.NA/88.100.3",
                path)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("%s:%d: invalid JSON" % (path, n // 2 + 1), r.stderr.decode())
        self.assertIn("loaded %d identifiers (1 errors)" % n, r.stdout.decode())
        srv = self.serve()
        for i in (0, 1, 2, 4, 31337, n - 1):
            h = "88.100.%d/P-%06d" % (1 + i % 3, i)
            rc, j = srv.resolve(h)
            self.assertEqual(rc, 0, h)
            self.assertEqual(j["values"][0]["data"]["value"], "https://example.com/%d" % i)
        self.assertEqual(srv.resolve("88.100.1/P-000003")[1]["values"][0]["data"]["value"],
                         "last wins")

    def test_several_runs(self):
        # --memory 1 sorts and writes ~1 MiB at a time: many runs, the later
        # ones inserted between the keys of the earlier ones.
        rnd = random.Random(11)
        ids = list(range(20000))
        rnd.shuffle(ids)
        rows = [line({"handle": "88.100.1/R-%05d" % i, "values": [
            {"index": 1, "type": "URL", "data": "u%d" % i}]}) for i in ids]
        rows.append(line({"handle": "88.100.1/R-%05d" % ids[0], "values": [
            {"index": 1, "type": "URL", "data": "last wins"}]}))
        text = "\n".join(rows) + "\n"
        for how in ("file", "stdin"):
            with self.subTest(how=how):
                self.data = os.path.join(self.dir, how)
                if how == "file":
                    r = run("load", "--data", self.data, "--memory", "1",
                            self.write("runs.jsonl", text))
                else:
                    r = run("load", "--data", self.data, "--memory", "1", "-",
                            stdin=text.encode())
                self.assertEqual(r.returncode, 0, r.stderr)
                srv = self.serve()
                for i in ids[1:12] + [0, 19999]:
                    rc, j = srv.resolve("88.100.1/R-%05d" % i)
                    self.assertEqual(rc, 0, i)
                    self.assertEqual(j["values"][0]["data"]["value"], "u%d" % i)
                rc, j = srv.resolve("88.100.1/R-%05d" % ids[0])
                self.assertEqual(j["values"][0]["data"]["value"], "last wins")

    def test_usage(self):
        r = run("load", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"the last line wins", r.stdout)
        self.assertIn(b"--no-overwrite", r.stdout)
        self.assertEqual(run("load", "x.jsonl").returncode, 2)  # no --data
        self.assertEqual(run("load", "--data", self.data).returncode, 2)  # no FILE
        r = run("load", "--data", self.data, os.path.join(self.dir, "missing.jsonl"))
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"missing.jsonl", r.stderr)
        r = run("load", "--data", self.data, "--home", "88/x", "-", stdin=b"")
        self.assertEqual(r.returncode, 2)
        # Numbers are refused by name, a negative one too (strtoull takes "-1" and " -1").
        for opt, val in (("--memory", "-1"), ("--memory", "0"), ("--max-record-bytes", "-1"),
                         ("--abort-after", "-1"), ("--abort-after", " -1"),
                         ("--txn-kib", "x")):
            r = run("load", "--data", self.data, opt, val, "-", stdin=b"")
            self.assertEqual(r.returncode, 2, (opt, val))
            self.assertIn(opt.encode() + b" '" + val.encode() + b"'", r.stderr)
        # An empty input is fine.
        r = run("load", "--data", self.data, "-", stdin=b"")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b"loaded 0 identifiers (0 errors)", r.stdout)


if __name__ == "__main__":
    unittest.main()
