"""System tests over real HTTP: every route, status and error of the HTTP
side of `idnode serve`, keep-alive and pipelining, the limits and slow
clients, and malformed HTTP answered 4xx with a JSON message while the
server stays up."""
import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode, split_responses  # noqa: E402
from idnlib import DEADLINE, waiting  # noqa: E402
from idnlib import IDNODE, parse_answer, request  # noqa: E402

MOTOR = {"handle": "88.100.1/MOTOR-1", "values": [
    {"index": 1, "type": "URL", "data": "https://example.com/motor/1"},
    {"index": 2, "type": "EMAIL", "data": "qa@example.com"},
    {"index": 3, "type": "DESC", "data": "<script>alert(1)</script> & \"q\" 'x' Grüße"},
    {"index": 4, "type": "BIN", "data": {"format": "hex", "value": "00ff10"}},
    {"index": 5, "type": "SECRET", "data": "hidden", "perms": 12},
]}
NOURL = {"handle": "88.100.1/NOURL", "values": [
    {"index": 2, "type": "DESC", "data": "no url <b>here</b>"},
    {"index": 3, "type": "LINK", "data": "javascript:alert(1)"}]}
LOC = {"handle": "88.100.1/LOC", "values": [
    {"index": 1, "type": "10320/loc", "data":
     '<locations><location href="https://a.example/x?a=1&amp;b=2" weight="1"/>'
     '<location href="https://never.example/" weight="0"/></locations>'},
    {"index": 2, "type": "URL", "data": "https://fallback.example/"}]}
ALIAS = {"handle": "88.100.1/ALIAS", "values": [
    {"index": 1, "type": "HS_ALIAS", "data": "88.100.1/MOTOR-1"}]}
LOOP = {"handle": "88.100.1/LOOP", "values": [
    {"index": 1, "type": "HS_ALIAS", "data": "88.100.1/LOOP"}]}
SPACE = {"handle": "88.100.1/A B/ü", "values": [
    {"index": 1, "type": "DESC", "data": "space"}]}
RECORDS = [MOTOR, NOURL, LOC, ALIAS, LOOP, SPACE]


def get(path):
    return "GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path


class HttpRoutesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.log = os.path.join("/tmp", "idn-access-%d.log" % os.getpid())
        cls.node = HttpNode(records=RECORDS, http_args=["--access-log", cls.log])

    @classmethod
    def tearDownClass(cls):
        cls.node.close()
        if os.path.exists(cls.log):
            os.unlink(cls.log)

    def test_get_handle(self):
        st, h, b = self.node.req("GET", "/api/handles/88.100.1/MOTOR-1")
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], "application/json")
        doc = json.loads(b)
        self.assertEqual(doc["responseCode"], 1)
        self.assertEqual(doc["handle"], "88.100.1/MOTOR-1")
        by_idx = {v["index"]: v for v in doc["values"]}
        self.assertEqual(sorted(by_idx), [1, 2, 3, 4])  # 5 is not publicly readable
        self.assertEqual(by_idx[1]["data"], {"format": "string",
                                             "value": "https://example.com/motor/1"})
        self.assertEqual(by_idx[3]["data"]["value"], MOTOR["values"][2]["data"])
        self.assertEqual(by_idx[4]["data"], {"format": "base64", "value": "AP8Q"})

    def test_filters(self):
        st, doc = self.node.get_json("/api/handles/88.100.1/MOTOR-1?type=EMAIL")
        self.assertEqual((st, [v["index"] for v in doc["values"]]), (200, [2]))
        st, doc = self.node.get_json("/api/handles/88.100.1/MOTOR-1?index=1&index=4")
        self.assertEqual(sorted(v["index"] for v in doc["values"]), [1, 4])
        st, doc = self.node.get_json("/api/handles/88.100.1/MOTOR-1?publicOnly=true")
        self.assertEqual(st, 200)
        st, doc = self.node.get_json("/api/handles/88.100.1/MOTOR-1?index=x1")
        self.assertEqual(st, 400)
        self.assertIn("index", doc["message"])
        st, doc = self.node.get_json("/api/handles/88.100.1/MOTOR-1?index=-3")
        self.assertEqual(st, 400)

    def test_encoded_handle(self):
        st, doc = self.node.get_json("/api/handles/88.100.1/A%20B/%C3%BC")
        self.assertEqual((st, doc["handle"]), (200, "88.100.1/A B/ü"))
        st, doc = self.node.get_json("/api/handles/88.100.1/%ZZ")
        self.assertEqual(st, 400)
        self.assertIn("message", doc)

    def test_not_found_and_not_homed(self):
        st, doc = self.node.get_json("/api/handles/88.100.1/NOPE")
        self.assertEqual((st, doc["responseCode"]), (404, 100))
        st, doc = self.node.get_json("/api/handles/77.1/X")
        self.assertEqual(doc["responseCode"], 301)
        self.assertEqual(st, 400)
        st, doc = self.node.get_json("/api/handles/")
        self.assertEqual(st, 400)

    def test_batch_resolve(self):
        body = json.dumps({"handles": ["88.100.1/NOURL", "88.100.1/NOPE", "88.100.1/MOTOR-1"]})
        st, h, b = self.node.req("POST", "/api/resolve", body,
                                 {"Content-Type": "application/json"})
        self.assertEqual(st, 200)
        res = json.loads(b)["results"]
        self.assertEqual([r["handle"] for r in res],
                         ["88.100.1/NOURL", "88.100.1/NOPE", "88.100.1/MOTOR-1"])
        self.assertEqual([r["responseCode"] for r in res], [1, 100, 1])
        self.assertEqual(len(res[2]["values"]), 4)
        self.assertIn("message", res[1])

    def test_batch_limits_and_bad_json(self):
        many = json.dumps({"handles": ["88.100.1/MOTOR-1"] * 1000})
        st, h, b = self.node.req("POST", "/api/resolve", many)
        self.assertEqual(st, 200)
        self.assertEqual(len(json.loads(b)["results"]), 1000)
        st, h, b = self.node.req("POST", "/api/resolve", json.dumps({"handles": ["a/b"] * 1001}))
        self.assertEqual(st, 413)
        self.assertIn("1000", json.loads(b)["message"])
        for bad, word in [(b"{not json", "invalid JSON"), (b'{"handles":"x"}', "expected"),
                          (b'{"handles":[1,2]}', "handles[0]"), (b"[]", "expected"),
                          (b"", "invalid JSON")]:
            st, h, b = self.node.req("POST", "/api/resolve", bad)
            self.assertEqual(st, 400, bad)
            self.assertEqual(h["content-type"], "application/json")
            self.assertIn(word, json.loads(b)["message"])

    def test_site_and_prefixes(self):
        st, doc = self.node.get_json("/api/site")
        self.assertEqual((st, doc["responseCode"]), (200, 1))
        srv = doc["site"]["servers"][0]
        self.assertEqual(srv["address"], "127.0.0.1")
        self.assertIn(self.node.port, [i["port"] for i in srv["interfaces"]])
        # The HTTP listener is an interface of the site, as the reference lists it.
        web = [i for i in srv["interfaces"] if i["protocol"] == "HTTP"]
        self.assertEqual(web, [{"query": True, "admin": True, "protocol": "HTTP",
                                "port": self.node.http_port}])
        # ... and `idnode siteinfo` writes it for the parent's record; a port picked at
        # start (0) cannot be advertised.
        out = subprocess.run([IDNODE, "siteinfo", "--listen", "127.0.0.1:2641", "--http", ":8080",
                              "--https", "127.0.0.1:8443"], capture_output=True, text=True,
                             timeout=10)
        self.assertIn("tcp/2641 udp/2641 http/8080 https/8443", out.stdout)
        out = subprocess.run([IDNODE, "siteinfo", "--listen", "127.0.0.1:2641", "--http", ":0"],
                             capture_output=True, text=True, timeout=10)
        self.assertIn("tcp/2641 udp/2641\n", out.stdout)
        st, doc = self.node.get_json("/api/prefixes")
        self.assertEqual((st, doc["prefixes"]), (200, ["88.100.1"]))

    def test_handle_over_http(self):
        st, h, b = self.node.req("POST", "/", request("88.100.1/MOTOR-1"),
                                 {"Content-Type": "application/x-hdl-message"})
        self.assertEqual((st, h["content-type"]), (200, "application/x-hdl-message"))
        env, op, rc, flags, body = parse_answer(b)
        self.assertEqual((op, rc), (1, 1))
        self.assertIn(b"https://example.com/motor/1", body)
        st, h, b = self.node.req("POST", "/", request("88.100.1/NOPE"),
                                 {"Content-Type": "application/x-hdl-message"})
        self.assertEqual(parse_answer(b)[2], 100)
        st, h, b = self.node.req("POST", "/", b"short",
                                 {"Content-Type": "application/x-hdl-message"})
        self.assertEqual(st, 400)
        self.assertIn("message", json.loads(b))

    def test_proxy_redirects(self):
        st, h, b = self.node.req("GET", "/88.100.1/MOTOR-1")
        self.assertEqual((st, h["location"]), (302, "https://example.com/motor/1"))
        for _ in range(5):  # the weight-0 location is never chosen
            st, h, b = self.node.req("GET", "/88.100.1/LOC")
            self.assertEqual((st, h["location"]), (302, "https://a.example/x?a=1&b=2"))
        st, h, b = self.node.req("GET", "/88.100.1/ALIAS")
        self.assertEqual((st, h["location"]), (302, "https://example.com/motor/1"))
        st, h, b = self.node.req("GET", "/88.100.1/LOOP")
        self.assertEqual(st, 400)

    def test_record_page(self):
        st, h, b = self.node.req("GET", "/88.100.1/MOTOR-1?noredirect",
                                 headers={"Host": "hdl.example:8080"})
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/html"))
        self.assertIn("default-src 'none'", h["content-security-policy"])
        page = b.decode()
        self.assertNotIn("<script>", page)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot; &#39;x&#39; "
                      "Grüße", page)
        self.assertIn('href="https://example.com/motor/1"', page)
        self.assertIn("<svg", page)
        self.assertIn("http://hdl.example:8080/88.100.1/MOTOR-1", page)
        self.assertIn('name="viewport"', page)
        self.assertNotIn(">hidden<", page)

    def test_page_without_url_and_injection(self):
        st, h, b = self.node.req("GET", "/88.100.1/NOURL", headers={"Host": "x\"><script>"})
        self.assertEqual(st, 200)
        page = b.decode()
        self.assertIn("no url &lt;b&gt;here&lt;/b&gt;", page)
        self.assertNotIn('href="javascript', page)
        self.assertNotIn("<script>", page)
        self.assertIn("hdl:88.100.1/NOURL", page)  # a bad Host is not echoed

    def test_not_found_page(self):
        st, h, b = self.node.req("GET", "/88.100.1/%3Cimg%20src=x%3E")
        self.assertEqual(st, 404)
        self.assertTrue(h["content-type"].startswith("text/html"))
        self.assertIn(b"Identifier not found", b)
        self.assertIn(b"&lt;img src=x&gt;", b)
        self.assertNotIn(b"<img", b)

    def test_unknown_routes_and_methods(self):
        st, doc = self.node.get_json("/api/nothing")
        self.assertEqual(st, 404)
        self.assertIn("message", doc)
        st, h, b = self.node.req("DELETE", "/api/site")
        self.assertEqual(st, 405)
        self.assertIn("message", json.loads(b))
        st, h, b = self.node.req("POST", "/88.100.1/MOTOR-1", b"x")
        self.assertEqual(st, 405)
        st, h, b = self.node.req("HEAD", "/api/handles/88.100.1/MOTOR-1")
        self.assertEqual((st, b), (200, b""))
        self.assertGreater(int(h["content-length"]), 100)

    def test_keep_alive_and_pipelining(self):
        c = self.node.conn()
        for _ in range(3):
            c.request("GET", "/api/handles/88.100.1/NOURL")
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            r.read()
        c.close()
        paths = ["/api/handles/88.100.1/NOURL", "/api/handles/88.100.1/NOPE",
                 "/api/prefixes", "/88.100.1/MOTOR-1"]
        data = "".join(get(p) for p in paths).encode()
        data += b"GET /api/site HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        resp = split_responses(self.node.raw(data))
        self.assertEqual([r[0] for r in resp], [200, 404, 200, 302, 200])
        self.assertEqual(resp[-1][1].get("connection"), "close")

    def test_chunked_and_expect(self):
        body = json.dumps({"handles": ["88.100.1/NOURL"]}).encode()
        req = (b"POST /api/resolve HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
               b"Connection: close\r\n\r\n")
        req += b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (5, body[:5], len(body) - 5, body[5:])
        resp = split_responses(self.node.raw(req))
        self.assertEqual(resp[0][0], 200)
        self.assertEqual(json.loads(resp[0][2])["results"][0]["responseCode"], 1)
        req = (b"POST /api/resolve HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
               b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)) + body
        out = self.node.raw(req)
        self.assertTrue(out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"))

    def test_malformed(self):
        cases = [
            b"GARBAGE\r\n\r\n",
            b"GET / HTTP/9.9\r\n\r\n",
            b"GET /api/site HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
            b"GET /api/site HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            b"POST /api/resolve HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"GET /api/site HTTP/1.1\r\nBad Header\r\n\r\n",
            b"GET /\x01 HTTP/1.1\r\n\r\n",
        ]
        for c in cases:
            out = self.node.raw(c)
            resp = split_responses(out)
            self.assertTrue(resp, (c, out))
            st, h, b = resp[0]
            self.assertEqual(st, 400, c)
            self.assertEqual(h["content-type"], "application/json")
            self.assertIn("malformed HTTP", json.loads(b)["message"])
            self.assertEqual(h.get("connection"), "close")
        self.assertTrue(self.node.alive())
        self.assertEqual(self.node.req("GET", "/api/prefixes")[0], 200)

    def test_huge_headers(self):
        big = b"GET /api/site HTTP/1.1\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n"
        st, h, b = split_responses(self.node.raw(big))[0]
        self.assertEqual(st, 431)
        self.assertIn("too large", json.loads(b)["message"])
        many = b"GET /api/site HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i
                                                      for i in range(100)) + b"\r\n"
        st, h, b = split_responses(self.node.raw(many))[0]
        self.assertEqual(st, 431)
        long_url = b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n"
        self.assertEqual(split_responses(self.node.raw(long_url))[0][0], 431)
        self.assertEqual(self.node.req("GET", "/api/prefixes")[0], 200)

    def test_access_log(self):
        self.node.req("GET", "/api/handles/88.100.1/NOURL?x=1")
        deadline = time.time() + DEADLINE
        while time.time() < deadline:
            with open(self.log) as f:
                text = f.read()
            if "NOURL" in text:
                break
            time.sleep(0.05)
        self.assertRegex(text, r'127\.0\.0\.1 - - \[[^\]]+\] "GET /api/handles/88\.100\.1/'
                               r'NOURL\?x=1 HTTP/1\.1" 200 \d+ \d+ms')


