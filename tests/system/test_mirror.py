"""Primary -> mirror replication with the real binary on loopback: a mirror
authenticates as a server administrator of the primary (RSA key from
`idnode keygen`), bootstraps 20,000 identifiers, follows writes made on the
primary, survives SIGKILL mid-bootstrap and mid-stream (restarted on the same
data directory, it resumes and converges), and refuses writes sent to it.
Convergence is checked by comparing `idnode dump` of both stores line by line
(dump reads a snapshot while the nodes serve). Every wait is bounded."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import DEADLINE  # noqa: E402
from idnlib import IDNODE, Node, free_port, request, udp_exchange, parse_answer
from idnlib import admin_prefix, keygen  # noqa: E402

N_IDS = 20000
ADMIN = "300:0.NA/88.100.1"


def idn(*args, timeout=60):
    return subprocess.run([IDNODE] + list(args), capture_output=True, text=True, timeout=timeout)


class Mirror:
    """`idnode serve --mirror-of` on a data directory that survives restarts."""

    def __init__(self, data, primary_port, key, log, config=None):
        self.data, self.port = data, free_port()
        # Small pages: the bootstrap of 20,000 identifiers takes a few hundred
        # exchanges, long enough to be killed in the middle.
        args = [IDNODE, "serve", "--data", data, "--threads", "1",
                "--listen", "127.0.0.1:%d" % self.port,
                "--mirror-page-bytes", "8192"]
        # The same settings from the INI file (config) or as flags.
        args += ["-c", config] if config else [
            "--mirror-of", "127.0.0.1:%d" % primary_port, "--id", ADMIN, "--key", key]
        self.logpath = log
        self.log = open(log, "a")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + DEADLINE
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mirror exited: " + self.output())
            try:
                udp_exchange(self.port, request("88.100.1/__ready__"), timeout=0.2)
                return
            except (TimeoutError, OSError):
                time.sleep(0.05)
        raise RuntimeError("mirror not ready: " + self.output())

    def output(self):
        with open(self.logpath) as f:
            return f.read()

    def resolves(self, handle):
        try:
            ans = udp_exchange(self.port, request(handle), timeout=0.5)[0]
        except (TimeoutError, OSError):
            return False
        return parse_answer(ans)[2] == 1

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
        self.log.close()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(DEADLINE)
        finally:
            self.kill()
        return rc


class MirrorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="idn-mirror-")
        cls.key = os.path.join(cls.tmp, "repl.pem")
        cls.identity = [admin_prefix(keygen(cls.key))]
        records = cls.identity + [{"handle": "88.100.1/ID-%05d" % i, "values": [
            {"index": 1, "type": "URL", "data": "https://example.com/item/%05d" % i},
            {"index": 2, "type": "EMAIL", "data": "batch-%d@example.com" % (i % 97)}]}
            for i in range(N_IDS)]
        cls.primary = Node(records=records, homes=("88.100.1", "0.NA"), threads=2,
                           extra_args=["--server-admin", ADMIN])
        cls.pserver = "127.0.0.1:%d" % cls.primary.port

    @classmethod
    def tearDownClass(cls):
        cls.primary.stop()
        cls.primary.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.mdir = tempfile.mkdtemp(prefix="m-", dir=self.tmp)
        self.mdata = os.path.join(self.mdir, "data")
        self.mlog = os.path.join(self.mdir, "serve.log")
        self.mirror = None

    def tearDown(self):
        if self.mirror:
            self.mirror.kill()

    def start_mirror(self, config=None):
        self.mirror = Mirror(self.mdata, self.primary.port, self.key, self.mlog, config)
        return self.mirror

    def admin(self, cmd, handle, *more, server=None):
        return idn(cmd, handle, "--server", server or self.pserver, "--id", ADMIN,
                   "--key", self.key, *more)

    def dump(self, data):
        out = os.path.join(self.mdir, "dump-%d.jsonl" % time.monotonic_ns())
        r = idn("dump", "--data", data, "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            lines = f.read().splitlines()
        os.unlink(out)
        return lines

    def assert_converges(self, timeout=20):
        """The mirror's dump equals the primary's, record by record, within timeout."""
        deadline = time.time() + timeout
        while True:
            want = self.dump(self.primary.data)
            got = self.dump(self.mdata)
            if got == want:
                return want
            if time.time() > deadline:
                missing = sorted(set(want) - set(got))[:3]
                extra = sorted(set(got) - set(want))[:3]
                self.fail("mirror did not converge: %d vs %d records; missing %s; extra %s\n%s"
                          % (len(got), len(want), missing, extra, self.mirror.output()[-2000:]))
            time.sleep(0.3)

    def test_bootstrap_kill_resume_stream_kill_resume(self):
        # Killed mid-bootstrap: as soon as the first page is in, before the last.
        m = self.start_mirror()
        deadline = time.time() + DEADLINE
        while not m.resolves("88.100.1/ID-00000") and time.time() < deadline:
            time.sleep(0.005)
        last_in = m.resolves("88.100.1/ID-%05d" % (N_IDS - 1))
        m.kill()
        self.assertFalse(last_in, "bootstrap ended before the kill: nothing was tested")
        partial = self.dump(self.mdata)
        self.assertGreater(len(partial), 0)
        self.assertLess(len(partial), N_IDS + 1)

        # Restarted on the same store: it resumes and converges.
        self.start_mirror()
        self.assert_converges()

        # Writes on the primary appear on the mirror.
        h = "88.100.1/new-1"
        r = self.admin("create", h, "--value", "1:URL:https://example.com/new-1")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.admin("add", "88.100.1/ID-00007", "--value", "3:EMAIL:added@example.com")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.admin("delete", "88.100.1/ID-00008")
        self.assertEqual(r.returncode, 0, r.stderr)
        deadline = time.time() + DEADLINE
        while not self.mirror.resolves(h) and time.time() < deadline:
            time.sleep(0.05)
        self.assertTrue(self.mirror.resolves(h))
        self.assert_converges()

        # Killed mid-stream while the primary takes writes; restarted, it converges.
        errors = []

        def writer():
            for i in range(40):
                r = self.admin("create", "88.100.1/stream-%d" % i,
                               "--value", "1:URL:https://example.com/s/%d" % i)
                if r.returncode:
                    errors.append(r.stderr)
                if i % 5 == 0:
                    self.admin("delete", "88.100.1/ID-%05d" % (100 + i))

        t = threading.Thread(target=writer)
        t.start()
        try:
            deadline = time.time() + DEADLINE
            while not self.mirror.resolves("88.100.1/stream-10") and time.time() < deadline:
                time.sleep(0.01)
            self.mirror.kill()
            self.start_mirror()
        finally:
            t.join(60)
        self.assertEqual(errors, [])
        self.assert_converges()
        self.assertTrue(self.mirror.resolves("88.100.1/stream-39"))
        self.assertEqual(self.mirror.stop(), 0)
        log = self.mirror.output()
        self.assertIn("bootstrap complete at the primary's sequence", log)
        self.assertRegex(log, r"mirror of 127.0.0.1:\d+: \w+, streaming, primary at \d+, lag 0 "
                              r"transactions, 0 s")

    def test_mirror_refuses_writes(self):
        ini = os.path.join(self.mdir, "mirror.ini")
        with open(ini, "w") as f:
            f.write("[server]\nmirror_of = 127.0.0.1:%d\nmirror_id = %s\nmirror_key = %s\n"
                    % (self.primary.port, ADMIN, self.key))
        m = self.start_mirror(config=ini)
        # It replicates (configured from the file): the identity record arrives.
        deadline = time.time() + DEADLINE
        while not m.resolves("0.NA/88.100.1") and time.time() < deadline:
            time.sleep(0.05)
        self.assertTrue(m.resolves("0.NA/88.100.1"))
        r = self.admin("create", "88.100.1/on-mirror", "--value", "1:URL:https://x",
                       server="127.0.0.1:%d" % m.port)
        self.assertEqual(r.returncode, 1)
        self.assertIn("7", r.stderr)
        self.assertIn("mirror of 127.0.0.1:%d; send writes there" % self.primary.port, r.stderr)
        self.assertFalse(self.primary.resolve("88.100.1/on-mirror").returncode == 0)
        self.assertEqual(m.stop(), 0)

    def test_pruned_log_bootstraps_again(self):
        """A primary that keeps a tiny log: a mirror stopped while more was
        written than the log keeps finds its position pruned, copies the store
        again and converges."""
        shared = self.primary
        small = Node(records=self.identity, homes=("88.100.1", "0.NA"), threads=1,
                     extra_args=["--server-admin", ADMIN, "--log-max-bytes", "4096"])
        self.primary, self.pserver = small, "127.0.0.1:%d" % small.port
        try:
            for i in range(5):
                r = self.admin("create", "88.100.1/p-%d" % i, "--value", "1:URL:https://p/%d" % i)
                self.assertEqual(r.returncode, 0, r.stderr)
            self.start_mirror()
            self.assert_converges()
            self.assertEqual(self.mirror.stop(), 0)
            # Over 300 bytes of log each: 40 of them are far more than 4096 bytes.
            for i in range(5, 45):
                r = self.admin("create", "88.100.1/p-%d" % i,
                               "--value", "1:URL:https://p/%d/%s" % (i, "x" * 300))
                self.assertEqual(r.returncode, 0, r.stderr)
            self.start_mirror()
            self.assert_converges()
            self.assertIn("bootstrapping again", self.mirror.output())
            self.assertEqual(self.mirror.stop(), 0)
        finally:
            self.primary, self.pserver = shared, "127.0.0.1:%d" % shared.port
            small.stop()
            small.close()

    def test_primary_killed_under_write_load(self):
        """SIGKILL of the primary while writers create identifiers: restarted
        on the same data directory, it still holds every create it answered
        with success, and the mirror (which kept retrying meanwhile) ends up
        with the same records, compared line by line."""
        shared = self.primary
        port = free_port()
        p = Node(records=self.identity, homes=("88.100.1", "0.NA"), threads=2,
                 listen=["127.0.0.1:%d" % port], extra_args=["--server-admin", ADMIN])
        self.primary, self.pserver = p, "127.0.0.1:%d" % port
        serve_args = [IDNODE, "serve", "--data", p.data, "--threads", "2", "--home", "88.100.1",
                      "--home", "0.NA", "--listen", self.pserver, "--server-admin", ADMIN]
        acked, failed, stop = [], [], threading.Event()

        def writer(w):
            for i in range(100000):
                if stop.is_set():
                    return
                h = "88.100.1/load-%d-%05d" % (w, i)
                r = self.admin("create", h, "--value", "1:URL:https://example.com/l/%d/%d" % (w, i))
                (acked if r.returncode == 0 else failed).append(h)
                if r.returncode:
                    time.sleep(0.05)  # the primary is down: do not spin

        def wait_acked(n, timeout):
            deadline = time.time() + timeout
            while len(acked) < n and time.time() < deadline:
                time.sleep(0.02)
            self.assertGreaterEqual(len(acked), n, "writers stalled: %s" % failed[-3:])

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
        try:
            self.start_mirror()
            self.assert_converges()
            for t in threads:
                t.start()
            wait_acked(100, 60)
            p.proc.send_signal(signal.SIGKILL)
            p.proc.wait(5)
            before = len(acked)
            time.sleep(0.5)  # writers meet a dead primary; the mirror retries
            p.proc = subprocess.Popen(serve_args, stdout=p.log, stderr=subprocess.STDOUT)
            p.wait_ready()
            wait_acked(before + 100, 60)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        self.assertFalse(any(t.is_alive() for t in threads))
        self.assertGreater(len(failed), 0, "no write met the dead primary: nothing was tested")
        try:
            # Every acknowledged create survived the kill.
            lines = self.dump(p.data)
            held = {json.loads(line).get("handle") for line in lines}
            lost = [h for h in acked if h not in held]
            self.assertEqual(lost, [], "acknowledged creates lost by the kill")
            # The mirror converges to exactly that.
            self.assert_converges(timeout=40)
            self.assertEqual(self.mirror.stop(), 0)
        finally:
            self.primary, self.pserver = shared, "127.0.0.1:%d" % shared.port
            p.stop()
            p.close()

    def test_mirror_options_checked(self):
        r = idn("serve", "--data", self.mdata, "--listen", "127.0.0.1:%d" % free_port(),
                "--mirror-of", self.pserver)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--mirror-of needs", r.stderr)
        r = idn("serve", "--data", self.mdata, "--listen", "127.0.0.1:%d" % free_port(),
                "--mirror-of", self.pserver, "--id", "nocolon", "--key", self.key)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("expected INDEX:HANDLE", r.stderr)


if __name__ == "__main__":
    unittest.main()
