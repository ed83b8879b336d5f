"""The proxy (GET /{handle}) and bad input: identifiers with '..', %2F,
overlong, invalid UTF-8 (raw bytes and %-escapes), a NUL; javascript: and
data: URLs in a record (the page, never a redirect); header injection
through a URL value (no Location, no split header); the --proxy-schemes
allow-list (an allowed extra scheme redirected, others not, javascript and
friends refused at start). Each checks the exact status and that no injected
header appears; the node stays up throughout."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode, split_responses  # noqa: E402
from idnlib import IDNODE, free_port  # noqa: E402

P = "88.100.1/"
INJECT = "https://a.example/x\r\nSet-Cookie: owned=1\r\nX-Injected: 1"


def url_record(suffix, url, typ="URL"):
    return {"handle": P + suffix, "values": [{"index": 1, "type": typ, "data": url}]}


RECORDS = [
    url_record("MOTOR", "https://example.com/m?id=1"),
    url_record("JS", "javascript:alert(document.cookie)"),
    url_record("DATA", "data:text/html,<script>alert(1)</script>"),
    url_record("CRLF", INJECT),
    url_record("LOCCRLF", '<locations><location href="https://a.example/\r\nSet-Cookie: '
                          'owned=1" weight="1"/></locations>', "10320/loc"),
    url_record("FTP", "ftp://files.example/manual.pdf"),
    url_record("SFTP", "SFTP://files.example/x"),
    url_record("GOPHER", "gopher://old.example/1"),
    url_record("FTPCRLF", "ftp://files.example/x\r\nSet-Cookie: owned=1"),
    url_record("FTPSPACE", "ftp://files.example/a b"),
    url_record("a/../b", "no url here", "DESC"),
]


def head_lines(raw):
    """The header lines of the first response in raw bytes (lower-cased names)."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    return head[0], [l.split(":", 1)[0].lower() for l in head[1:]]