def site_desc(desc):
    """HS_SITE bytes (version 1, no servers) with one desc attribute."""
    def lb(b):
        return len(b).to_bytes(4, "big") + b
    return (b"\x00\x01\x02\x0a\x00\x01\x00\x00" + lb(b"") + (1).to_bytes(4, "big") +
            lb(b"desc") + lb(desc.encode()) + (0).to_bytes(4, "big")).hex()


TDEF = {"name": "Motor <v2>", "fields": [
    {"name": "serial", "type": "string"}, {"name": "model", "type": "string"},
    {"name": "power", "type": "number"}, {"name": "datasheet", "type": "url"}]}
PAGE_RECORDS = [
    {"handle": "88.100.1/TEMPLATE-MOTOR", "values": [
        {"index": 1, "type": "TEMPLATE.DEF", "data": json.dumps(TDEF)}]},
    {"handle": "88.100.1/MOTOR-T", "values": [
        {"index": 2, "type": "DESC", "data": "a motor"},
        {"index": 1001, "type": "TEMPLATE", "data": "88.100.1/TEMPLATE-MOTOR"},
        {"index": 2000, "type": "model", "data": "<script>alert(2)</script>"},
        {"index": 2001, "type": "serial", "data": "SN-42"},
        {"index": 2002, "type": "datasheet", "data": "https://example.com/ds.pdf"},
        {"index": 2003, "type": "manufacturer", "data": "Acme & <Sons>"}]},
    {"handle": "88.100.1/BADTMPL", "values": [
        {"index": 1001, "type": "TEMPLATE", "data": "88.100.1/NO-SUCH-TEMPLATE"}]},
    {"handle": "0.NA/88.100.2", "values": [
        {"index": 1, "type": "HS_SITE",
         "data": {"format": "hex", "value": site_desc("Zhejiang <Motor> Co")}}]},
    {"handle": "88.100.2/PUMP", "values": [{"index": 1, "type": "DESC", "data": "pump"}]},
]


