"""System tests for search (docs/search.md) over real HTTP, on LMDB and, with
IDN_TEST_PG, on PostgreSQL: Handle.Net's reverse lookup GET /hrls/handles as
PYHANDLE's search_handle calls it (TYPE=VALUE parameters unencoded, Basic
authentication, a JSON list of handles; limit and page; /hrls/handles/PREFIX),
and GET /api/search with terms, prefixes, date ranges, cursor paging and
permissions (an admin-only value is found only by a caller with the read
right); the index follows writes made through the REST API; bad input is a
400 naming what is wrong."""
import base64
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode  # noqa: E402
import snms_client  # noqa: E402
from idnlib import IDNODE, PG, PG_REQUIRED, admin_data, free_port, hexval, keygen  # noqa: E402
from idnlib import pg_database  # noqa: E402

SECRET = b"search-secret-2026"
N = 40


def basic(user, secret):
    tok = base64.b64encode(urllib.parse.quote(user, safe="/").encode() + b":" + secret)
    return {"Authorization": "Basic " + tok.decode()}


AUTH = basic("300:88.100.1/sec", SECRET)


def sval(index, typ, text, perms=None):
    v = {"index": index, "type": typ, "data": {"format": "string", "value": text}}
    if perms is not None:
        v["perms"] = perms
    return v


def records():
    adm = hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, "88.100.1/sec"))
    out = [
        {"handle": "0.NA/88.100.1", "values": [adm]},
        {"handle": "0.NA/88.100.2", "values": [
            hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, "0.NA/88.100.2"))]},
        {"handle": "88.100.1/sec", "values": [
            hexval(300, "HS_SECKEY", SECRET.hex(), perms=0x0c), adm]},
        # another prefix: the same URL, and an owner only its own admins read
        {"handle": "88.100.2/X", "values": [
            sval(1, "URL", "http://example.org/item/3"),
            sval(2, "owner", "acme", perms=0x0c),
            hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, "0.NA/88.100.2"))]},
    ]
    for i in range(N):
        vals = [sval(1, "URL", "http://example.org/item/%d" % i),
                sval(2000, "batch", "B%d" % (i % 4)),
                sval(2001, "produced", "2026-01-%02d" % (i % 28 + 1))]
        if i % 5 == 0:
            vals.append(sval(2002, "owner", "acme", perms=0x0c))  # admins only
        out.append({"handle": "88.100.1/A%03d" % i, "values": vals})
    return out


def item(i):
    return "88.100.1/A%03d" % i


