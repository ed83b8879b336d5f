#!/usr/bin/env python3
"""--max-connections N: TCP and HTTP connections together; the N+1st is closed at once."""
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import Node, free_port, request, tcp_exchange  # noqa: E402

MOTOR = {"handle": "88.100.1/motor", "values": [
    {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://example.com/"}}]}


def closed_at_once(port):
    """Whether a new TCP connection to port is closed (or reset) without a word."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.settimeout(3)
            return s.recv(1) == b""
    except ConnectionResetError:  # the reset may come before connect() returns
        return True
    except socket.timeout:
        return False


class MaxConnections(unittest.TestCase):
    def test_tcp_and_http_share_the_limit(self):
        hp = free_port()
        n = Node(records=[MOTOR], extra_args=["--max-connections", "3",
                                              "--http", "127.0.0.1:%d" % hp])
        held = []
        try:
            # two Handle TCP connections and one HTTP connection: the limit
            for _ in range(2):
                held.append(socket.create_connection(("127.0.0.1", n.port), timeout=3))
            held.append(socket.create_connection(("127.0.0.1", hp), timeout=3))
            time.sleep(0.3)  # the workers accept them
            self.assertTrue(closed_at_once(n.port))
            # the HTTP listener refuses too (503, then closes)
            with socket.create_connection(("127.0.0.1", hp), timeout=3) as s:
                s.settimeout(3)
                self.assertIn(b"503", s.recv(200))
            # one closed: a new one is served again
            held.pop().close()
            deadline = time.time() + 5
            while True:
                try:
                    ans = tcp_exchange(n.port, request(MOTOR["handle"]))
                    break
                except (ConnectionResetError, ConnectionError, OSError):
                    if time.time() > deadline:
                        raise
                    time.sleep(0.1)
            self.assertTrue(ans)
            self.assertTrue(n.alive())
        finally:
            for s in held:
                s.close()
            n.close()

    def test_bad_value_is_refused(self):
        import subprocess
        from idnlib import IDNODE
        r = subprocess.run([IDNODE, "serve", "--data", "/tmp/x", "--max-connections", "-1"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("max_connections", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
