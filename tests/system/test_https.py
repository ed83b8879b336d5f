"""System test for the HTTPS listener: a self-signed certificate made by
`openssl req` in the test, `idnode serve --https ADDR:PORT --tls-cert
--tls-key`, the REST API and keep-alive over TLS (checked against the
certificate), plain HTTP on the TLS port refused without harming the server,
and a clear error for a missing key."""
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import shutil
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import DEADLINE  # noqa: E402
from idnlib import IDNODE, Node, free_port  # noqa: E402

MOTOR = {"handle": "88.100.1/TLS-1", "values": [
    {"index": 1, "type": "URL", "data": "https://example.com/tls/1"}]}


class HttpsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="idn-tls-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.cert = os.path.join(cls.tmp, "cert.pem")
        cls.key = os.path.join(cls.tmp, "key.pem")
        out = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", cls.key, "-out", cls.cert], capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr
        cls.port = free_port()
        cls.node = Node(records=[MOTOR], extra_args=[
            "--https", "127.0.0.1:%d" % cls.port, "--tls-cert", cls.cert, "--tls-key", cls.key])
        deadline = time.time() + DEADLINE
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", cls.port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        cls.node.close()

    def conn(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=10)

    def test_rest_over_tls_keepalive(self):
        c = self.conn()
        try:
            for _ in range(3):  # one TLS connection, several requests
                c.request("GET", "/api/handles/88.100.1/TLS-1")
                r = c.getresponse()
                body = json.loads(r.read())
                self.assertEqual(r.status, 200)
                self.assertEqual(body["values"][0]["data"]["value"], "https://example.com/tls/1")
            c.request("GET", "/api/handles/88.100.1/NONE")
            r = c.getresponse()
            self.assertEqual((r.status, json.loads(r.read())["responseCode"]), (404, 100))
            # A large answer crosses several TLS records.
            c.request("GET", "/api/openapi.json")
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            self.assertIn("openapi", json.loads(r.read()))
        finally:
            c.close()

    def test_plain_http_on_tls_port(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        try:
            s.sendall(b"GET /api/site HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except (ConnectionResetError, socket.timeout):
                pass
            self.assertNotIn(b"responseCode", data)
        finally:
            s.close()
        self.assertTrue(self.node.alive())
        c = self.conn()
        c.request("GET", "/api/site")
        self.assertEqual(c.getresponse().status, 200)
        c.close()

    def test_missing_key_is_a_clear_error(self):
        out = subprocess.run([IDNODE, "serve", "--data", os.path.join(self.tmp, "d"),
                              "--listen", "127.0.0.1:%d" % free_port(),
                              "--https", "127.0.0.1:%d" % free_port(),
                              "--tls-cert", self.cert, "--tls-key",
                              os.path.join(self.tmp, "nope.pem")],
                             capture_output=True, text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("nope.pem", out.stderr)


if __name__ == "__main__":
    unittest.main()
