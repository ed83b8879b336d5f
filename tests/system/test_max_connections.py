#!/usr/bin/env python3
"""--max-connections N: TCP and HTTP connections together; the N+1st takes the place of the
listener's connection idle longest."""
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


def closed(s):
    """Whether the server has closed s (EOF or reset) by now, or within a second."""
    s.settimeout(1)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


class MaxConnections(unittest.TestCase):
    def test_tcp_and_http_share_the_limit(self):
        # One thread each: room is made on the worker the newcomer reaches.
        hp = free_port()
        n = Node(records=[MOTOR], threads=1,
                 extra_args=["--max-connections", "3", "--http", "127.0.0.1:%d" % hp])
        held = []
        try:
            h, status = http_conn(hp)
            self.assertIn(b"200", status)
            time.sleep(0.05)
            a = handle_conn(n.port)
            time.sleep(0.05)
            b = handle_conn(n.port)
            self.assertIsNotNone(a)
            self.assertIsNotNone(b)
            held += [h, a, b]
            # three open: a fourth, Handle or HTTP, is served, and the
            # connection of its listener idle longest is closed for it
            c = handle_conn(n.port)
            self.assertIsNotNone(c)
            held.append(c)
            self.assertTrue(closed(a))
            self.assertFalse(closed(b))
            s, status = http_conn(hp)
            held.append(s)
            self.assertIn(b"200", status)
            self.assertTrue(closed(h))
            self.assertIn("limit conn-evicted", n.output())
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
