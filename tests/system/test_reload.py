"""SIGHUP reloads a running node (the units' ExecReload): the -c file and the
flags are read again; a certificate renewed in place and the quotas' defaults
take effect, a changed setting that needs a restart is named in the log, and a
file that does not parse, or a key that does not match its certificate,
changes nothing while the node serves on. SIGHUPs sent all through a node's
start neither kill it nor are lost: one that comes before it serves is held
and reloads once it does."""
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import DEADLINE, IDNODE, Node, free_port, parse_answer, request, udp_exchange  # noqa: E402

REC = {"handle": "88.100.1/r", "values": [{"index": 1, "type": "URL",
                                             "data": "https://example.com/r"}]}


def make_cert(cert, key, cn):
    out = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                          "2", "-subj", "/CN=" + cn, "-keyout", key, "-out", cert],
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr


def served_cn(port):
    """The CN of the certificate a new TLS connection gets."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s) as t:
            der = t.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der)
    out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem.encode(),
                         capture_output=True, timeout=30)
    return out.stdout.decode().strip().rsplit("=", 1)[1].strip()


class Reload(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="idn-reload-")
        d = self.tmp.name
        self.cert, self.key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        make_cert(self.cert, self.key, "first")
        self.conf = os.path.join(d, "node.conf")
        self.write_conf(quota=5, rate=200)
        self.https = free_port()
        self.node = Node(records=[REC], config=self.conf,
                         extra_args=["--https", "127.0.0.1:%d" % self.https])
        self.addCleanup(self.node.close)
        self.addCleanup(self.tmp.cleanup)

    def write_conf(self, quota, rate, extra=""):
        with open(self.conf, "w") as f:
            f.write("[server]\ntls_cert = %s\ntls_key = %s\nquota_daily_requests = %d\n"
                    "udp_rate_limit = %d\n%s" % (self.cert, self.key, quota, rate, extra))

    def hup(self, n):
        """SIGHUP, then the log once the n-th reload has ended (bounded wait)."""
        self.node.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + DEADLINE
        while time.time() < deadline:
            out = self.node.output()
            ends = out.count("idnode: reload: done") + out.count("do not parse: nothing changed")
            if ends >= n:
                return out
            time.sleep(0.05)
        self.fail("no end of reload %d in: %s" % (n, self.node.output()))

    def test_reload(self):
        self.assertEqual(served_cn(self.https), "first")
        # Nothing changed: the certificate is loaded again all the same.
        out = self.hup(1)
        self.assertIn("idnode: reload: done: 0 settings applied, 0 need a restart", out)
        # A renewed certificate at the same path, a new quota default, a new rate.
        make_cert(self.cert, self.key, "renewed")
        self.write_conf(quota=7, rate=300)
        out = self.hup(2)
        self.assertIn("idnode: reload: quota_daily_requests changed: applied", out)
        self.assertIn("idnode: reload: udp_rate_limit changed: takes effect at the next restart",
                      out)
        self.assertIn("idnode: reload: TLS certificate %s and key %s loaded" %
                      (self.cert, self.key), out)
        self.assertIn("idnode: reload: done: 1 setting applied, 1 needs a restart", out)
        self.assertEqual(served_cn(self.https), "renewed")
        # A file that does not parse: said, nothing changes.
        self.write_conf(quota=9, rate=300, extra="threads = lots\n")
        out = self.hup(3)
        self.assertIn("'lots' is not a number", out)
        self.assertIn("idnode: reload: the settings above do not parse: nothing changed", out)
        # A key that does not match the certificate: the running one stays.
        other_key = os.path.join(self.tmp.name, "other.pem")
        make_cert(os.path.join(self.tmp.name, "other-cert.pem"), other_key, "other")
        with open(other_key) as src, open(self.key, "w") as dst:
            dst.write(src.read())
        self.write_conf(quota=7, rate=300)
        out = self.hup(4)
        self.assertIn("the running certificate stays", out)
        self.assertEqual(served_cn(self.https), "renewed")
        self.assertTrue(self.node.alive())
        udp_exchange(self.node.port, request("88.100.1/r"))
        self.assertEqual(self.node.stop(), 0)


def sighup_blocked(pid):
    """Whether pid's own code runs and holds SIGHUP (bit 0 of SigBlk)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("SigBlk:"):
                    return int(line.split()[1], 16) & 1 == 1
    except OSError:
        pass
    return False


