"""System test of the statistics' identifiers held across restarts of a real
`idnode serve` (docs/statistics.md): the first start counts them in the
store and saves the count; a restart with no record changed takes the saved
figures without a scan (the log says so) and shows the same held; records
added by `idnode load` while the node was down are counted again and show
the new figure; a prefix homed while down is counted alone."""
import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import IDNODE, Node  # noqa: E402

LINE = re.compile(r"identifiers held of (\d+) prefixes: (\d+) counted in the store, "
                  r"(\d+) as saved")


def records(prefix, names):
    return [{"handle": "%s/%s" % (prefix, h),
             "values": [{"index": 1, "type": "URL", "data": "https://held.example/" + h}]}
            for h in names]


class HeldTest(unittest.TestCase):
    def setUp(self):
        recs = (records("88.100.1", ["A%d" % i for i in range(30)]) +
                records("88.100.2", ["B%d" % i for i in range(5)]) +
                records("88.100.3", ["C%d" % i for i in range(4)]))
        self.node = Node(records=recs, homes=("88.100.1", "88.100.2"),
                         extra_args=("--stats-flush-s", "1"))
        self.starts = 1

    def tearDown(self):
        self.node.close()

    def counted(self, timeout=30.0):
        """(prefixes, scanned, saved) of this start's count (bounded wait)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = LINE.findall(self.node.output())
            if len(found) >= self.starts:
                return tuple(int(x) for x in found[self.starts - 1])
            time.sleep(0.1)
        self.fail("no count logged:\n" + self.node.output())

    def restart(self):
        n = self.node
        self.assertEqual(n.stop(signal.SIGTERM), 0, n.output())
        n.proc = subprocess.Popen(n.args, stdout=n.log, stderr=subprocess.STDOUT)
        n.wait_ready()
        self.starts += 1

    def held(self, prefix):
        """The prefix's held in today's row, read from the store after a stop."""
        self.assertEqual(self.node.stop(signal.SIGTERM), 0, self.node.output())
        out = subprocess.run([IDNODE, "stats", "--data", self.node.data, "--prefix", prefix,
                              "--format", "json"], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)[-1]["held"]

    def load(self, recs):
        path = os.path.join(self.node.dir, "more.jsonl")
        with open(path, "w") as f:
            for r in recs:
                f.write(json.dumps(r) + "\n")
        out = subprocess.run([IDNODE, "load", "--data", self.node.data, "-q", path],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_restarts(self):
        self.assertEqual(self.counted(), (2, 2, 0))
        self.assertEqual(self.held("88.100.1"), 30)
        # nothing changed while down: the saved figures, no scan
        self.restart()
        self.assertEqual(self.counted(), (2, 0, 2))
        self.assertEqual(self.held("88.100.1"), 30)
        self.assertEqual(self.held("88.100.2"), 5)
        # records loaded while down: counted again, the new figure
        self.load(records("88.100.1", ["N1", "N2", "N3"]))
        self.restart()
        self.assertEqual(self.counted(), (2, 2, 0))
        self.assertEqual(self.held("88.100.1"), 33)
        # a prefix homed while down (its records were there): counted alone
        self.node.args += ["--home", "88.100.3"]
        self.restart()
        self.assertEqual(self.counted(), (3, 1, 2))
        self.assertEqual(self.held("88.100.3"), 4)
        self.assertEqual(self.held("88.100.1"), 33)
        self.restart()
        self.assertEqual(self.counted(), (3, 0, 3))
        self.assertEqual(self.held("88.100.3"), 4)


if __name__ == "__main__":
    unittest.main()