class SearchBase:
    """The tests; a subclass says which store the node runs on."""

    store = None

    @classmethod
    def setUpClass(cls):
        cls.node = HttpNode(records=records(), homes=("88.100.1", "88.100.2"), store=cls.store)

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        cls.node.close()

    def get(self, path, headers=None):
        c = self.node.conn(timeout=30)
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            st, b = r.status, r.read()
        finally:
            c.close()
        return st, (json.loads(b) if b and b[:1] in b"[{" else b)

    def search(self, query, headers=None):
        st, b = self.get("/api/search?" + query, headers)
        self.assertEqual(st, 200, b)
        self.assertEqual(b["responseCode"], 1)
        return b

    # ---- /hrls/handles, as PYHANDLE's Searcher builds it ----

    def test_hrls_exact(self):
        # search_handle(URL=...): ?URL=<value> unencoded, Basic auth
        st, b = self.get("/hrls/handles?URL=http://example.org/item/3", AUTH)
        self.assertEqual(st, 200, b)
        self.assertEqual(b, [item(3), "88.100.2/X"])
        # anonymous too: a public value
        st, b = self.get("/hrls/handles?URL=http://example.org/item/3")
        self.assertEqual(b, [item(3), "88.100.2/X"])
        # several pairs: AND; the type's case does not matter
        st, b = self.get("/hrls/handles?url=http://example.org/item/5&BATCH=B1")
        self.assertEqual((st, b), (200, [item(5)]))
        st, b = self.get("/hrls/handles?URL=http://example.org/item/5&batch=B2")
        self.assertEqual((st, b), (200, []))
        st, b = self.get("/hrls/ping", AUTH)
        self.assertEqual((st, b), (200, b"OK"))

    def test_hrls_with_the_independent_pyhandle_client(self):
        # snms_client.search_handle: PYHANDLE's search_handle rewritten from its
        # published behaviour, not from idnode's code (tests/system/snms_client.md)
        base = "http://127.0.0.1:%d" % self.node.http_port
        auth = ("300:88.100.1/sec", SECRET.decode())
        self.assertEqual(snms_client.search_handle(base, URL="http://example.org/item/3",
                                                   auth=auth), [item(3), "88.100.2/X"])
        self.assertEqual(snms_client.search_handle(base, prefix="88.100.2",
                                                   URL="http://example.org/item/3", auth=auth),
                         ["88.100.2/X"])
        self.assertEqual(snms_client.search_handle(base, URL="http://example.org/item/1*",
                                                   auth=auth),
                         [item(1)] + [item(i) for i in range(10, 20)])
        self.assertEqual(snms_client.search_handle(base, URL="http://nowhere.example/",
                                                   auth=auth), [])

    def test_hrls_wildcard_and_pages(self):
        st, b = self.get("/hrls/handles?URL=http://example.org/item/1*")
        self.assertEqual(b, [item(1)] + [item(i) for i in range(10, 20)])
        # URL=* is every handle with a URL; limit and page (from 0)
        st, b = self.get("/hrls/handles?URL=*&limit=5&page=1")
        self.assertEqual(b, [item(i) for i in range(5, 10)])
        st, b = self.get("/hrls/handles?URL=*&limit=1000")
        self.assertEqual(len(b), N + 1)
        # a prefix in the path, and as a parameter
        st, b = self.get("/hrls/handles/88.100.2?URL=http://example.org/item/3")
        self.assertEqual(b, ["88.100.2/X"])
        st, b = self.get("/hrls/handles?URL=http://example.org/item/3&prefix=88.100.1")
        self.assertEqual(b, [item(3)])

    def test_gather_finds_nothing(self):
        # a beginning or a range no entry has: the walk gathers no candidate (its
        # list was sorted from NULL: UBSan stopped the node there)
        for q in ("/hrls/handles?URL=zzz-none*", "/api/search?q=produced>=2099-01-01"):
            st, b = self.get(q)
            self.assertEqual(st, 200, b)
            self.assertIn(b, ([], {"responseCode": 1, "handles": [], "next": None}))
        self.assertTrue(self.node.alive(), self.node.output())

    def test_hrls_bad_input(self):
        for q, word in (("URL=*example*", "leading wildcard"), ("URL=http*x*", "'*'"),
                        ("URL=*&limit=100001", "limit"), ("URL=x&limit=0", "limit"),
                        ("URL=x&page=-1", "page"), ("URL=x&retrieverecords=true",
                                                    "retrieverecords"),
                        ("HS_ADMIN=x", "not searchable"), ("", "term is needed"),
                        ("URL=x&prefix=a/b", "prefix")):
            st, b = self.get("/hrls/handles?" + q)
            self.assertEqual(st, 400, (q, b))
            self.assertIn(word, b["message"], q)
        # the whole reason, and up to 8 pairs
        st, b = self.get("/hrls/handles?URL=*x")
        self.assertIn("search by a value or its beginning (text*)", b["message"])
        st, b = self.get("/hrls/handles?" + "&".join("t%d=v" % i for i in range(8)))
        self.assertEqual((st, b), (200, []))
        st, b = self.get("/hrls/handles?" + "&".join("t%d=v" % i for i in range(9)))
        self.assertEqual(st, 400, b)
        self.assertIn("at most 8", b["message"])
        st, b = self.get("/hrls/handles?URL=x", basic("300:88.100.1/sec", b"wrong"))
        self.assertEqual(st, 401, b)

    # ---- /api/search ----

    def test_api_terms(self):
        b = self.search("q=batch=B1")
        self.assertEqual(b["handles"], [item(i) for i in range(N) if i % 4 == 1])
        self.assertIsNone(b["next"])
        # a date range: two bounds on one field
        b = self.search("q=produced%3E=2026-01-05&q=produced%3C=2026-01-08")
        self.assertEqual(b["handles"], [item(i) for i in range(N) if 5 <= i % 28 + 1 <= 8])
        # AND across fields, one of them a range
        b = self.search("q=batch=B1&q=produced<=2026-01-10")
        self.assertEqual(b["handles"], [item(1), item(5), item(9), item(29), item(33),
                                        item(37)])
        b = self.search("q=URL=http://example.org/item/3&prefix=88.100.2")
        self.assertEqual(b["handles"], ["88.100.2/X"])
        b = self.search("q=URL=http://example.org/item/2*&q=batch=B0")
        self.assertEqual(b["handles"], [item(20), item(24), item(28)])

    def test_api_pages(self):
        # cursor paging walks every match once, in order, then says null
        got, cursor, pages = [], None, 0
        while pages < 20:
            q = "q=URL=*&limit=7" + ("&cursor=" + cursor if cursor else "")
            b = self.search(q)
            got += b["handles"]
            pages += 1
            cursor = b["next"]
            if cursor is None:
                break
        self.assertEqual(got, sorted([item(i) for i in range(N)] + ["88.100.2/X"]))
        self.assertEqual(pages, 6)
        b = self.search("q=batch=B3&limit=4")
        self.assertEqual(b["handles"], [item(3), item(7), item(11), item(15)])
        b = self.search("q=batch=B3&limit=4&cursor=" + b["next"])
        self.assertEqual(b["handles"], [item(19), item(23), item(27), item(31)])

    def test_api_permissions(self):
        # owner is admin-only: nobody anonymous finds it
        self.assertEqual(self.search("q=owner=acme")["handles"], [])
        # the admin of 88.100.1 finds its own, not 88.100.2's
        b = self.search("q=owner=acme", AUTH)
        self.assertEqual(b["handles"], [item(i) for i in range(N) if i % 5 == 0])
        b = self.search("q=owner=acme&q=batch=B0", AUTH)
        self.assertEqual(b["handles"], [item(i) for i in range(N) if i % 20 == 0])

    def test_api_bad_input(self):
        for q, word in (("q=batch=B1&foo=1", "foo"), ("q=batch", "a term is"),
                        ("q=batch=B1&limit=10001", "limit"), ("q=batch=B1&limit=x", "limit"),
                        ("q==x", "a term is"), ("q=produced>=2026-1-1", "YYYY-MM-DD"),
                        ("q=batch=*x", "leading wildcard"), ("prefix=88.100.1", "q is needed"),
                        ("q=batch=B1&cursor=zz", "cursor"), ("q=batch=%ff", "UTF-8")):
            st, b = self.get("/api/search?" + q)
            self.assertEqual(st, 400, (q, b))
            self.assertIn(word, b["message"], q)
        st, b = self.get("/api/search?" + "&".join(["q=batch=B1"] * 9))
        self.assertEqual(st, 400, b)
        self.assertIn("at most 8", b["message"])

    def test_writes_follow(self):
        # a create, a change and a delete through the REST API are searchable at once
        body = json.dumps({"values": [sval(1, "URL", "http://example.org/new"),
                                      sval(2000, "batch", "NEW")]})
        h = dict(AUTH, **{"Content-Type": "application/json"})
        st, _, b = self.node.req("PUT", "/api/handles/88.100.1/NEW1", body, h)
        self.assertIn(st, (200, 201), b)
        self.assertEqual(self.search("q=batch=NEW")["handles"], ["88.100.1/NEW1"])
        body = json.dumps({"values": [sval(1, "URL", "http://example.org/changed")]})
        st, _, b = self.node.req("PUT", "/api/handles/88.100.1/NEW1", body, h)
        self.assertIn(st, (200, 201), b)
        self.assertEqual(self.search("q=batch=NEW")["handles"], [])
        self.assertEqual(self.search("q=URL=http://example.org/changed")["handles"],
                         ["88.100.1/NEW1"])
        st, _, b = self.node.req("DELETE", "/api/handles/88.100.1/NEW1", None, AUTH)
        self.assertEqual(st, 200, b)
        self.assertEqual(self.search("q=URL=http://example.org/changed")["handles"], [])

    def test_index_cli(self):
        # the index's state on the command line, beside the running node
        where = self.node.where
        out = self.node.cli("index", "status", *where)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"index: on, \d+ entries")
        out = self.node.cli("index", "verify", *where)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("0 entries missing or different, 0 extra", out.stdout)
        try:
            out = self.node.cli("index", "off", *where)
            self.assertEqual(out.returncode, 0, out.stderr)
            st, b = self.get("/api/search?q=batch=B1")
            self.assertEqual(st, 501, b)
            self.assertIn("index is off", b["message"])
            self.assertIn("off, 0 entries", self.node.cli("index", "status", *where).stdout)
        finally:
            out = self.node.cli("index", "on", *where)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(len(self.search("q=batch=B1")["handles"]), N // 4)
        # a restore leaves the index whole (rebuilt once at its end)
        dump = os.path.join(self.node.dir, "backup.jsonl")
        self.assertEqual(self.node.cli("dump", *where, "-o", dump).returncode, 0)
        copy = os.path.join(self.node.dir, "restored")
        out = self.node.cli("restore", "--data", copy, dump)
        self.assertEqual(out.returncode, 0, out.stderr)
        want = self.node.cli("index", "status", *where).stdout
        self.assertEqual(self.node.cli("index", "status", "--data", copy).stdout, want)
        out = self.node.cli("index", "verify", "--data", copy)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        for bad in (["index", "sideways"] + where, ["index", "on"],
                    ["index", "status", "--data", os.path.join(self.node.dir, "nothing")]):
            out = self.node.cli(*bad)
            self.assertEqual(out.returncode, 2, bad)
            self.assertIn("idnode index", out.stderr)


class SearchLmdbTest(SearchBase, unittest.TestCase):
    """The tests on an LMDB store (--data)."""


@unittest.skipUnless(PG or PG_REQUIRED, "IDN_TEST_PG is not set: run scripts/pg.sh start and "
                     "export IDN_TEST_PG=<the URI it prints>")
class SearchPgTest(SearchBase, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.store = pg_database("search", cls.addClassCleanup)
        super().setUpClass()


class SearchCursorTest(unittest.TestCase):
    """A page's cursor names no identifier the caller may not read."""

    def test_cursor_hides_what_it_passed(self):
        # five identifiers whose owner only admins read, one public: with a budget of
        # 3 entries the anonymous walk stops among the hidden ones (its cursor was
        # their identifier in hex: 88.100.1/S2 had owner=acme, told to anyone)
        recs = [{"handle": "88.100.1/S%d" % i, "values": [sval(1, "owner", "acme", perms=0x0c)]}
                for i in range(5)]
        recs.append({"handle": "88.100.1/T", "values": [sval(1, "owner", "acme")]})
        node = HttpNode(records=recs, homes=("88.100.1",), extra_args=["--search-scan-max", "3"])
        try:
            found, cursor, pages = [], None, 0
            while pages < 10:
                q = "/api/search?q=owner=acme" + ("&cursor=" + cursor if cursor else "")
                st, _, b = node.req("GET", q)
                self.assertEqual(st, 200, b)
                b = json.loads(b)
                found += b["handles"]
                cursor, pages = b["next"], pages + 1
                if not cursor:
                    break
                self.assertNotIn(b"88.100.1/S".hex(), cursor)
                self.assertNotIn(b"88.100.1/S".hex().upper(), cursor.upper())
            self.assertEqual(found, ["88.100.1/T"])
            self.assertLess(pages, 10)
            # a cursor altered, or one no page gave, is refused
            st, _, b = node.req("GET", "/api/search?q=owner=acme&cursor=" +
                                b"88.100.1/S3".hex())
            self.assertEqual(st, 400, b)
        finally:
            node.close()


class SearchMirrorTest(unittest.TestCase):
    """A mirror builds its index from what it applies: the same searches, the same answers."""

    def test_mirror_answers_the_same(self):
        tmp = tempfile.mkdtemp(prefix="idn-search-mirror-")
        key = os.path.join(tmp, "repl.pem")
        pub = keygen(key)
        recs = records()
        recs[0]["values"] += [hexval(101, "HS_ADMIN", admin_data(0x0FFF, 300, "0.NA/88.100.1")),
                              hexval(300, "HS_PUBKEY", pub)]
        primary = HttpNode(records=recs, homes=("88.100.1", "88.100.2", "0.NA"),
                           extra_args=["--server-admin", "300:0.NA/88.100.1"])
        mport, hport = free_port(), free_port()
        log = open(os.path.join(tmp, "mirror.log"), "a")
        mirror = subprocess.Popen(
            [IDNODE, "serve", "--data", os.path.join(tmp, "m"), "--threads", "1",
             "--listen", "127.0.0.1:%d" % mport, "--http", "127.0.0.1:%d" % hport,
             "--mirror-of", "127.0.0.1:%d" % primary.port, "--id", "300:0.NA/88.100.1",
             "--key", key], stdout=log, stderr=subprocess.STDOUT)
        try:
            queries = ["q=batch=B1", "q=URL=http://example.org/item/1*",
                       "q=produced>=2026-01-05&q=produced<=2026-01-08", "q=owner=acme"]
            # a write after the mirror started comes through the log
            body = json.dumps({"values": [sval(2000, "batch", "B1")]})
            h = dict(AUTH, **{"Content-Type": "application/json"})
            st, _, b = primary.req("PUT", "/api/handles/88.100.1/LATE", body, h)
            self.assertIn(st, (200, 201), b)
            want = {q: self.search(primary.http_port, q, AUTH) for q in queries}
            self.assertIn("88.100.1/LATE", want["q=batch=B1"])
            got, deadline = None, time.time() + 60
            while time.time() < deadline and mirror.poll() is None:
                try:
                    got = {q: self.search(hport, q, AUTH) for q in queries}
                except (OSError, AssertionError, ValueError):
                    got = None
                if got == want:
                    break
                time.sleep(0.2)
            self.assertEqual(got, want)
        finally:
            mirror.kill()
            mirror.wait(10)
            log.close()
            primary.stop()
            primary.close()
            shutil.rmtree(tmp, ignore_errors=True)

    def search(self, port, query, headers):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            c.request("GET", "/api/search?" + query, headers=headers)
            r = c.getresponse()
            b = json.loads(r.read())
        finally:
            c.close()
        if r.status != 200:
            raise AssertionError(b)
        return b["handles"]

if __name__ == "__main__":
    unittest.main()
