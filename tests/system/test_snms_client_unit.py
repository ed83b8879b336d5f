"""Tests of the SNMS / reverse-lookup client (tests/system/snms_client.py)
ALONE, no idnode: the client talks to a tiny recording HTTP server on
127.0.0.1 that answers canned SNMS-shaped JSON. What is checked: the v1
password derivation, the requests the client builds (methods, paths,
headers, bodies), its refusal of non-SNMS answers, the retry rule on a 504
then "already exists", and the /hrls/handles URL PYHANDLE would send."""
import base64
import collections
import datetime
import hashlib
import http.server
import json
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import snms_client as sc  # noqa: E402
from idnlib import free_port  # noqa: E402

Seen = collections.namedtuple("Seen", "method target headers body")
SUCCESS = {"status": 1, "message": "success", "data": True}


def canned(doc=SUCCESS, status=200, ctype="application/json"):
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return (status, ctype, body)


DROP = ("drop",)  # close the connection without answering


class Recorder(http.server.ThreadingHTTPServer):
    """Records every request; answers from a queue of canned answers
    (SUCCESS when the queue is empty)."""
    daemon_threads = True

    def __init__(self):
        self.seen, self.answers = [], collections.deque()
        super().__init__(("127.0.0.1", free_port()), _Handler)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]

    def close(self):
        self.shutdown()
        self.server_close()
        self.thread.join(5)


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _any(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        self.server.seen.append(Seen(self.command, self.path, dict(self.headers),
                                     json.loads(raw) if raw else None))
        ans = self.server.answers.popleft() if self.server.answers else canned()
        if ans == DROP:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        status, ctype, body = ans
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _any


REC = sc.identifier("88.100.7/a1", "1.0", [(2000, "name", "pump"), (2001, "URL", "https://x/1")])


class ClientUnitTest(unittest.TestCase):
    def setUp(self):
        self.srv = Recorder()
        self.day = datetime.date(2024, 3, 5)
        self.cl = sc.SnmsClient(self.srv.url, timeout=5, today=lambda: self.day)

    def tearDown(self):
        self.srv.close()

    def last(self):
        return self.srv.seen[-1]

    def check(self, method, target, *body):
        """The last request had this method and target (and body, if given)."""
        s = self.last()
        self.assertEqual((s.method, s.target), (method, target))
        if body:
            self.assertEqual(s.body, body[0])

    def login(self):
        self.srv.answers.append(canned({"status": 1, "message": "success",
                                        "data": {"token": "tok-123"}}))
        self.cl.login("op", "pw")

    # -- login --

    def test_v1_password_by_hand(self):
        # Computed outside Python for 'Secret-1' on 2024-03-05:
        # i=$(printf %s Secret-1 | sha256sum); printf %s "${i}2024-03-05" | sha256sum
        hand = "345f33ce3163d4bb29e84285811d4de1478dfb09a99fe6cdb9f1b992ab7aa25c"
        inner = hashlib.sha256(b"Secret-1").hexdigest()
        self.assertEqual(inner, "83aeb0c6678c4184dfad301844e867c0e1a756e674c66f1e8eb217b585eaf3b6")
        self.assertEqual(hashlib.sha256((inner + "2024-03-05").encode()).hexdigest(), hand)
        self.assertEqual(sc.v1_password("Secret-1", self.day), hand)
        self.assertNotEqual(sc.v1_password("Secret-1", datetime.date(2024, 3, 6)), hand)

    def test_v1_password_published_example(self):
        # [G] docs/openApi/v5/identity-auth.md's example answer; its note says
        # sha256(sha256('12345') + '2019-08-15'), but the value is that of '123456'
        # (the plain-login example's password): checked with sha256sum.
        self.assertEqual(sc.v1_password("123456", datetime.date(2019, 8, 15)),
                         "58e2c92c46485fdbc35fdcd0814d6c0f000cad5aa156848ca5edaf29406b7661")

    def test_login_v1_request_uses_injected_date(self):
        self.srv.answers.append(canned({"status": 1, "message": "success",
                                        "data": {"token": "tv1"}}))
        ans = self.cl.login_v1("ent7", "Secret-1")
        s = self.last()
        self.assertEqual((s.method, s.target), ("POST", "/identity/token/v1"))
        hashed = "345f33ce3163d4bb29e84285811d4de1478dfb09a99fe6cdb9f1b992ab7aa25c"
        self.assertEqual(s.body, {"username": "ent7", "password": hashed})
        self.assertNotIn("Authorization", s.headers)
        self.assertEqual((ans.http_status, ans.status, ans.data), (200, 1, {"token": "tv1"}))
        self.assertEqual(self.cl.token, "tv1")

    def test_login_plain_then_bearer(self):
        self.login()
        s = self.last()
        self.assertEqual((s.method, s.target, s.body),
                         ("POST", "/identity/token", {"username": "op", "password": "pw"}))
        self.assertEqual(s.headers["Content-Type"], "application/json")
        self.cl.detail("88.100.7/a b")
        s = self.last()
        self.check("GET", "/identityv2/data/detail?handle=88.100.7/a%20b")
        self.assertEqual(self.last().headers["Authorization"], "Bearer tok-123")

    def test_failed_login_keeps_no_token(self):
        self.srv.answers.append(canned({"status": -2, "message": "bad password", "data": None},
                                       401))
        ans = self.cl.login("op", "wrong")
        self.assertEqual((ans.http_status, ans.status, ans.message), (401, -2, "bad password"))
        self.assertIsNone(self.cl.token)
        self.srv.answers.append(canned({"status": 1, "message": "success", "data": None}))
        with self.assertRaisesRegex(sc.SnmsProtocolError, "without data.token"):
            self.cl.login("op", "pw")

    # -- identifiers --

    def test_crud_requests(self):
        self.login()
        self.cl.create(REC)
        self.assertEqual(self.last()[:2], ("POST", "/identityv2/data"))
        self.assertEqual(self.last().body, {
            "handle": "88.100.7/a1", "templateVersion": "1.0", "value": [
                {"index": 2000, "type": "name", "auth": "",
                 "data": {"format": "string", "value": "pump"}},
                {"index": 2001, "type": "URL", "auth": "",
                 "data": {"format": "string", "value": "https://x/1"}}]})
        self.cl.update(REC)
        self.assertEqual(self.last()[:2], ("PUT", "/identityv2/data"))
        self.assertEqual(self.last().body, REC)
        self.cl.delete("88.100.7/a1")
        self.assertEqual(self.last()[:2], ("DELETE", "/identityv2/data"))
        self.assertEqual(self.last().body, {"handle": "88.100.7/a1"})
        for s in self.srv.seen[1:]:
            self.assertEqual(s.headers["Authorization"], "Bearer tok-123")

    def test_batch_requests(self):
        self.login()
        recs = [sc.identifier("88.100.7/b%d" % i, "1.0", [(2000, "name", str(i))])
                for i in range(3)]
        self.srv.answers.append(canned({"status": 1, "message": "success", "data": [
            {"handle": r["handle"], "msg": "success"} for r in recs]}))
        ans = self.cl.batch_create(recs)
        self.check("POST", "/identityv2/data/batchCreate", recs)
        self.assertEqual([d["handle"] for d in ans.data], [r["handle"] for r in recs])
        self.cl.batch_update(recs)
        self.check("PUT", "/identityv2/data/batchUpdate", recs)
        self.cl.batch_delete(["88.100.7/b0", "88.100.7/b1"])
        self.check("DELETE", "/identityv2/data/batchDelete", ["88.100.7/b0", "88.100.7/b1"])

    # -- templates, prefixes --

    def test_template_requests(self):
        self.login()
        tpl = {"prefix": "88.100.7", "version": "1.0", "industryCategory": "C",
               "industrySpecific": "34", "industryTrade": "344", "industrySubclass": "3441",
               "type": 2, "description": "pumps",
               "items": [{"name": "name", "idType": "name", "idIndex": 2000, "required": True,
                          "state": 1, "metadata": {"type": "string", "minLength": 1,
                                                   "maxLength": 64}}]}
        self.cl.template_create(tpl)
        self.check("POST", "/snms/api/v5/template", tpl)
        self.cl.template_update(tpl)
        self.check("PUT", "/snms/api/v5/template", tpl)
        self.cl.template_get("88.100.7", "1.0")
        self.check("GET", "/snms/api/v5/template?prefix=88.100.7&version=1.0", None)
        self.cl.template_delete("88.100.7", "1.0")
        self.check("DELETE", "/snms/api/v5/template", {"prefix": "88.100.7", "version": "1.0"})

    def test_ent_config_and_prefix_requests(self):
        self.login()
        self.cl.ent_config("88.100.7", "127.0.0.1", tcp_port=2641, http_port=8000)
        self.check("POST", "/snms/api/ent/config", {"entPrefixConfig": {
            "entPrefix": "88.100.7", "hdlType": "HS_SITE", "ipType": 4, "ip": "127.0.0.1",
            "tcpPort": "2641", "udpPort": "", "httpPort": "8000"}})
        self.cl.prefix_query("88.100.7")
        self.check("GET", "/snms/api/prefix/query?prefix=88.100.7")
        self.cl.prefix_page(ent_prefix="88.100", current_page=1, page_size=10)
        self.assertEqual(self.last().target,
                         "/snms/api/prefix/page?entPrefix=88.100&currentPage=1&pageSize=10")

    def test_base_path_kept(self):
        cl = sc.SnmsClient(self.srv.url + "/snms-root/", timeout=5)
        cl.prefix_query("88.100.7")
        self.assertEqual(self.last().target, "/snms-root/snms/api/prefix/query?prefix=88.100.7")

    # -- answers that are not SNMS --

    def test_non_json_answer_raises(self):
        self.srv.answers.append(canned(b"<html>Bad Gateway</html>", 502, "text/html"))
        with self.assertRaisesRegex(sc.SnmsProtocolError,
                                    r"GET /identityv2/data/detail\?handle=88.100.7/x: HTTP 502: "
                                    "answer is not JSON"):
            self.cl.detail("88.100.7/x")
        self.srv.answers.append(canned({"responseCode": 100, "message": "x"}, 404))
        with self.assertRaisesRegex(sc.SnmsProtocolError, "no integer \"status\""):
            self.cl.detail("88.100.7/x")
        self.srv.answers.append(canned([1, 2]))
        with self.assertRaisesRegex(sc.SnmsProtocolError, "not an object"):
            self.cl.detail("88.100.7/x")

    def test_error_answers_are_returned(self):
        for st, code in ((401, -1), (200, -2), (403, -3), (500, -4)):
            self.srv.answers.append(canned({"status": code, "message": "m%d" % code,
                                            "data": None}, st))
            ans = self.cl.create(REC)
            self.assertEqual((ans.http_status, ans.status, ans.message, ans.data),
                             (st, code, "m%d" % code, None))

    # -- retry --

    def test_504_is_outcome_unknown(self):
        self.srv.answers.append(canned(b"<html>504 Gateway Time-out</html>", 504, "text/html"))
        with self.assertRaises(sc.SnmsOutcomeUnknown):
            self.cl.create(REC)

    def test_create_retry_504_then_already_exists(self):
        self.login()
        self.srv.answers.extend([canned(b"<html>504</html>", 504, "text/html"),
                                 canned({"status": -2, "message": "identifier already exists",
                                         "data": None})])
        slept = []
        out = sc.create_with_retry(self.cl, REC, sleep=slept.append)
        self.assertEqual(out, sc.ItemOutcome("88.100.7/a1", "created_earlier", 2,
                                             "identifier already exists"))
        self.assertEqual(len(slept), 1)
        self.assertEqual([s.body for s in self.srv.seen[1:]], [REC, REC])

    def test_create_already_exists_first_time_is_not_ours(self):
        self.srv.answers.append(canned({"status": -2, "message": "标识已存在", "data": None}))
        out = sc.create_with_retry(self.cl, REC, sleep=lambda s: None)
        self.assertEqual((out.outcome, out.attempt), ("exists", 1))

    def test_batch_retry_per_item(self):
        self.login()
        recs = [sc.identifier("88.100.7/r%d" % i, "1.0", [(2000, "name", str(i))])
                for i in range(4)]
        self.srv.answers.extend([
            canned(b"<html>504 Gateway Time-out</html>", 504, "text/html"),
            DROP,  # the retry's answer lost as well
            canned({"status": 1, "message": "success", "data": [
                {"handle": "88.100.7/r0", "msg": "already exists"},
                {"handle": "88.100.7/r1", "msg": "success"},
                {"handle": "88.100.7/r2", "msg": "标识已存在"},
                {"handle": "88.100.7/r3", "msg": "field 2000 (name) too long"}]})])
        slept = []
        out = sc.batch_with_retry(self.cl, recs, attempts=3, delay=0.1, sleep=slept.append)
        self.assertEqual([(o.handle, o.outcome, o.attempt) for o in out], [
            ("88.100.7/r0", "created_earlier", 3), ("88.100.7/r1", "created", 3),
            ("88.100.7/r2", "created_earlier", 3), ("88.100.7/r3", "failed", 3)])
        self.assertEqual(out[3].msg, "field 2000 (name) too long")
        self.assertEqual(slept, [0.1, 0.2])
        self.assertEqual([s.body for s in self.srv.seen[1:]], [recs] * 3)

    def test_batch_no_retry_needed(self):
        recs = [sc.identifier("88.100.7/n%d" % i, "1.0", [(2000, "name", "v")]) for i in range(2)]
        self.srv.answers.append(canned({"status": 1, "message": "success", "data": [
            {"handle": "88.100.7/n0", "msg": "success"},
            {"handle": "88.100.7/n1", "msg": "already exists"}]}))
        out = sc.batch_with_retry(self.cl, recs, sleep=lambda s: None)
        self.assertEqual([o.outcome for o in out], ["created", "exists"])

    def test_batch_retries_exhausted_and_whole_batch_error(self):
        recs = [sc.identifier("88.100.7/x", "1.0", [(2000, "name", "v")])]
        self.srv.answers.extend([canned(b"x", 504, "text/plain")] * 2)
        with self.assertRaises(sc.SnmsOutcomeUnknown):
            sc.batch_with_retry(self.cl, recs, attempts=2, sleep=lambda s: None)
        self.assertEqual(len(self.srv.seen), 2)
        self.srv.answers.append(canned({"status": -2, "message": "at most 2000 items",
                                        "data": None}))
        out = sc.batch_with_retry(self.cl, recs, sleep=lambda s: None)
        self.assertEqual([(o.outcome, o.msg) for o in out], [("failed", "at most 2000 items")])

    def test_batch_answer_not_matching_items(self):
        recs = [sc.identifier("88.100.7/m%d" % i, "1.0", [(2000, "name", "v")]) for i in range(2)]
        self.srv.answers.append(canned({"status": 1, "message": "success",
                                        "data": [{"handle": "88.100.7/m0", "msg": "success"}]}))
        with self.assertRaisesRegex(sc.SnmsProtocolError, "1 items for 2 sent"):
            sc.batch_with_retry(self.cl, recs, sleep=lambda s: None)


class HrlsTest(unittest.TestCase):
    """The reverse-lookup request as PYHANDLE's searcher builds it."""

    def setUp(self):
        self.srv = Recorder()
        self.auth = ("300:88.100.7/ADMIN", "pa ss")

    def tearDown(self):
        self.srv.close()

    def test_url_construction(self):
        # PYHANDLE's own expected queries: '?URL=foo', '?CHECKSUM=foo' (None dropped).
        self.assertEqual(sc.hrls_url("http://h:8000", URL="foo"),
                         "http://h:8000/hrls/handles?URL=foo")
        self.assertEqual(sc.hrls_url("http://h:8000/", URL=None, CHECKSUM="foo"),
                         "http://h:8000/hrls/handles?CHECKSUM=foo")
        self.assertEqual(sc.hrls_url("https://h/", URL="https://example.com/p?a=1*",
                                     CHECKSUM="ab c"),
                         "https://h/hrls/handles?URL=https://example.com/p?a=1*&CHECKSUM=ab%20c")
        self.assertEqual(sc.hrls_url("http://h", allowed_search_keys=(), EMAIL="x@y.z*"),
                         "http://h/hrls/handles?EMAIL=x@y.z*")
        with self.assertRaisesRegex(sc.ReverseLookupError, "Cannot search for key \"EMAIL\""):
            sc.hrls_url("http://h", URL="*", EMAIL="x")
        with self.assertRaisesRegex(sc.ReverseLookupError, "No search terms"):
            sc.hrls_url("http://h", URL=None)
        with self.assertRaisesRegex(sc.ReverseLookupError, "Full-text search"):
            sc.hrls_url("http://h", URL="*", searchterms=["a"])

    def test_request_sent_and_prefix_filter(self):
        self.srv.answers.append(canned(["88.100.7/p1", "88.100.8/p2", "88.100.70/p4",
                                        "88.100.7/p3/x"]))
        got = sc.search_handle(self.srv.url, prefix="88.100.7", URL="https://example.com/*",
                               auth=self.auth)
        self.assertEqual(got, ["88.100.7/p1", "88.100.7/p3/x"])
        s = self.srv.seen[-1]
        self.assertEqual((s.method, s.target), ("GET", "/hrls/handles?URL=https://example.com/*"))
        # printf %s '300%3A88.100.7/ADMIN:pa%20ss' | base64
        self.assertEqual(s.headers["Authorization"],
                         "Basic MzAwJTNBODguMTAwLjcvQURNSU46cGElMjBzcw==")
        self.assertEqual(base64.b64decode(s.headers["Authorization"][6:]),
                         b"300%3A88.100.7/ADMIN:pa%20ss")
        self.srv.answers.append(canned(["88.100.7/p1", "88.100.8/p2"]))
        self.assertEqual(sc.search_handle(self.srv.url, URL="*", CHECKSUM="9*", auth=self.auth),
                         ["88.100.7/p1", "88.100.8/p2"])
        self.assertEqual(self.srv.seen[-1].target, "/hrls/handles?URL=*&CHECKSUM=9*")

    def test_refused_before_sending(self):
        with self.assertRaisesRegex(sc.ReverseLookupError, "username and password"):
            sc.search_handle(self.srv.url, URL="*", auth=None)
        with self.assertRaisesRegex(sc.ReverseLookupError, "Cannot search for key"):
            sc.search_handle(self.srv.url, URL="*", DESC="x", auth=self.auth)
        self.assertEqual(self.srv.seen, [])

    def test_answers_parsed_as_pyhandle(self):
        cases = [
            (canned({"x": 1}, 401), "Authentication failed"),
            (canned(b"<html>The handle you requested\n cannot be found</html>", 404, "text/html"),
             r"Wrong search servlet URL .*It seems you reached a Handle Server"),
            (canned(b"not json", 200, "text/plain"), "The response is not JSON"),
            (canned(b"RemoteSolrException: Error from server at http://s: undefined field FOO",
                    500, "text/plain"), "undefined field"),
            (canned({"handles": []}), "not a JSON list of handles"),
            (canned(b"oops", 500, "text/plain"), "HTTP 500"),
        ]
        for ans, pattern in cases:
            self.srv.answers.append(ans)
            with self.assertRaisesRegex(sc.ReverseLookupError, pattern):
                sc.search_handle(self.srv.url, URL="*", auth=self.auth)
        self.srv.answers.append(canned([]))
        self.assertEqual(sc.search_handle(self.srv.url, URL="nothing*", auth=self.auth), [])


if __name__ == "__main__":
    unittest.main()
