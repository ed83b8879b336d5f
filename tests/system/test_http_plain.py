"""System test of the plain GET /api/handles/{h} path (api_routes.c's
get_plain, node_resolve_plain): a record held whole and public is rendered
from the stored values without a Handle answer in between, into the buffer
the connection sends from (http_resp_head_room), and must give the same
bytes as the general path (the same GET with an index filter naming every
value), alone, pipelined behind other answers and over HEAD; be counted in
/metrics and the access log as the general path counts; and leave every
other case (restricted values, not found, unknown prefix, the keep-alive
"0") to the general path's answers."""
import json
import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode, split_responses  # noqa: E402
from idnlib import DEADLINE  # noqa: E402
from idnlib import admin_data, hexval  # noqa: E402

TEMPLATE = {"handle": "88.100.1/PUMP-2026-000042", "values": [
    {"index": 1, "type": "URL", "data": "https://example.com/p/42?a=1&b=\"2\""},
    {"index": 2, "type": "EMAIL", "data": "qa@example.com"},
    {"index": 3, "type": "DESC", "data": "离心泵 Centrifugal pump\t\"DN50\" \\ 含税"},
    {"index": 4, "type": "BIN", "data": {"format": "hex", "value": "00ff10c3"}},
    hexval(100, "HS_ADMIN", admin_data(0x0FF2, 200, "0.NA/88.100.1")),
    {"index": 1001, "type": "TEMPLATE", "data": "88.100.1/TPL-PUMP"},
] + [{"index": 2000 + i, "type": "字段%d" % i, "data": "值 value %d" % i} for i in range(12)]}
RESTRICTED = {"handle": "88.100.1/HIDDEN-1", "values": [
    {"index": 1, "type": "URL", "data": "https://example.com/h"},
    {"index": 2, "type": "SECRET", "data": "hidden", "perms": 12}]}
RESOLVED = 'idnode_requests_total{opcode="resolution",transport="http",rcode="1"}'
FOUND = 'idnode_resolutions_total{transport="http",outcome="found"}'


class PlainGet(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.log = os.path.join("/tmp", "idn-plain-access-%d.log" % os.getpid())
        cls.node = HttpNode(records=[TEMPLATE, RESTRICTED],
                            http_args=["--metrics", "--access-log", cls.log])

    @classmethod
    def tearDownClass(cls):
        cls.node.close()
        if os.path.exists(cls.log):
            os.unlink(cls.log)

    def get(self, path):
        st, _, body = self.node.req("GET", path)
        return st, body

    def counters(self):
        st, _, body = self.node.req("GET", "/metrics")
        self.assertEqual(st, 200)
        got = {}
        for name in (RESOLVED, FOUND):
            m = re.search(re.escape(name) + r" (\d+)", body.decode())
            got[name] = int(m.group(1)) if m else 0
        return got

    def test_same_bytes_as_the_general_path(self):
        h = TEMPLATE["handle"]
        st, plain = self.get("/api/handles/" + h)
        self.assertEqual(st, 200)
        everyone = "&".join("index=%d" % v["index"] for v in TEMPLATE["values"])
        st, general = self.get("/api/handles/%s?%s" % (h, everyone))
        self.assertEqual(st, 200)
        self.assertEqual(plain, general)
        doc = json.loads(plain)
        self.assertEqual([v["index"] for v in doc["values"]],
                         [v["index"] for v in TEMPLATE["values"]])
        self.assertEqual(doc["values"][2]["data"]["value"], TEMPLATE["values"][2]["data"])
        self.assertEqual(doc["values"][4]["data"]["format"], "admin")
        # publicOnly changes nothing over HTTP: same bytes
        self.assertEqual(self.get("/api/handles/%s?publicOnly=true" % h), (200, plain))

    def test_pipelined_and_head(self):
        h = TEMPLATE["handle"]
        paths = ["/api/handles/" + h, "/api/handles/%s?index=2" % h,
                 "/api/handles/88.100.1/NOPE", "/api/handles/" + RESTRICTED["handle"]] * 8
        alone = [self.get(p) for p in paths[:4]] * 8
        with socket.create_connection(("127.0.0.1", self.node.http_port), timeout=5) as c:
            c.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % p.encode()
                               for p in paths))
            data, deadline = b"", time.time() + DEADLINE
            while len(split_responses(data)) < len(paths) and time.time() < deadline:
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
        got = [(st, body) for st, _, body in split_responses(data)]
        self.assertEqual(got, alone)
        st, hdrs, body = self.node.req("HEAD", "/api/handles/" + h)
        self.assertEqual((st, body), (200, b""))
        self.assertEqual(int(hdrs["content-length"]), len(alone[0][1]))
        # the access log counts the body's bytes, as for any answer
        deadline = time.time() + DEADLINE
        want = '"GET /api/handles/%s HTTP/1.1" 200 %d ' % (h, len(alone[0][1]))
        while time.time() < deadline:
            with open(self.log) as f:
                if want in f.read():
                    break
            time.sleep(0.1)
        with open(self.log) as f:
            self.assertIn(want, f.read())

    def test_restricted_values_stay_hidden(self):
        st, body = self.get("/api/handles/" + RESTRICTED["handle"])
        self.assertEqual(st, 200)
        self.assertEqual([v["index"] for v in json.loads(body)["values"]], [1])

    def test_other_answers(self):
        st, body = self.get("/api/handles/88.100.1/NOPE")
        self.assertEqual((st, json.loads(body)["responseCode"]), (404, 100))
        st, body = self.get("/api/handles/99.9/X")
        self.assertEqual((st, json.loads(body)["responseCode"]), (400, 301))
        st, body = self.get("/api/handles/0")
        self.assertEqual((st, json.loads(body)["responseCode"]), (404, 100))

    def test_counted_as_the_general_path_counts(self):
        before = self.counters()
        h = TEMPLATE["handle"]
        for _ in range(5):
            self.assertEqual(self.get("/api/handles/" + h)[0], 200)
        self.assertEqual(self.get("/api/handles/%s?index=1" % h)[0], 200)
        want = {k: v + 6 for k, v in before.items()}
        deadline = time.time() + DEADLINE
        got = self.counters()
        while got != want and time.time() < deadline:
            time.sleep(0.2)
            got = self.counters()
        self.assertEqual(got, want)


if __name__ == "__main__":
    unittest.main()