class ProxyInput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = HttpNode(records=RECORDS, http_args=["--proxy-schemes", "ftp, SFTP"])

    @classmethod
    def tearDownClass(cls):
        cls.node.close()

    def get(self, path):
        """Raw GET of path (bytes, sent as is): (status, header names, body)."""
        raw = self.node.raw(b"GET " + path + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        status_line, names = head_lines(raw)
        resp = split_responses(raw)
        self.assertTrue(resp, raw[:200])
        return resp[0][0], names, resp[0][2]

    def assert_no_injection(self, names, body):
        self.assertNotIn("set-cookie", names)
        self.assertNotIn("x-injected", names)
        self.assertNotIn("location", names)
        self.assertNotIn(b"<script", body)

    def assert_page(self, path, status, *texts):
        st, names, body = self.get(path)
        self.assertEqual(st, status, (path, body[:300]))
        self.assertIn("content-security-policy", names)
        self.assert_no_injection(names, body)
        for t in texts:
            self.assertIn(t, body, path)
        return body

    def test_dot_dot_is_part_of_the_identifier(self):
        # Not a path: '..' is text of the suffix, never resolved as a directory.
        self.assert_page(b"/88.100.1/a/../b", 200, b'<h1 id="handle">88.100.1/a/../b</h1>')
        self.assert_page(b"/88.100.1/../MOTOR", 404, b"Identifier not found",
                         b'<b id="handle">88.100.1/../MOTOR</b>')
        self.assert_page(b"/88.100.1/%2E%2E/MOTOR", 404, b"88.100.1/../MOTOR")
        # '..' as the prefix: not homed here, said so (404), nothing read from disk.
        self.assert_page(b"/../../etc/passwd", 404, b"Not held on this node",
                         b"../../etc/passwd")

    def test_encoded_slash_is_the_separator(self):
        for path in (b"/88.100.1%2FMOTOR", b"/88.100.1%2fMOTOR"):
            st, names, _ = self.get(path)
            self.assertEqual(st, 302, path)
        st, h, _ = self.node.req("GET", "/88.100.1%2FMOTOR")
        self.assertEqual((st, h["location"]), (302, "https://example.com/m?id=1"))

    def test_overlong(self):
        # Longer than an identifier may be (2048 bytes), as sent or decoded.
        self.assert_page(b"/88.100.1/" + b"A" * 2100, 400, b"Not a valid identifier")
        self.assert_page(b"/88.100.1/" + b"%41" * 2100, 400, b"Not a valid identifier")
        # Just short enough: an ordinary lookup.
        self.assert_page(b"/88.100.1/" + b"%41" * 2000, 404, b"Identifier not found")
        # Past the header block limit: refused by the HTTP layer with a JSON message.
        raw = self.node.raw(b"GET /88.100.1/" + b"A" * 70000 + b" HTTP/1.1\r\n\r\n")
        self.assertEqual(split_responses(raw)[0][0], 431)

    def test_invalid_utf8(self):
        for path in (b"/88.100.1/%FF%FE", b"/88.100.1/%C0%AF",  # %C0%AF: an overlong '/'
                     b"/88.100.1/%ED%A0%80", b"/88.100.1/\xff\xfe", b"/88.100.1/\xc3"):
            body = self.assert_page(path, 400, b"Not a valid identifier")
            self.assertNotIn(b"\xff", body)
            self.assertNotIn(b"\xc0", body)

    def test_nul(self):
        self.assert_page(b"/88.100.1/A%00B", 400, b"Not a valid identifier")
        raw = self.node.raw(b"GET /88.100.1/A\x00B HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual(split_responses(raw)[0][0], 400)

    def test_bad_escapes(self):
        for path in (b"/88.100.1/%", b"/88.100.1/%4", b"/88.100.1/%G1"):
            self.assert_page(path, 400, b"Not a valid identifier")

    def test_script_urls_show_the_page(self):
        for suffix in (b"JS", b"DATA", b"GOPHER", b"FTPSPACE"):
            body = self.assert_page(b"/88.100.1/" + suffix, 200, b'id="handle"')
            self.assertNotIn(b'href="javascript', body.lower())
            self.assertNotIn(b'href="data:', body.lower())
            self.assertNotIn(b'href="gopher:', body.lower())
        self.assertIn("redirect-scheme", self.node.output())

    def test_header_injection_through_a_value(self):
        for suffix in (b"CRLF", b"LOCCRLF", b"FTPCRLF"):
            body = self.assert_page(b"/88.100.1/" + suffix, 200, b'id="handle"')
            self.assertIn(b"Set-Cookie: owned=1", body)  # shown as text on the page
        self.assertTrue(self.node.alive())

    def test_allowed_extra_scheme_redirects(self):
        st, h, _ = self.node.req("GET", "/88.100.1/FTP")
        self.assertEqual((st, h.get("location")), (302, "ftp://files.example/manual.pdf"))
        st, h, _ = self.node.req("GET", "/88.100.1/SFTP")
        self.assertEqual((st, h.get("location")), (302, "SFTP://files.example/x"))
        # On the page an ftp URL is shown, not linked: only http(s) become links.
        body = self.assert_page(b"/88.100.1/FTP?noredirect", 200,
                                b"ftp://files.example/manual.pdf")
        self.assertNotIn(b'href="ftp:', body)
        st, h, _ = self.node.req("GET", "/88.100.1/MOTOR")
        self.assertEqual((st, h.get("location")), (302, "https://example.com/m?id=1"))


class ProxySchemesSetting(unittest.TestCase):
    def serve(self, schemes, ini=False):
        with tempfile.TemporaryDirectory() as d:
            conf = os.path.join(d, "node.ini")
            with open(conf, "w") as f:
                f.write("proxy_schemes = %s\n" % schemes)
            return subprocess.run(
                [IDNODE, "serve", "--data", os.path.join(d, "data"), "--home", "88.100.1",
                 "--listen", "127.0.0.1:%d" % free_port(),
                 "--http", "127.0.0.1:%d" % free_port()] +
                (["-c", conf] if ini else ["--proxy-schemes", schemes]),
                capture_output=True, text=True, timeout=20)

    def test_forbidden_schemes_refused_at_start(self):
        for schemes, why in (("ftp,javascript", "'javascript': never allowed"),
                             ("DATA", "'DATA': never allowed"),
                             ("vbscript", "'vbscript': never allowed"),
                             ("file", "'file': never allowed"),
                             ("ftp:", "'ftp:': not a URL scheme"),
                             ("1ftp", "'1ftp': not a URL scheme")):
            out = self.serve(schemes)
            self.assertNotEqual(out.returncode, 0, schemes)
            self.assertIn("--proxy-schemes: " + why, out.stderr + out.stdout, schemes)

    def test_the_ini_key_too(self):
        out = self.serve("ftp, data", ini=True)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("--proxy-schemes: 'data': never allowed", out.stderr + out.stdout)


if __name__ == "__main__":
    unittest.main()
