"""The operator findings of issue 16 ("found by a new operator"), each
reproduced, then held:

1. `dump` and `verify` on a mistyped --data path made an empty store there
   and reported success: now "no store at PATH", exit 2, nothing created
   (restore, load and serve still create stores).
2. `serve` with no --home on a store that homes nothing started silently and
   answered 301 to everything: now it refuses, saying what to add; with a
   server administrator (who may home prefixes later) it starts with a
   warning; a store that already homes a prefix needs no --home.
3. The demo's failure message named a log it had already deleted: now a
   failed demo keeps its directory, names a log that exists and shows its end.
4. TCP client errors said "network error": now they say what happened and to
   whom (refused, reset by peer, timed out after N ms).
"""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import DEADLINE  # noqa: E402
from idnlib import IDNODE, free_port, free_port_run, request, udp_exchange  # noqa: E402


def idn(*args, timeout=30, env=None):
    return subprocess.run([IDNODE] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=env)


class Tmp(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="idn-ops-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write_jsonl(self, name, lines):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")
        return path


RECORD = {"handle": "88.100.1/OPS", "values": [
    {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://ops.example"}}]}


class NoStoreTest(Tmp):
    """Finding 1: reading commands never make a store."""

    def test_dump_and_verify_refuse_a_path_with_no_store(self):
        missing = os.path.join(self.tmp, "datta")  # a typo of "data"
        for cmd in ("dump", "verify"):
            r = idn(cmd, "--data", missing)
            self.assertEqual(r.returncode, 2, cmd + ": " + r.stdout + r.stderr)
            self.assertIn("no store at " + missing, r.stderr)
            self.assertFalse(os.path.exists(missing), cmd + " made " + missing)
        # A directory that exists but holds no store: the same, and still empty after.
        empty = os.path.join(self.tmp, "empty")
        os.mkdir(empty)
        for cmd in ("dump", "verify"):
            r = idn(cmd, "--data", empty)
            self.assertEqual(r.returncode, 2, cmd + ": " + r.stdout + r.stderr)
            self.assertIn("no store at " + empty, r.stderr)
            self.assertEqual(os.listdir(empty), [], cmd + " wrote into " + empty)

    def test_commands_that_make_stores_still_do(self):
        src = self.write_jsonl("in.jsonl", [RECORD])
        data = os.path.join(self.tmp, "loaded")
        r = idn("load", "--data", data, "-q", src)  # load makes a new store
        self.assertEqual(r.returncode, 0, r.stderr)
        r = idn("verify", "--data", data)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 records, 0 bad", r.stdout)
        dump = os.path.join(self.tmp, "dump.jsonl")
        r = idn("dump", "--data", data, "-o", dump)
        self.assertEqual(r.returncode, 0, r.stderr)
        restored = os.path.join(self.tmp, "restored")  # restore makes a new store
        r = idn("restore", "--data", restored, dump)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = idn("dump", "--data", restored)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("88.100.1/OPS", r.stdout)


class NothingToServeTest(Tmp):
    """Finding 2: a node with nothing to serve does not start silently."""

    def serve(self, *args):
        port = free_port()
        log = open(os.path.join(self.tmp, "serve-%d.log" % port), "w+")
        p = subprocess.Popen([IDNODE, "serve", "--listen", "127.0.0.1:%d" % port,
                              "--threads", "1", *args], stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(log.close)
        self.addCleanup(lambda: (p.poll() is None and p.kill(), p.wait(10)))
        return p, port, log

    def wait_ready(self, p, port, log):
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            if p.poll() is not None:
                log.seek(0)
                self.fail("serve exited %d: %s" % (p.returncode, log.read()))
            try:
                return udp_exchange(port, request("88.100.1/OPS"), timeout=0.1)[0]
            except (TimeoutError, OSError):
                time.sleep(0.05)
        self.fail("serve not ready")

    def test_refuses_to_start_with_nothing_to_serve(self):
        data = os.path.join(self.tmp, "fresh")
        r = subprocess.run([IDNODE, "serve", "--data", data, "--listen",
                            "127.0.0.1:%d" % free_port(), "--threads", "1"],
                           capture_output=True, text=True, timeout=20)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("nothing to serve", r.stderr)
        for hint in ("--home PREFIX", "--recursive", "--mirror-of", "--server-admin"):
            self.assertIn(hint, r.stderr)

    def test_server_admin_may_home_later_warned(self):
        p, port, log = self.serve("--data", os.path.join(self.tmp, "adm"),
                                  "--server-admin", "300:0.NA/88.100.1")
        ans = self.wait_ready(p, port, log)
        self.assertEqual(struct.unpack(">I", ans[24:28])[0], 301)  # not homed, as warned
        # The listeners answer before the start's checks have written their
        # warnings: the line comes soon after, later on a loaded machine. (Read
        # through another descriptor: seeking the child's shared one would move
        # its next write back over the log.)
        deadline, text = time.monotonic() + DEADLINE, ""
        while "warning: no prefix is homed" not in text and time.monotonic() < deadline:
            time.sleep(0.05)
            with open(log.name) as f:
                text = f.read()
        self.assertIn("warning: no prefix is homed", text)

    def test_store_that_homes_a_prefix_needs_no_home_flag(self):
        data = os.path.join(self.tmp, "homed")
        # A dump's home lines home the prefix in the store it is restored into.
        src = self.write_jsonl("in.jsonl", [{"home": "88.100.1"}, RECORD])
        r = idn("restore", "--data", data, src)
        self.assertEqual(r.returncode, 0, r.stderr)
        p, port, log = self.serve("--data", data)
        ans = self.wait_ready(p, port, log)
        self.assertEqual(struct.unpack(">I", ans[24:28])[0], 1)  # found
        log.seek(0)
        self.assertNotIn("warning", log.read())


class DemoLogTest(Tmp):
    """Finding 3: a failed demo names a log that exists."""

    def test_failed_demo_keeps_the_log_it_names(self):
        base = free_port_run(7)
        self.assertIsNotNone(base, "no 7 free ports in a row")
        # The recursive node's port is taken (no SO_REUSEPORT): that node fails to start.
        blockers = []
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            s.bind(("127.0.0.1", base))
            blockers.append(s)
        blockers[0].listen(1)
        self.addCleanup(lambda: [s.close() for s in blockers])
        env = dict(os.environ, TMPDIR=self.tmp)
        t0 = time.time()
        r = idn("demo", "--base-port", str(base), "--scale", "1", timeout=120, env=env)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        named = [w.rstrip(";,") for w in r.stderr.split() if w.endswith("serve.log")]
        self.assertTrue(named, r.stderr)
        for path in named:
            self.assertTrue(os.path.isfile(path), "named %s, which is gone:\n%s" %
                            (path, r.stderr))
        self.assertIn("/recursive/serve.log", named[0])
        with open(named[0]) as f:
            first = f.readline().strip()
        self.assertTrue(first, "the log is empty")
        self.assertIn(first, r.stderr)  # the log's end is shown
        self.assertIn("kept", r.stderr)
        # Found as soon as the node exits, not after the 15 s readiness wait.
        self.assertLess(time.time() - t0, 60)


class Silent(threading.Thread):
    """A TCP server that accepts and then does `what` to each connection."""

    def __init__(self, what, conns):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.what, self.conns, self.held = what, conns, []
        self.client_closed = threading.Event()
        self.start()

    def run(self):
        for _ in range(self.conns):  # bounded: the connections the test makes
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.settimeout(5)
            try:
                c.recv(4096)
            except OSError:
                pass
            if self.what == "reset":
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
            else:
                self.held.append(c)  # never answers, never closes first
                c.settimeout(DEADLINE)
                try:  # until the client closes its end (b"")
                    while c.recv(4096):
                        pass
                    self.client_closed.set()
                except OSError:
                    pass

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


class ClientErrorTest(Tmp):
    """Finding 4: the CLI says what happened to the connection, and to whom."""

    def test_refused(self):
        s = socket.socket()  # bound, not listening: connections are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        self.addCleanup(s.close)
        r = idn("resolve", "88.100.1/x", "--tcp", "--server", "127.0.0.1:%d" % port)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("88.100.1/x: connection to 127.0.0.1:%d refused" % port, r.stderr)
        self.assertNotIn("network error", r.stderr)
        key = os.path.join(self.tmp, "k.pem")
        self.assertEqual(idn("keygen", "--type", "rsa", "--out", key, timeout=60).returncode, 0)
        r = idn("create", "88.100.1/y", "--value", "1:URL:https://y", "--server",
                "127.0.0.1:%d" % port, "--id", "300:0.NA/88.100.1", "--key", key)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("88.100.1/y: connection to 127.0.0.1:%d refused" % port, r.stderr)

    def test_reset(self):
        srv = Silent("reset", 1)
        self.addCleanup(srv.close)
        r = idn("resolve", "88.100.1/x", "--tcp", "--server", "127.0.0.1:%d" % srv.port)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("88.100.1/x: connection to 127.0.0.1:%d reset by peer" % srv.port,
                      r.stderr)

    def test_timed_out(self):
        srv = Silent("hold", 1)
        self.addCleanup(srv.close)
        t0 = time.monotonic()
        r = idn("resolve", "88.100.1/x", "--tcp", "--timeout", "700", "--server",
                "127.0.0.1:%d" % srv.port, timeout=DEADLINE)
        took = time.monotonic() - t0
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("88.100.1/x: connection to 127.0.0.1:%d timed out after 700 ms"
                      % srv.port, r.stderr)
        # it gave up by itself: the server, which never closes first, saw the
        # client close; and not before its timeout (a lower bound only: load
        # can only lengthen it)
        self.assertTrue(srv.client_closed.wait(DEADLINE), "the client never closed")
        self.assertGreaterEqual(took, 0.7)

    def test_udp_refused_and_silent(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never answers
        s.bind(("127.0.0.1", 0))
        silent = s.getsockname()[1]
        self.addCleanup(s.close)
        t0 = time.monotonic()
        r = idn("resolve", "88.100.1/x", "--udp", "--timeout", "800", "--server",
                "127.0.0.1:%d" % silent, timeout=DEADLINE)
        took = time.monotonic() - t0
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"88\.100\.1/x: no answer from 127\.0\.0\.1:%d over UDP "
                         r"within [0-9]+ ms" % silent)
        self.assertGreater(took, 0.7)
        s.close()  # now nothing listens there: the host says so (ICMP port unreachable)
        r = idn("resolve", "88.100.1/x", "--udp", "--timeout", "800", "--server",
                "127.0.0.1:%d" % silent)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("88.100.1/x: nothing listens on UDP at 127.0.0.1:%d" % silent, r.stderr)


if __name__ == "__main__":
    unittest.main()
