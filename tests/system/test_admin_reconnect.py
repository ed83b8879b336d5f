"""idnode's admin client against a server that closes the connection after
each answer, as the reference 7.3.1 server does (after a 402 too; its own
client opens a new connection for every request).

The server here is a small proxy written for the test: for each client
connection it reads one request, forwards it on a new connection to a real
`idnode serve` (so keys, challenges and sessions are real), relays the one
answer and closes the client's connection. `idnode create` and `idnode
delete`, with and without a session, must work through it: the client sends
its op 200 (and each later request) on a new connection; the test checks the
store afterwards by resolving directly, and that the proxy saw one
connection per request."""
import os
import socket
import struct
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import recv_exact, start_admin_node  # noqa: E402

PREFIX = "0.NA/88.100.1"
ENV_LEN = 20


def read_message(sock):
    """One whole Handle message (envelope + body), or None at a clean EOF."""
    try:
        env = recv_exact(sock, ENV_LEN)
    except (ConnectionError, EOFError, OSError):
        return None
    if not env:
        return None
    (length,) = struct.unpack(">I", env[16:20])
    if length > 1 << 24:
        return None
    return env + recv_exact(sock, length)


class CloseAfterAnswerServer:
    """Accepts, reads one request, relays it upstream on a fresh connection,
    sends back the one answer and closes. Counts connections and requests."""

    def __init__(self, upstream_port):
        self.upstream = ("127.0.0.1", upstream_port)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.requests = 0
        self.opcodes = []
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        # bounded: until stop(), and at most 500 connections (the tests make about 40)
        while not self.stopping and self.connections < 500:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            try:
                self.serve_one(c)
            finally:
                c.close()  # after each answer, as the reference 7.3.1 server

    def serve_one(self, c):
        c.settimeout(10)
        req = read_message(c)
        if req is None:
            return
        self.requests += 1
        self.opcodes.append(struct.unpack(">I", req[ENV_LEN:ENV_LEN + 4])[0])
        with socket.create_connection(self.upstream, timeout=10) as up:
            up.sendall(req)
            ans = read_message(up)
        if ans is not None:
            c.sendall(ans)

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


class AdminReconnectTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        start_admin_node(cls, "recon", prefix=PREFIX, server_admin=False)
        cls.proxy = CloseAfterAnswerServer(cls.node.port)

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.node.stop()
        cls.node.close()

    def admin(self, *args):
        return self.node.cli(*args, "--server", "127.0.0.1:%d" % self.proxy.port,
                             "--id", "300:" + PREFIX, "--key", self.key, timeout=60)

    def resolved(self, handle):
        out = self.node.resolve(handle, "--tcp")
        return out.stdout if out.returncode == 0 else None

    def create_and_delete(self, handle, *session_flags, min_connections):
        before = self.proxy.connections
        r = self.admin("create", handle, "--value", "1:URL:https://example.com/r",
                       *session_flags)
        self.assertEqual(r.returncode, 0, r.stderr + self.node.output())
        self.assertIn("https://example.com/r", self.resolved(handle) or "")
        # One connection per request: the request (402), its op 200, and a session's
        # setup and end.
        self.assertGreaterEqual(self.proxy.connections - before, min_connections)
        before = self.proxy.connections
        r = self.admin("delete", handle, *session_flags)
        self.assertEqual(r.returncode, 0, r.stderr + self.node.output())
        self.assertIsNone(self.resolved(handle))
        self.assertGreaterEqual(self.proxy.connections - before, min_connections)

    def test_without_a_session(self):
        self.create_and_delete("88.100.1/recon-plain", "--no-session", min_connections=2)
        self.assertIn(200, self.proxy.opcodes)  # the challenge answers went through

    def test_in_a_session(self):
        self.create_and_delete("88.100.1/recon-sess", min_connections=4)
        self.assertIn(400, self.proxy.opcodes)  # session setup
        self.assertIn(401, self.proxy.opcodes)  # and its end

    def test_in_an_encrypted_session(self):
        # --encrypt: no fallback to plain challenge-response; only a session kept
        # across connections gets this through.
        self.create_and_delete("88.100.1/recon-enc", "--encrypt", min_connections=4)

    def test_several_in_a_row(self):
        for i in range(3):  # bounded: three handles
            h = "88.100.1/recon-row-%d" % i
            r = self.admin("create", h, "--value", "1:URL:https://example.com/%d" % i)
            self.assertEqual(r.returncode, 0, r.stderr)
        for i in range(3):
            self.assertIn("https://example.com/%d" % i,
                          self.resolved("88.100.1/recon-row-%d" % i) or "")


if __name__ == "__main__":
    unittest.main()
