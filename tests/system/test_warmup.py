"""The store's warm-up at start (`serve --warm`, docs/administration.md): it
reads the whole B-tree above its leaves and then the data file, in the
background; the node answers while it runs, and a shutdown stops it. Small
data (20,000 identifiers) with the warm-up paced (--warm-rate 1 MB/s) so that
it lasts seconds; every wait is bounded."""
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import DEADLINE  # noqa: E402
from idnlib import IDNODE, Node, parse_answer, request, udp_exchange

N = 20000


def records():
    for i in range(N):
        h = "88.100.1/WARM-%06d" % i
        yield {"handle": h, "values": [
            {"index": 1, "type": "URL", "data": "https://example.cn/%s?lot=%d" % (h, i * 7919)},
            {"index": 2, "type": "EMAIL", "data": "qa%d@plant.example.cn" % (i % 97)}]}


DONE = re.compile(r"store: warm-up \((\w+)\) (done|stopped): (\d+) of (\d+) branch pages "
                  r"in [0-9.]+ s, (\d+) MB read in ([0-9.]+) s")


def wait_for(node, pattern, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = pattern.search(node.output())
        if m:
            return m
        time.sleep(0.05)
    return None


class WarmupTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.recs = list(records())

    def start(self, *args):
        # (100 lookups at once: over the default UDP rate limit per source)
        node = Node(records=self.recs, threads=1,
                    extra_args=["--udp-rate-limit", "100000"] + list(args))
        self.addCleanup(node.close)
        return node

    def test_serves_while_warming_then_finishes(self):
        node = self.start("--warm", "all", "--warm-rate", "1")
        # (written by the warm-up thread: it may come after the first answers)
        self.assertIsNotNone(wait_for(node, re.compile(r"store: warm-up \(all\) started"),
                                      DEADLINE), node.output())
        # answers come while the warm-up runs: every one of 100 lookups
        # succeeds, and the warm-up has not ended when they are done
        t0 = time.time()
        for i in range(0, N, N // 100):
            rc = parse_answer(udp_exchange(node.port, request("88.100.1/WARM-%06d" % i),
                                           timeout=2)[0])[2]
            self.assertEqual(rc, 1, i)
        took = time.time() - t0
        self.assertIsNone(DONE.search(node.output()),
                          "the warm-up ended before the lookups (%.2f s)" % took)
        # it ends by itself: the whole tree, then the file at ~1 MB/s
        m = wait_for(node, DONE, 60)
        self.assertIsNotNone(m, node.output())
        mode, how, read, total, mb, secs = m.groups()
        self.assertEqual((mode, how), ("all", "done"))
        self.assertGreater(int(total), 1)
        self.assertEqual(read, total)
        size = os.path.getsize(os.path.join(node.data, "data.mdb"))
        self.assertGreaterEqual(int(mb), size // (1 << 20) - 1)
        # paced: at 1 MB/s the file took about its size in MB seconds
        self.assertGreater(float(secs), 0.5 * size / 1e6)
        self.assertTrue(node.alive())

    def test_tree_only_reads_the_branch_pages(self):
        node = self.start("--warm", "tree")
        m = wait_for(node, DONE, DEADLINE)
        self.assertIsNotNone(m, node.output())
        mode, how, read, total, mb, _ = m.groups()
        self.assertEqual((mode, how, mb), ("tree", "done", "0"))
        self.assertEqual(read, total)
        self.assertGreater(int(total), 1)

    def test_shutdown_stops_it(self):
        node = self.start("--warm", "file", "--warm-rate", "1")
        self.assertIsNotNone(wait_for(node, re.compile(r"store: warm-up \(file\) started"),
                                      DEADLINE), node.output())
        time.sleep(0.3)
        t0 = time.time()
        self.assertEqual(node.stop(), 0)
        took = time.time() - t0
        print("\nstopped while warming in %.2f s" % took, file=sys.stderr)
        # "stopped", not "done": the stop cut the paced read of the file short
        # rather than waiting it out (how fast it stops is no test: on a
        # loaded machine the node may be off the CPU for seconds).
        m = DONE.search(node.output())
        self.assertIsNotNone(m, node.output())
        self.assertEqual(m.group(2), "stopped")

    def test_off_and_a_bad_value(self):
        node = self.start("--warm", "off")
        rc = parse_answer(udp_exchange(node.port, request("88.100.1/WARM-000001"), timeout=2)[0])[2]
        self.assertEqual(rc, 1)
        self.assertNotIn("warm-up", node.output())
        r = subprocess.run([IDNODE, "serve", "--data", node.data, "--warm", "lukewarm"],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("warm", r.stderr)


if __name__ == "__main__":
    unittest.main()