class HttpRecordPageTest(unittest.TestCase):
    """The record page's template fields and registering enterprise."""

    @classmethod
    def setUpClass(cls):
        # 0.NA homed: the prefix record (with its HS_SITE) is resolvable locally.
        cls.node = HttpNode(records=PAGE_RECORDS, homes=("88.100.1", "88.100.2", "0.NA"))

    @classmethod
    def tearDownClass(cls):
        cls.node.close()

    def page(self, h):
        st, _, b = self.node.req("GET", "/" + h + "?noredirect")
        self.assertEqual(st, 200)
        return b.decode()

    def test_template_fields_in_order(self):
        page = self.page("88.100.1/MOTOR-T")
        self.assertNotIn("<script>", page)
        self.assertIn('<h2 id="template">Motor &lt;v2&gt;</h2>', page)
        fields = page[page.index('id="fields"'):page.index("</dl>", page.index('id="fields"'))]
        names = re.findall(r'<div data-field="([^"]*)">', fields)
        self.assertEqual(names, ["serial", "model", "power", "datasheet"])
        self.assertIn("SN-42", fields)
        self.assertIn("&lt;script&gt;alert(2)&lt;/script&gt;", fields)
        self.assertIn('class="data missing">not set', fields)  # power has no value
        self.assertIn('href="https://example.com/ds.pdf"', fields)
        # The manufacturer value is one of the record's details; the registering
        # enterprise is the prefix's (no 0.NA/88.100.1 site here: the prefix).
        self.assertIn("Acme &amp; &lt;Sons&gt;", page)
        self.assertIn('<b id="enterprise">88.100.1</b>', page)
        self.assertIn('<b id="industry">88.100</b>', page)

    def test_unresolvable_template_and_prefix_fallback(self):
        page = self.page("88.100.1/BADTMPL")
        self.assertNotIn('id="fields"', page)
        self.assertIn('<b id="enterprise">88.100.1</b>', page)

    def test_enterprise_from_site_desc(self):
        page = self.page("88.100.2/PUMP")
        self.assertIn('<b id="enterprise">Zhejiang &lt;Motor&gt; Co</b>', page)
        self.assertNotIn('id="fields"', page)


