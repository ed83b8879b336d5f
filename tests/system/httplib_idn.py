"""Helpers for the HTTP system tests: a Node with an HTTP listener, raw-socket
exchanges for malformed input, and http.client for ordinary requests. Every
wait is bounded."""
import http.client
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import DEADLINE, Node, free_port  # noqa: E402


class HttpNode(Node):
    """`idnode serve` with --http on a free loopback port (plus extra flags)."""

    def __init__(self, records=(), http_args=(), **kw):
        self.http_port = free_port()
        extra = ["--http", "127.0.0.1:%d" % self.http_port] + list(http_args)
        super().__init__(records=records, extra_args=tuple(kw.pop("extra_args", ())) +
                         tuple(extra), **kw)
        self.wait_http()

    def wait_http(self, timeout=DEADLINE):
        # serve answers on no listener before all are bound (docs/packaging.md),
        # so this finds the HTTP one open once wait_ready saw the Handle one
        # answer; it still checks, and names the node's exit if it failed.
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("idnode serve exited %d: %s" % (self.proc.returncode,
                                                                   self.output()))
            try:
                socket.create_connection(("127.0.0.1", self.http_port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("HTTP listener not ready: " + self.output())

    def conn(self, timeout=5.0):
        return http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)

    def req(self, method, path, body=None, headers=None):
        """(status, headers dict lower-cased, body bytes) on a fresh connection."""
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def get_json(self, path):
        st, h, b = self.req("GET", path)
        return st, json.loads(b)

    def raw(self, data, timeout=3.0, chunks=None):
        """Sends raw bytes, reads until the server closes or timeout; returns bytes."""
        s = socket.create_connection(("127.0.0.1", self.http_port), timeout=timeout)
        try:
            s.sendall(data)
            out = b""
            deadline = time.time() + timeout
            while time.time() < deadline:
                try:
                    d = s.recv(65536)
                except socket.timeout:
                    break
                if not d:
                    break
                out += d
            return out
        finally:
            s.close()


def split_responses(data):
    """Cuts a byte stream of HTTP/1.1 responses (Content-Length or chunked
    framed) apart: a list of (status, headers dict, body)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size, sep, rest = rest.partition(b"\r\n")
                n = int(size, 16) if sep else 0
                body, rest = body + rest[:n], rest[n + 2:]
                if n == 0:
                    break
            out.append((status, hdrs, body))
            data = rest
            continue
        n = int(hdrs.get("content-length", "0"))
        out.append((status, hdrs, rest[:n]))
        data = rest[n:]
    return out
