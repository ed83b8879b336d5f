#!/usr/bin/env python3
"""--max-connections N: TCP and HTTP connections together; the N+1st is closed at once."""
import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import IDNODE, Node, free_port, request, tcp_read_answer  # noqa: E402

MOTOR = {"handle": "88.100.1/motor", "values": [
    {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://example.com/"}}]}


def handle_conn(port):
    """A Handle TCP connection that has been answered once, or None if it was closed."""
    s = None
    try:  # the reset may come before connect() returns
        s = socket.create_connection(("127.0.0.1", port), timeout=3)
        s.sendall(request(MOTOR["handle"]))
        tcp_read_answer(s)
        return s
    except (ConnectionError, OSError, ValueError):
        if s:
            s.close()
        return None


def http_conn(port):
    """An HTTP connection and the status line of its first answer (keep-alive)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    s.sendall(b"GET /api/handles/88.100.1/motor HTTP/1.1\r\nHost: localhost\r\n\r\n")
    return s, s.recv(4096).split(b"\r\n", 1)[0]


class MaxConnections(unittest.TestCase):
    def test_tcp_and_http_share_the_limit(self):
        hp = free_port()
        n = Node(records=[MOTOR], extra_args=["--max-connections", "3",
                                              "--http", "127.0.0.1:%d" % hp])
        held = []
        try:
            s, status = http_conn(hp)
            held.append(s)
            self.assertIn(b"200", status)
            for _ in range(2):
                s = handle_conn(n.port)
                self.assertIsNotNone(s)
                held.append(s)
            # three open: the fourth, Handle or HTTP, is closed at once
            self.assertIsNone(handle_conn(n.port))
            s, status = http_conn(hp)
            s.close()
            self.assertIn(b"503", status)
            # one closed: a new one is served again
            held.pop().close()
            deadline = time.time() + 5
            while True:
                s = handle_conn(n.port)
                if s or time.time() > deadline:
                    break
                time.sleep(0.1)
            self.assertIsNotNone(s)
            held.append(s)
            self.assertTrue(n.alive())
        finally:
            for s in held:
                s.close()
            n.close()

    def test_bad_value_is_refused(self):
        r = subprocess.run([IDNODE, "serve", "--data", "/tmp/x", "--max-connections", "-1"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("max_connections", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