class HttpLimitsTest(unittest.TestCase):
    """A node with small limits, so that each fires within a few seconds."""

    @classmethod
    def setUpClass(cls):
        cls.node = HttpNode(records=[NOURL], threads=1, http_args=[
            "--http-max-conns", "4", "--http-timeout-ms", "400", "--http-max-body", "2000",
            "--http-idle-ms", "3000"])

    @classmethod
    def tearDownClass(cls):
        cls.node.close()

    def test_body_too_large(self):
        body = json.dumps({"handles": ["88.100.1/NOURL"] * 200})
        st, h, b = self.node.req("POST", "/api/resolve", body)
        self.assertEqual(st, 413)
        self.assertIn("too large", json.loads(b)["message"])
        # Chunked: the limit holds without a Content-Length too.
        req = b"POST /api/resolve HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        req += b"".join(b"400\r\n" + b" " * 1024 + b"\r\n" for _ in range(3))
        self.assertEqual(split_responses(self.node.raw(req))[0][0], 413)

    def test_slowloris_headers(self):
        s = socket.create_connection(("127.0.0.1", self.node.http_port), timeout=DEADLINE)
        s.sendall(b"GET /api/site HTTP/1.1\r\nX-A: 1\r\n")
        out = b""
        # One header line every 100 ms, never finished, until the node answers:
        # a deadline that each line pushed back would keep it waiting (DEADLINE).
        deadline = time.time() + DEADLINE
        s.settimeout(0.1)
        try:
            while not out:
                self.assertLess(time.time(), deadline, "still waiting for the headers")
                try:
                    out = s.recv(4096)
                    break
                except socket.timeout:
                    s.sendall(b"X-B: 2\r\n")
        except OSError:
            pass
        s.settimeout(DEADLINE)
        while out:
            try:
                d = s.recv(4096)
            except (socket.timeout, ConnectionResetError):
                break
            if not d:
                break
            out += d
        s.close()
        st, h, b = split_responses(out)[0]
        self.assertEqual(st, 408)
        self.assertIn("not received in time", json.loads(b)["message"])

    def test_slow_body(self):
        s = socket.create_connection(("127.0.0.1", self.node.http_port), timeout=DEADLINE)
        s.sendall(b"POST /api/resolve HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        out = b""
        while True:
            try:
                d = s.recv(4096)
            except (socket.timeout, ConnectionResetError):
                break
            if not d:
                break
            out += d
        s.close()
        self.assertEqual(split_responses(out)[0][0], 408)

    def test_idle_close(self):
        s = socket.create_connection(("127.0.0.1", self.node.http_port), timeout=DEADLINE)
        self.assertEqual(s.recv(10), b"")  # closed silently, no answer (else times out)
        s.close()

    def test_max_conns(self):
        # At the cap a newcomer is not refused: the connection that made
        # progress longest ago (here an idle one) is closed to admit it.
        held = [socket.create_connection(("127.0.0.1", self.node.http_port), timeout=3)
                for _ in range(4)]
        try:
            # the node has taken the four in: none waits in its accept queue
            deadline = time.time() + DEADLINE
            while waiting(self.node.http_port) and time.time() < deadline:
                time.sleep(0.05)
            st = split_responses(self.node.raw(
                b"GET /api/prefixes HTTP/1.1\r\nConnection: close\r\n\r\n"))[0][0]
            self.assertEqual(st, 200)
            # before the idle deadline (3 s): only the one evicted is closed
            closed = 0
            for s in held:
                s.setblocking(False)
                try:
                    closed += s.recv(10) == b""
                except BlockingIOError:
                    pass
            self.assertEqual(closed, 1)
        finally:
            for s in held:
                s.close()
        self.assertTrue(self.node.alive())


if __name__ == "__main__":
    unittest.main()