def serve_one_record(test, tmp, threads, env=None):
    """Loads 88.100.1/r into a store under tmp and starts `idnode serve` on
    it (log in tmp/serve.log; stopped at the test's cleanup): (proc, port,
    the log's path)."""
    data = os.path.join(tmp, "data")
    path = os.path.join(tmp, "in.jsonl")
    with open(path, "w") as f:
        f.write('{"handle": "88.100.1/r", "values": [{"index": 1, "type": "URL", '
                '"data": "https://example.com/r"}]}\n')
    out = subprocess.run([IDNODE, "load", "--data", data, "-q", path], capture_output=True,
                         text=True, timeout=120)
    test.assertEqual(out.returncode, 0, out.stderr)
    port = free_port()
    log = open(os.path.join(tmp, "serve.log"), "a")
    test.addCleanup(log.close)
    proc = subprocess.Popen([IDNODE, "serve", "--data", data, "--home", "88.100.1",
                             "--listen", "127.0.0.1:%d" % port, "--threads", str(threads)],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    test.addCleanup(proc.wait, 10)
    test.addCleanup(proc.kill)
    return proc, port, log.name


class HupWhileStarting(unittest.TestCase):
    """SIGHUP every 2 ms from the first instruction of idnode's own code until
    the node says it serves: it starts, serves, and reloads once for them.

    Before its own code runs (the kernel's exec and the dynamic loader, a few
    ms, tens on a loaded machine) no program can take a signal: the test
    starts once /proc shows SIGHUP blocked, which `idnode serve` does first."""

    def test_hup_from_start(self):
        tmp = tempfile.TemporaryDirectory(prefix="idn-hup-")
        self.addCleanup(tmp.cleanup)
        proc, port, log_path = serve_one_record(self, tmp.name, 2)

        def output():
            with open(log_path) as f:
                return f.read()

        deadline = time.monotonic() + DEADLINE
        while not sighup_blocked(proc.pid) and time.monotonic() < deadline:
            self.assertIsNone(proc.poll(), output())
            time.sleep(0.0005)
        sent = 0
        while sent < 15000 and time.monotonic() < deadline and "idnode: serving" not in output():
            if proc.poll() is not None:
                break
            proc.send_signal(signal.SIGHUP)
            sent += 1
            time.sleep(0.002)
        self.assertIsNone(proc.poll(), "exit %s after %d SIGHUPs: %s" % (proc.returncode, sent,
                                                                          output()))
        self.assertIn("idnode: serving", output())
        self.assertGreater(sent, 0)
        # It serves, and the SIGHUPs held while it started made one reload.
        _, _, rc, _, _ = parse_answer(udp_exchange(port, request("88.100.1/r"), timeout=5)[0])
        self.assertEqual(rc, 1)
        while time.monotonic() < deadline and "idnode: reload: done" not in output():
            time.sleep(0.05)
        text = output()
        print("\n%d SIGHUPs while starting" % sent, file=sys.stderr)
        self.assertIn("idnode: reload: still starting: held until the node serves", text)
        self.assertIn("idnode: reload: done", text)
        self.assertLess(text.index("idnode: serving"), text.rindex("idnode: reload: done"))
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(DEADLINE), 0, output())


