"""System tests for the REST writes over real HTTP: sessions signed with an
RSA identity (keygen'd, signatures made by the openssl command), HTTP Basic
with a secret-key identity, PUT / DELETE /api/handles/{h} (create, overwrite,
mintNewSuffix, index=), GET /api/handles?prefix= with pages, and the
refusals: no credentials 401, wrong secret 401, bad signature 401, a right
the identity lacks 403, an existing handle 409, malformed bodies 400."""
import base64
import json
import os
import struct
import subprocess
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode  # noqa: E402
from idnlib import admin_data, hexval, keygen, s, start_admin_node  # noqa: E402

SECRET = b"rest-secret-2026"


def basic(user, secret):
    tok = base64.b64encode(urllib.parse.quote(user, safe="/").encode() + b":" + secret)
    return {"Authorization": "Basic " + tok.decode()}


class HttpWriteTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sec = {"handle": "88.100.1/sec", "values": [
            hexval(300, "HS_SECKEY", SECRET.hex(), perms=0x0c),
            hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, "0.NA/88.100.1"))]}
        # The secret-key identity may create handles and add values only.
        start_admin_node(cls, "rest", [sec], server_admin=False, node=HttpNode,
                         homes=("88.100.1",),
                         values=[hexval(101, "HS_ADMIN", admin_data(0x0041, 300, "88.100.1/sec"))])
        cls.other = os.path.join(cls.tmp, "other.pem")
        keygen(cls.other)

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        cls.node.close()

    def call(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h["Content-Type"] = "application/json"
        # Writes are durable (fsync) before the answer: on a loaded machine a
        # batch takes a while, so a longer bound than HttpNode.req's.
        c = self.node.conn(timeout=60)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            st, hd, b = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()
        return st, hd, (json.loads(b) if b else None)

    def sign(self, key, data):
        out = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=data,
                             capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def session(self, key=None, sid=None, nonce=None):
        """An authenticated session: (headers for later requests, PUT answer)."""
        if sid is None:
            st, _, j = self.call("POST", "/api/sessions")
            self.assertEqual(st, 201)
            self.assertFalse(j["authenticated"])
            sid, nonce = j["sessionId"], base64.b64decode(j["nonce"])
        cnonce = os.urandom(16)
        sig = self.sign(key or self.key, nonce + cnonce)
        auth = ('Handle sessionId="%s", id="300%%3A0.NA/88.100.1", type="HS_PUBKEY", '
                'alg="SHA256", cnonce="%s", signature="%s"' %
                (sid, base64.b64encode(cnonce).decode(), base64.b64encode(sig).decode()))
        st, _, j = self.call("PUT", "/api/sessions/this", headers={"Authorization": auth})
        return {"Authorization": 'Handle sessionId="%s"' % sid}, st, j

    def test_session_rsa_create_modify_delete(self):
        hdr, st, j = self.session()
        self.assertEqual(st, 200, j)
        self.assertTrue(j["authenticated"])
        self.assertEqual(j["id"], "300:0.NA/88.100.1")
        st, _, j = self.call("GET", "/api/sessions/this", headers=hdr)
        self.assertEqual((st, j["authenticated"]), (200, True))

        h = "/api/handles/88.100.1/REST-1"
        body = {"values": [{"index": 1, "type": "URL", "data": "https://example.com/r1"},
                           {"index": 2, "type": "EMAIL",
                            "data": {"format": "string", "value": "qa@example.com"}},
                           {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
                               "handle": "0.NA/88.100.1", "index": 300,
                               "permissions": "111111111111"}}}]}
        st, _, j = self.call("PUT", h, body, hdr)
        self.assertEqual((st, j["responseCode"], j["handle"]), (201, 1, "88.100.1/REST-1"))
        st, _, j = self.call("GET", h)
        self.assertEqual(st, 200)
        by = {v["index"]: v for v in j["values"]}
        self.assertEqual(by[1]["data"]["value"], "https://example.com/r1")
        self.assertEqual(by[100]["data"]["value"]["permissions"], "111111111111")
        # Again without overwrite: 409; with the default overwrite: replaced, 200.
        st, _, j = self.call("PUT", h + "?overwrite=false", body, hdr)
        self.assertEqual((st, j["responseCode"]), (409, 101))
        body["values"][0]["data"] = "https://example.com/r1-new"
        st, _, j = self.call("PUT", h, body, hdr)
        self.assertEqual(st, 200, j)
        # index=: add a value, then modify it with overwrite.
        st, _, j = self.call("PUT", h + "?index=3&overwrite=false", {"values": [
            {"index": 3, "type": "BIN", "data": {"format": "base64", "value": "AP8Q"}}]}, hdr)
        self.assertEqual(st, 200, j)
        st, _, j = self.call("PUT", h + "?index=3&overwrite=false", {"values": [
            {"index": 3, "type": "BIN", "data": "x"}]}, hdr)
        self.assertEqual((st, j["responseCode"]), (409, 201))
        st, _, j = self.call("PUT", h + "?index=3&overwrite=true", {"values": [
            {"index": 3, "type": "BIN", "data": {"format": "hex", "value": "0102"}}]}, hdr)
        self.assertEqual(st, 200, j)
        st, _, j = self.call("GET", h + "?index=3")
        self.assertEqual(j["values"][0]["data"]["value"], "\x01\x02")
        # DELETE one value, then the handle.
        st, _, j = self.call("DELETE", h + "?index=3", headers=hdr)
        self.assertEqual(st, 200, j)
        st, _, j = self.call("GET", h + "?index=3")
        self.assertEqual(j.get("values", []), [])
        st, _, j = self.call("DELETE", h, headers=hdr)
        self.assertEqual(st, 200, j)
        st, _, j = self.call("GET", h)
        self.assertEqual((st, j["responseCode"]), (404, 100))
        st, _, j = self.call("DELETE", h, headers=hdr)
        self.assertEqual((st, j["responseCode"]), (404, 100))
        # Ended session: refused afterwards.
        st, _, j = self.call("DELETE", "/api/sessions/this", headers=hdr)
        self.assertEqual(st, 200)
        st, _, j = self.call("PUT", h, body, hdr)
        self.assertEqual(st, 401)

    def test_mint_and_list(self):
        hdr, st, _ = self.session()
        self.assertEqual(st, 200)
        st, _, j = self.call("PUT", "/api/handles/88.100.1/M-?mintNewSuffix=true",
                             {"values": [{"index": 1, "type": "URL", "data": "https://m/"}]},
                             hdr)
        self.assertEqual(st, 201, j)
        self.assertTrue(j["handle"].startswith("88.100.1/M-") and len(j["handle"]) > 12)
        st, _, j2 = self.call("GET", "/api/handles/" + j["handle"])
        self.assertEqual(st, 200)
        for i in range(3):
            st, _, _ = self.call("PUT", "/api/handles/88.100.1/L-%d" % i, {"values": [
                {"index": 1, "type": "URL", "data": "https://l/%d" % i}]}, hdr)
            self.assertEqual(st, 201)
        st, _, j = self.call("GET", "/api/handles?prefix=88.100.1", headers=hdr)
        self.assertEqual(st, 200, j)
        for i in range(3):
            self.assertIn("88.100.1/L-%d" % i, j["handles"])
        total = int(j["totalCount"])
        self.assertEqual(total, len(j["handles"]))
        st, _, p = self.call("GET", "/api/handles?prefix=88.100.1&page=1&pageSize=2",
                             headers=hdr)
        self.assertEqual((st, p["page"], p["pageSize"]), (200, 1, 2))
        self.assertEqual(p["handles"], j["handles"][2:4])
        st, _, j = self.call("GET", "/api/handles?prefix=88.100.1")
        self.assertEqual(st, 401)
        st, _, j = self.call("GET", "/api/handles?prefix=88.100.1&pageSize=0", headers=hdr)
        self.assertEqual(st, 400)
        st, _, j = self.call("GET", "/api/handles", headers=hdr)
        self.assertEqual(st, 400)

    def test_basic_secret_key(self):
        auth = basic("300:88.100.1/sec", SECRET)
        h = "/api/handles/88.100.1/SEC-1"
        body = {"values": [{"index": 1, "type": "URL", "data": "https://s/1"},
                           {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
                               "handle": "88.100.1/sec", "index": 300,
                               "permissions": "000001000001"}}}]}
        st, _, j = self.call("PUT", h + "?overwrite=false", body, auth)
        self.assertEqual((st, j["responseCode"]), (201, 1), j)
        # add value: allowed (0x0040); delete: not granted -> 403.
        st, _, j = self.call("PUT", h + "?index=2&overwrite=false", {"values": [
            {"index": 2, "type": "EMAIL", "data": "a@b"}]}, auth)
        self.assertEqual(st, 200, j)
        st, _, j = self.call("DELETE", h, headers=auth)
        self.assertEqual((st, j["responseCode"]), (403, 401), j)
        st, _, j = self.call("GET", h)
        self.assertEqual(st, 200)
        # Wrong secret, unknown identity, malformed credentials: 401.
        for a in (basic("300:88.100.1/sec", b"wrong"), basic("300:88.100.1/nobody", SECRET),
                  {"Authorization": "Basic !!!"}, {"Authorization": "Bearer x"}):
            st, hd, j = self.call("PUT", h, body, a)
            self.assertEqual(st, 401, a)
            self.assertIn("message", j)
        # A session set up with Basic is authenticated at once.
        st, _, j = self.call("POST", "/api/sessions", headers=auth)
        self.assertEqual((st, j["authenticated"], j["id"]), (201, True, "300:88.100.1/sec"))

    def test_batch_partial_and_idempotent(self):
        hdr, st, _ = self.session()
        self.assertEqual(st, 200)
        adm = {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
            "handle": "0.NA/88.100.1", "index": 300, "permissions": "111111111111"}}}
        url = lambda i: [{"index": 1, "type": "URL", "data": "https://b/%d" % i}, adm]
        ops = [{"op": "create", "handle": "88.100.1/B-%d" % i, "values": url(i)}
               for i in range(3)]
        ops += [{"op": "create", "handle": "88.100.1/B-0", "values": url(9)},
                {"op": "add", "handle": "88.100.1/B-1",
                 "values": [{"index": 2, "type": "EMAIL", "data": "b@x"}]},
                {"op": "modify", "handle": "88.100.1/B-1", "values": url(7)[:1]},
                {"op": "remove", "handle": "88.100.1/B-1", "index": [2]},
                {"op": "delete", "handle": "88.100.1/B-NONE"},
                {"op": "fly", "handle": "88.100.1/B-1"},
                {"op": "create", "handle": "77.1/B", "values": url(1)},
                {"op": "delete", "handle": "88.100.1/B-2"}]
        st, _, j = self.call("POST", "/api/batch", {"operations": ops}, hdr)
        self.assertEqual(st, 207, j)
        codes = [x["responseCode"] for x in j["results"]]
        self.assertEqual(codes, [1, 1, 1, 101, 1, 1, 1, 100, 4, 301, 1])
        self.assertEqual([x["status"] for x in j["results"]][:4], [201, 201, 201, 409])
        self.assertEqual((j["succeeded"], j["failed"]), (7, 4))
        st, _, r = self.call("GET", "/api/handles/88.100.1/B-1")
        self.assertEqual([v["data"]["value"] for v in r["values"] if v["index"] < 100],
                         ["https://b/7"])
        self.assertEqual(self.call("GET", "/api/handles/88.100.1/B-2")[0], 404)

        # Idempotency-Key: a retry returns the stored answer and runs nothing.
        body = {"operations": [{"op": "create", "handle": "88.100.1/IDEM", "values": url(1)}]}
        key = dict(hdr, **{"Idempotency-Key": "order-42"})
        st, _, first = self.call("POST", "/api/batch", body, key)
        self.assertEqual((st, first["succeeded"]), (200, 1))
        self.assertEqual(self.call("DELETE", "/api/handles/88.100.1/IDEM", headers=hdr)[0], 200)
        st, hd, again = self.call("POST", "/api/batch", body, key)
        self.assertEqual((st, again), (200, first))
        self.assertEqual(hd.get("idempotent-replayed"), "true")
        self.assertEqual(self.call("GET", "/api/handles/88.100.1/IDEM")[0], 404)
        st, _, j = self.call("POST", "/api/batch", {"operations": []}, key)
        self.assertEqual(st, 422)
        # Without the key the same batch runs again.
        st, _, j = self.call("POST", "/api/batch", body, hdr)
        self.assertEqual((st, j["results"][0]["status"]), (200, 201))

    def test_batch_limits(self):
        hdr, st, _ = self.session()
        ops = [{"op": "create", "handle": "88.100.1/N-%d" % i, "values": [
            {"index": 1, "type": "URL", "data": "https://n/%d" % i}]} for i in range(500)]
        st, _, j = self.call("POST", "/api/batch", {"operations": ops}, hdr)
        self.assertEqual((st, j["succeeded"]), (200, 500))
        st, _, j = self.call("GET", "/api/handles/88.100.1/N-499")
        self.assertEqual(st, 200)
        big = {"operations": [{"op": "delete", "handle": "88.100.1/x"}] * 10001}
        st, _, j = self.call("POST", "/api/batch", big, hdr)
        self.assertEqual(st, 413)
        for bad in (b"[", {"ops": []}, {"operations": 1}):
            st, _, j = self.call("POST", "/api/batch", bad, hdr)
            self.assertEqual(st, 400, bad)
        st, _, j = self.call("POST", "/api/batch", {"operations": []})
        self.assertEqual(st, 401)
        st, _, j = self.call("POST", "/api/batch", {"operations": []},
                             dict(hdr, **{"Idempotency-Key": "k" * 201}))
        self.assertEqual(st, 400)

    def test_openapi_document(self):
        st, hd, j = self.call("GET", "/api/openapi.json")
        self.assertEqual((st, hd["content-type"]), (200, "application/json"))
        self.assertTrue(j["openapi"].startswith("3."))
        for p in ("/api/handles/{handle}", "/api/handles", "/api/sessions", "/api/batch"):
            self.assertIn(p, j["paths"])
        self.assertIn("put", j["paths"]["/api/handles/{handle}"])

    def test_refusals(self):
        body = {"values": [{"index": 1, "type": "URL", "data": "https://x/"}]}
        st, hd, j = self.call("PUT", "/api/handles/88.100.1/NOAUTH", body)
        self.assertEqual((st, j["responseCode"]), (401, 402))
        self.assertIn("www-authenticate", hd)
        # A signature by another key, and a session nobody created.
        st, _, j = self.call("POST", "/api/sessions")
        _, st, j = self.session(key=self.other, sid=j["sessionId"],
                                nonce=base64.b64decode(j["nonce"]))
        self.assertEqual(st, 401, j)
        st, _, j = self.call("PUT", "/api/handles/88.100.1/X", body,
                             {"Authorization": 'Handle sessionId="%s"' % ("ab" * 16)})
        self.assertEqual(st, 401)
        hdr, st, _ = self.session()
        # Not homed here: 400 (301); malformed bodies and values: 400.
        st, _, j = self.call("PUT", "/api/handles/77.1/X", body, hdr)
        self.assertEqual((st, j["responseCode"]), (400, 301))
        for bad in (b"{not json", {"values": 3}, {"values": [{"index": "1", "type": "URL"}]},
                    {"values": [{"index": 1, "type": "URL", "data": {"format": "hex",
                                                                     "value": "zz"}}]},
                    {"values": [{"index": 1, "type": "URL", "data": {"format": "nope",
                                                                     "value": "x"}}]}):
            st, _, j = self.call("PUT", "/api/handles/88.100.1/BAD", bad, hdr)
            self.assertEqual(st, 400, bad)
            self.assertIn("message", j)
        st, _, j = self.call("PUT", "/api/handles/88.100.1/BAD?index=x", body, hdr)
        self.assertEqual(st, 400)
        st, _, j = self.call("GET", "/api/handles/88.100.1/BAD")
        self.assertEqual(st, 404)
        st, _, j = self.call("PATCH", "/api/handles/88.100.1/BAD", body, hdr)
        self.assertEqual(st, 405)
        self.assertTrue(self.node.alive())


if __name__ == "__main__":
    unittest.main()
