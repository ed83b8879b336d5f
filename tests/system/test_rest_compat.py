"""Reference-compatibility cases for the REST API (../shared/PROTOCOL.md, REST
section): the JSON shapes existing clients of the reference /api/handles read,
the value formats, and the HTTP status each response code maps to."""
import json
import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import s  # noqa: E402
from httplib_idn import HttpNode  # noqa: E402


ADMIN = struct.pack(">H", 0x0FF3) + s("0.NA/88.100.1") + struct.pack(">I", 200)
VLIST = struct.pack(">I", 2) + s("88.100.1/ADMINS") + struct.pack(">I", 300) + \
    s("88.100.1/OPS") + struct.pack(">I", 301)
RSA = s("RSA_PUB_KEY") + struct.pack(">H", 0) + s(b"\x01\x00\x01") + \
    s(b"\x00\xc3\x9a\x11\x22") + b"\0\0\0\0"
SITE = (struct.pack(">HBBHBB", 1, 2, 10, 7, 0x80, 2) + s(b"") + struct.pack(">I", 1) +
        s("desc") + s("test site") + struct.pack(">I", 1) + struct.pack(">I", 3) +
        bytes(12) + bytes([10, 0, 0, 5]) + s(b"") + struct.pack(">I", 2) +
        struct.pack(">BBI", 2, 1, 2641) + struct.pack(">BBI", 3, 0, 2641))

REC = {"handle": "88.100.1/COMPAT", "values": [
    {"index": 1, "type": "URL", "data": "https://example.com/c"},
    {"index": 2, "type": "EMAIL", "data": "x@example.com", "ttl": 3600},
    {"index": 100, "type": "HS_ADMIN", "data": {"format": "hex", "value": ADMIN.hex()}},
    {"index": 200, "type": "HS_VLIST", "data": {"format": "hex", "value": VLIST.hex()}},
    {"index": 300, "type": "HS_PUBKEY", "data": {"format": "hex", "value": RSA.hex()}},
    {"index": 400, "type": "HS_SITE", "data": {"format": "hex", "value": SITE.hex()}},
    {"index": 500, "type": "BLOB", "data": {"format": "base64", "value": "/wABAg=="}},
]}


class RestCompatTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = HttpNode(records=[REC])

    @classmethod
    def tearDownClass(cls):
        cls.node.close()

    def values(self):
        st, doc = self.node.get_json("/api/handles/88.100.1/COMPAT")
        self.assertEqual(st, 200)
        return doc, {v["index"]: v for v in doc["values"]}

    def test_envelope_shape(self):
        doc, _ = self.values()
        self.assertEqual(list(doc), ["responseCode", "handle", "values"])
        for v in doc["values"]:
            self.assertEqual(set(v), {"index", "type", "data", "ttl", "timestamp"})
            self.assertEqual(set(v["data"]), {"format", "value"})
            self.assertRegex(v["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_string_and_ttl(self):
        _, v = self.values()
        self.assertEqual(v[1]["data"], {"format": "string", "value": "https://example.com/c"})
        self.assertEqual(v[1]["ttl"], 86400)
        self.assertEqual(v[2]["ttl"], 3600)
        self.assertEqual(v[500]["data"], {"format": "base64", "value": "/wABAg=="})

    def test_admin_format(self):
        _, v = self.values()
        self.assertEqual(v[100]["data"], {"format": "admin", "value": {
            "handle": "0.NA/88.100.1", "index": 200, "permissions": "111111110011"}})

    def test_vlist_format(self):
        _, v = self.values()
        self.assertEqual(v[200]["data"], {"format": "vlist", "value": [
            {"handle": "88.100.1/ADMINS", "index": 300},
            {"handle": "88.100.1/OPS", "index": 301}]})

    def test_key_format(self):
        _, v = self.values()
        self.assertEqual(v[300]["data"], {"format": "key", "value": {
            "kty": "RSA", "n": "w5oRIg", "e": "AQAB"}})

    def test_site_format(self):
        _, v = self.values()
        d = v[400]["data"]
        self.assertEqual(d["format"], "site")
        site = d["value"]
        self.assertEqual(site["protocolVersion"], "2.10")
        self.assertEqual(site["serialNumber"], 7)
        self.assertEqual(site["primaryMask"], {"multiPrimary": False, "primary": True})
        self.assertEqual(site["hashOption"], "HASH_TYPE_BY_ALL")
        self.assertEqual(site["attributes"], [{"name": "desc", "value": "test site"}])
        srv = site["servers"][0]
        self.assertEqual((srv["serverId"], srv["address"]), (3, "10.0.0.5"))
        self.assertEqual(srv["interfaces"], [
            {"query": True, "admin": False, "protocol": "TCP", "port": 2641},
            {"query": True, "admin": True, "protocol": "UDP", "port": 2641}])

    def test_status_mapping(self):
        cases = [("/api/handles/88.100.1/COMPAT", 200, 1),
                 ("/api/handles/88.100.1/MISSING", 404, 100),
                 ("/api/handles/99.9/ELSEWHERE", 400, 301)]
        for path, status, rc in cases:
            st, doc = self.node.get_json(path)
            self.assertEqual((st, doc["responseCode"]), (status, rc), path)
            if rc != 1:
                self.assertEqual(set(doc), {"responseCode", "handle", "message"})
                self.assertNotIn("values", doc)

    def test_type_and_index_filters_combine(self):
        st, doc = self.node.get_json("/api/handles/88.100.1/COMPAT?type=URL&type=EMAIL")
        self.assertEqual(sorted(v["index"] for v in doc["values"]), [1, 2])
        st, doc = self.node.get_json("/api/handles/88.100.1/COMPAT?index=100")
        self.assertEqual([v["type"] for v in doc["values"]], ["HS_ADMIN"])


SECRET = b"compat-secret"
PREFIX = {"handle": "0.NA/88.100.1", "values": [
    {"index": 100, "type": "HS_ADMIN", "data": {"format": "hex", "value": (
        struct.pack(">H", 0x0FFF) + s("88.100.1/WRITER") + struct.pack(">I", 300)).hex()}}]}
WRITER = {"handle": "88.100.1/WRITER", "values": [
    {"index": 300, "type": "HS_SECKEY", "data": {"format": "hex", "value": SECRET.hex()},
     "perms": 12}]}


class RestWriteCompatTest(unittest.TestCase):
    """What a client of the reference REST API sees when it writes: the
    Basic credential form, the answer shapes and the status codes."""

    @classmethod
    def setUpClass(cls):
        cls.node = HttpNode(records=[PREFIX, WRITER])
        import base64
        cls.auth = {"Authorization": "Basic " + base64.b64encode(
            b"300%3A88.100.1/WRITER:" + SECRET).decode(), "Content-Type": "application/json"}

    @classmethod
    def tearDownClass(cls):
        cls.node.close()

    def call(self, method, path, body=None, auth=True):
        st, h, b = self.node.req(method, path, body=json.dumps(body) if body else None,
                                 headers=self.auth if auth else {})
        return st, json.loads(b)

    def test_write_shapes_and_statuses(self):
        vals = {"values": [
            {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://c/w"}},
            {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
                "handle": "88.100.1/WRITER", "index": 300, "permissions": "111111111111"}}}]}
        h = "/api/handles/88.100.1/W-1"
        self.assertEqual(self.call("PUT", h, vals), (201, {"responseCode": 1,
                                                          "handle": "88.100.1/W-1"}))
        self.assertEqual(self.call("PUT", h, vals), (200, {"responseCode": 1,
                                                          "handle": "88.100.1/W-1"}))
        st, doc = self.call("PUT", h + "?overwrite=false", vals)
        self.assertEqual((st, doc["responseCode"], doc["handle"]), (409, 101, "88.100.1/W-1"))
        self.assertIn("message", doc)
        st, doc = self.call("PUT", h, vals, auth=False)
        self.assertEqual((st, doc["responseCode"]), (401, 402))
        st, doc = self.call("DELETE", h + "?index=7")
        # An absent index: VALUE_NOT_FOUND, which the status table maps to 200.
        self.assertEqual((st, doc["responseCode"]), (200, 200))
        self.assertEqual(self.call("DELETE", h), (200, {"responseCode": 1,
                                                        "handle": "88.100.1/W-1"}))
        st, doc = self.call("DELETE", h)
        self.assertEqual((st, doc["responseCode"]), (404, 100))
        st, doc = self.call("GET", "/api/handles?prefix=88.100.1")
        self.assertEqual((st, doc["responseCode"], doc["prefix"]), (200, 1, "88.100.1"))
        self.assertIsInstance(doc["totalCount"], str)
        self.assertIn("88.100.1/WRITER", doc["handles"])


if __name__ == "__main__":
    unittest.main()