class ServiceManagerNotify(unittest.TestCase):
    """With $NOTIFY_SOCKET (a Type=notify unit), the node says READY=1 once
    it answers, RELOADING=1 then READY=1 around a SIGHUP's reload, and
    STOPPING=1 when it stops: the datagrams systemd reads (sd_notify(3))."""

    def _next(self, sock, proc=None):
        """The next datagram; a node that exited meanwhile is named in the failure."""
        sock.settimeout(DEADLINE)
        try:
            return sock.recv(4096).decode()
        except TimeoutError:
            self.fail("no datagram in %g s; the node %s" % (DEADLINE,
                      ("runs" if proc is None or proc.poll() is None else
                       "exited %s" % proc.returncode)))

    def _cycle(self, sock, sock_path):
        tmp = tempfile.TemporaryDirectory(prefix="idn-notify-")
        self.addCleanup(tmp.cleanup)
        proc, port, log = serve_one_record(self, tmp.name, 1,
                                           dict(os.environ, NOTIFY_SOCKET=sock_path))
        self.assertEqual(self._next(sock, proc), "READY=1")
        # Ready means answering.
        _, _, rc, _, _ = parse_answer(udp_exchange(port, request("88.100.1/r"), timeout=5)[0])
        self.assertEqual(rc, 1)
        proc.send_signal(signal.SIGHUP)
        reloading = self._next(sock, proc)
        self.assertTrue(reloading.startswith("RELOADING=1\nMONOTONIC_USEC="), reloading)
        usec = int(reloading.split("MONOTONIC_USEC=")[1])
        self.assertLess(abs(usec - time.monotonic_ns() // 1000), 60 * 1000000)
        self.assertEqual(self._next(sock, proc), "READY=1")
        with open(log) as f:
            self.assertIn("idnode: reload: done", f.read())
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self._next(sock, proc), "STOPPING=1")
        self.assertEqual(proc.wait(DEADLINE), 0)

    def _path_socket(self):
        """A notify socket bound to a path in a new directory: (sock, path, dir)."""
        tmp = tempfile.TemporaryDirectory(prefix="idn-nsock-")
        self.addCleanup(tmp.cleanup)
        sock_path = os.path.join(tmp.name, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(sock_path)
        return sock, sock_path, tmp.name

    def test_path_socket(self):
        sock, sock_path, _ = self._path_socket()
        self._cycle(sock, sock_path)

    def test_abstract_socket(self):
        name = "idn-notify-%d-%d" % (os.getpid(), free_port())
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind("\0" + name)
        self._cycle(sock, "@" + name)

    def test_sigterm_while_announcing(self):
        """A SIGTERM sent once the node says it serves (its banner, READY=1)
        stops it cleanly, even before the main thread waits for signals.
        The notify socket's queue is filled first, so the node's READY=1
        waits in the kernel until the test reads: the main thread is held
        just past its banner while the SIGTERM comes. Unless SIGTERM is held
        from the listeners on it kills the node (exit -15, no STOPPING=1)."""
        sock, sock_path, tmp = self._path_socket()
        filled = 0
        for _ in range(1000):  # a fresh sender refused at once: the queue is full
            junk = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.addCleanup(junk.close)
            junk.setblocking(False)
            sent = 0
            try:
                while True:
                    junk.sendto(b"junk", sock_path)
                    sent += 1
            except BlockingIOError:
                pass
            filled += sent
            if sent == 0:
                break
        self.assertEqual(sent, 0, "the notify queue never filled")
        proc, _, log = serve_one_record(self, tmp, 1, dict(os.environ, NOTIFY_SOCKET=sock_path))

        def output():
            with open(log) as f:
                return f.read()

        deadline = time.monotonic() + DEADLINE
        while "idnode: serving" not in output() and time.monotonic() < deadline:
            self.assertIsNone(proc.poll(), output())
            time.sleep(0.01)
        self.assertIn("idnode: serving", output())
        proc.send_signal(signal.SIGTERM)
        for _ in range(filled):
            self.assertEqual(self._next(sock, proc), "junk")
        self.assertEqual(self._next(sock, proc), "READY=1")
        self.assertEqual(self._next(sock, proc), "STOPPING=1")
        self.assertEqual(proc.wait(DEADLINE), 0, output())
        self.assertIn("idnode: stopped", output())


if __name__ == "__main__":
    unittest.main()
