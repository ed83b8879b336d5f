#!/usr/bin/env python3
"""bench/site_split: the split of a multi-server site that docs/scale.md cites.

Its counts are checked against an independent computation of the Handle
protocol's server selection (MD5 of the upper-cased hashed part, the last 4
bytes as a signed big-endian int, its magnitude modulo the server count: the
reference's SiteInfo.determineServerNum), so a tool that counted wrongly, or a
change to idnode's selection, fails here.
"""
import hashlib
import os
import re
import subprocess
import unittest

BUILD = os.environ.get("IDN_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
TOOL = os.path.join(BUILD, "bench", "site_split")
KINDS = ["MOTOR", "PUMP", "VALVE", "GEAR", "SENSOR", "CABLE"]


def server_of(handle, servers, hashed="all"):
    prefix, slash, suffix = handle.partition("/")
    part = {"all": handle, "prefix": prefix if slash else "0.NA",
            "suffix": suffix if slash else handle}[hashed]
    up = bytes(b - 32 if 0x61 <= b <= 0x7A else b for b in part.encode())
    v = int.from_bytes(hashlib.md5(up).digest()[12:16], "big", signed=True)
    return abs(v) % servers


def handles(n, base="88.100.1", k=1):
    head, _, last = base.rpartition(".")
    for i in range(n):
        j = i % k
        pfx = base if j == 0 else "%s.%d" % (head, int(last) + j)
        yield "%s/%s-2026-%06d" % (pfx, KINDS[i % len(KINDS)], i)


def run(*args):
    return subprocess.run([TOOL, *args], capture_output=True, text=True, timeout=120)


def lines(out):
    res = {}
    for ln in out.splitlines():
        f = dict(re.findall(r"(\w+)=(\S+)", ln))
        res[int(f["servers"])] = f
    return res


class SiteSplit(unittest.TestCase):
    def test_counts_match_the_protocols_hash(self):
        n = 20000
        for hashed, k in (("all", 1), ("suffix", 1), ("prefix", 50)):
            p = run("-n", str(n), "-k", str(k), "-H", hashed, "-c", "2", "3", "4", "8", "16")
            self.assertEqual(p.returncode, 0, p.stderr)
            got = lines(p.stdout)
            for servers in (2, 3, 4, 8, 16):
                want = [0] * servers
                for h in handles(n, k=k):
                    want[server_of(h, servers, hashed)] += 1
                counts = [int(c) for c in got[servers]["counts"].split(",")]
                self.assertEqual(counts, want, (hashed, servers))
                self.assertEqual(int(got[servers]["min"]), min(want))
                self.assertEqual(int(got[servers]["max"]), max(want))

    def test_whole_handle_hash_is_even(self):
        p = run("-n", "200000", "-m", "5")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        got = lines(p.stdout)
        self.assertEqual(sorted(got), [2, 4, 8, 16])
        for servers, f in got.items():
            self.assertLess(float(f["max_over_min"]), 1.05, f)

    def test_one_prefix_hashed_by_prefix_fails_the_bound(self):
        p = run("-n", "1000", "-H", "prefix", "-m", "5", "4")
        self.assertEqual(p.returncode, 1)
        self.assertIn("4 servers: a share is", p.stderr)
        self.assertEqual(lines(p.stdout)[4]["max"], "1000")

    def test_bad_arguments(self):
        p = run("-H", "md5")
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage", p.stderr)
        p = run("0")
        self.assertEqual(p.returncode, 2)
        self.assertIn("a server count is 1 to 4096, not 0", p.stderr)
        p = run("-n", "-5")
        self.assertEqual(p.returncode, 2)
        self.assertIn("must be positive", p.stderr)


if __name__ == "__main__":
    unittest.main()
