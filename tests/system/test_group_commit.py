"""Group commit with the real binary: many authenticated creates in flight at
once (build/bench/hdladmin: several persistent connections, several creates
in flight on each) against `idnode serve`.

- Every create acknowledged is in the store (that the grouping pays is
  shown by bench/run_admin.sh: group commit against one commit per create).
- Creates that fail (the identifier exists) in the same groups as creates
  that succeed: exactly the good ones are kept, the others change nothing.
- A node killed with SIGKILL under that load and restarted on the same data
  has every create it had acknowledged (each was durable before its answer).
Every wait is bounded."""
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import DEADLINE  # noqa: E402
from idnlib import IDNODE, Node
from idnlib import admin_data  # noqa: E402

HDLADMIN = os.path.join(os.path.dirname(IDNODE), "bench", "hdladmin")
SECRET = b"group-commit-secret"
ID = "300:0.NA/88.100.1"


PREFIX_RECORD = {"handle": "0.NA/88.100.1", "values": [
    {"index": 100, "type": "HS_ADMIN",
     "data": {"format": "hex", "value": admin_data(0x0FFF, 300, "0.NA/88.100.1")}},
    {"index": 300, "type": "HS_SECKEY", "perms": 0x0c,
     "data": {"format": "hex", "value": SECRET.hex()}}]}


def stored_handles(data_dir):
    """Handles of a store, from `idnode dump` (a snapshot; the node may serve)."""
    out = subprocess.run([IDNODE, "dump", "--data", data_dir], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    import json
    return {json.loads(l).get("handle") for l in out.stdout.splitlines() if l.strip()} - {None}


class GroupCommitTest(unittest.TestCase):
    def setUp(self):
        if not os.access(HDLADMIN, os.X_OK):
            self.fail("missing %s (built with the project)" % HDLADMIN)
        self.node = Node(records=[PREFIX_RECORD], homes=("88.100.1", "0.NA"))
        self.secret = os.path.join(self.node.dir, "secret")
        with open(self.secret, "wb") as f:
            f.write(SECRET)
        self.server = "127.0.0.1:%d" % self.node.port

    def tearDown(self):
        self.node.close()

    def hdladmin(self, tag, count, clients=8, window=8, log=None, wait=True):
        args = [HDLADMIN, "--server", self.server, "--id", ID, "--secret-file", self.secret,
                "--prefix", "88.100.1", "--clients", str(clients), "--window", str(window),
                "--count", str(count), "--tag", tag, "-q"]
        if log:
            args += ["--log", log]
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if not wait:
            return p
        out, err = p.communicate(timeout=120)
        return p.returncode, out, err

    @staticmethod
    def result(out):
        line = [l for l in out.splitlines() if l.startswith("RESULT")][0]
        return {k: float(v) for k, v in (f.split("=") for f in line.split()[1:])}

    def test_concurrent_creates_and_failures(self):
        rc, out, err = self.hdladmin("first", 800)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(self.result(out)["ok"], 800)
        # The same identifiers again (all refused: they exist) while 800 new
        # ones are created: failures and successes share groups.
        again = self.hdladmin("first", 800, wait=False)
        rc, out, err = self.hdladmin("second", 800)
        a_out, a_err = again.communicate(timeout=120)
        self.assertEqual(rc, 0, out + err)
        self.assertNotEqual(again.returncode, 0)
        self.assertEqual(self.result(a_out)["ok"], 0, a_out + a_err)
        self.assertEqual(self.result(a_out)["errors"], 800)
        self.assertIn("create refused: rc 101", a_err)  # HANDLE_ALREADY_EXISTS
        handles = stored_handles(self.node.data)
        for tag in ("first", "second"):
            got = {h for h in handles if h.startswith("88.100.1/%s-" % tag)}
            want = {"88.100.1/%s-%d-%d" % (tag, c, k) for c in range(8) for k in range(100)}
            self.assertEqual(got, want)
        # A failed create left the record as it was.
        res = self.node.resolve("88.100.1/first-3-7", "--tcp")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("https://example.com/p/first-3-7", res.stdout)

    def test_kill_under_load_loses_no_acknowledged_create(self):
        log = os.path.join(self.node.dir, "acked.log")
        load = self.hdladmin("crash", 1000000, log=log, wait=False)
        # Let writes flow, then kill the node in the middle of them.
        deadline = time.time() + DEADLINE
        while time.time() < deadline:
            time.sleep(0.2)
            if os.path.exists(log) and os.path.getsize(log) > 200 * 40:
                break
        time.sleep(0.5)
        self.node.proc.send_signal(signal.SIGKILL)
        self.node.proc.wait(10)
        load.communicate(timeout=60)
        self.assertNotEqual(load.returncode, 0)  # it lost its server
        acked = set()
        with open(log) as f:
            for line in f:
                handle, rcode = line.split()
                if rcode == "1":
                    acked.add(handle)
        self.assertGreater(len(acked), 200)
        # What is on disk after the crash: every acknowledged create.
        handles = stored_handles(self.node.data)
        missing = acked - handles
        self.assertEqual(missing, set(), "%d acknowledged creates lost" % len(missing))
        # The node restarts on that data and serves them.
        self.node.proc = subprocess.Popen(self.node.proc.args, stdout=self.node.log,
                                          stderr=subprocess.STDOUT)
        self.node.wait_ready()
        some = sorted(acked)[-1]
        res = self.node.resolve(some, "--tcp")
        self.assertEqual(res.returncode, 0, res.stderr)


if __name__ == "__main__":
    unittest.main()
