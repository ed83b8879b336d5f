"""The gateway as a GS1-conformant resolver (issue 19, docs/gs1-resolver.md),
with real processes: root (88, holding the GS1 registry record
88/GS1-REGISTRY) -> secondary (88.100) -> the enterprise 88.100.1, and a
store-less recursive node with --http, --https and --gs1-registry in front.
GS1 Digital Link URIs resolve through the registry's GS1.RULE values to the
enterprise's identifiers, whose GS1.LINK.* and URL values give the links.
Each test names the statement of the GS1-Conformant Resolver standard
(release 1.1/1.2, ref.gs1.org/standards/resolver) it checks. The enterprise
node runs on LMDB, and in the PgResolver class on PostgreSQL (IDN_TEST_PG;
skipped without it unless IDN_TEST_PG_REQUIRED=1). Every wait is bounded."""
import http.client
import io
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode  # noqa: E402
from idnlib import DEADLINE  # noqa: E402
from idnlib import IDNODE, Node, admin_data, free_port, hexval, pg_database  # noqa: E402
from idnlib import siteinfo, url  # noqa: E402
from test_labels import svg_to_pgm, zbar  # noqa: E402
SECRET = b"gs1-registry-operator-secret"
OPERATOR = "300:0.NA/88"
REGISTRY = "88/GS1-REGISTRY"


def gtin(body13):
    """A GTIN-14 from its first 13 digits: the mod-10 check digit appended."""
    tot = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body13)))
    return body13 + str((10 - tot % 10) % 10)


G1 = gtin("0061414112345")   # company prefix 0614141
G2 = gtin("0061414199999")   # same prefix, no record registered
G_ADD = "09520123456788"     # company prefix 9520123: its rule is added by the test
G3 = gtin("0061414155555")   # same prefix: a GTIN-level record, one serial's record
G_ZIP = "09780345418913"     # the compressed URI's GTIN (prefix 978034)
ZIP_PATH = "/DBHKVAdpQgqrCg"  # = /01/09780345418913/21/43786 (URI Syntax's example)
H1 = gtin("0952001000001")   # company prefix 952001: handled by another resolver
H2 = gtin("0952001900001")   # company prefix 9520019 (longer): mapped here
OTHER = "https://resolver.other.example"


def val(index, typ, data, ttl=None):
    v = {"index": index, "type": typ, "data": data}
    if ttl is not None:
        v["ttl"] = ttl
    return v


def where(hd):
    """A redirect's target without the query passed on to it."""
    return hd.get("location", "").split("?")[0]


def h(g, serial):
    return "88.100.1/01.%s.21.%s" % (g, serial)


ENTERPRISE = [
    {"handle": h(G1, "S1"), "values": [
        url(1, "https://motor.example/s1"),
        val(2, "GS1.LINK.pip", "https://motor.example/s1/en lang=en type=text/html "
                               "title=Motor M1"),
        val(3, "GS1.LINK.pip", "https://motor.example/s1/zh lang=zh type=text/html "
                               "title=电机 M1"),
        val(4, "GS1.LINK.instructions", "https://motor.example/s1/manual.html "
                                        "type=text/html title=Manual"),
        val(5, "GS1.LINK.instructions", "https://motor.example/s1/manual.pdf "
                                        "type=application/pdf title=Manual (PDF)")]},
    {"handle": h(G1, "S2"), "values": [
        url(1, "https://motor.example/url2"),
        val(2, "GS1.LINK.defaultLink", "https://motor.example/default2 title=Default")]},
    {"handle": h(G1, "S3"), "values": [val(1, "EMAIL", "service@motor.example")]},
    {"handle": h(G1, "LONG"), "values": [url(1, "https://motor.example/" + "a" * 1900)]},
    {"handle": h(G_ZIP, "43786"), "values": [url(1, "https://motor.example/zip")]},
    {"handle": h(G_ADD, "12345"), "values": [url(1, "https://motor.example/added")]},
    {"handle": "88.100.1/MOTOR-1", "values": [url(1, "https://motor.example/plain")]},
    # The GTIN-level record (rule "0614141 88.100.1/01.{01}"): links of every serial.
    {"handle": "88.100.1/01.%s" % G3, "values": [
        url(1, "https://motor.example/g3"),
        val(2, "GS1.LINK.certificationInfo", "https://motor.example/g3/ce title=CE")]},
    {"handle": h(G3, "L1"), "values": [
        val(1, "GS1.LINK.instructions", "https://motor.example/g3/l1/manual title=Manual")]},
]


class Resolver(unittest.TestCase):
    STORE = None  # the enterprise node's --store (None: LMDB in its data directory)

    @classmethod
    def setUpClass(cls):
        cls.nodes = []
        cls.tmp = tempfile.mkdtemp(prefix="idn-gs1-")
        try:
            cls.start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def start(cls):
        rp, sp, ep = free_port(), free_port(), free_port()
        registry = {"handle": REGISTRY, "values": [
            # ttl 1: a rule the operator adds is seen by the gateway a second later
            val(1, "GS1.RULE", "0614141 88.100.1/01.{01}.21.{21}", ttl=1),
            val(2, "GS1.RULE", "978034 01 88.100.1/01.{01}.21.{21}", ttl=1),
            val(4, "GS1.RULE", "0614141 88.100.1/01.{01}", ttl=1),
            val(3, "GS1.RULE", "not a rule", ttl=1),  # skipped, logged once
            val(5, "GS1.RULE", "952001 01 handledBy:%s/" % OTHER, ttl=1),
            val(6, "GS1.RULE", "9520019 01 88.100.1/01.{01}", ttl=1),
            hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, "0.NA/88"))]}
        cls.root = Node(records=[
            {"handle": "0.NA/88", "values": [
                siteinfo("--listen", "127.0.0.1:%d" % rp),
                hexval(300, "HS_SECKEY", SECRET.hex(), perms=0x0c)]},
            {"handle": "0.NA/88.100",
             "values": [siteinfo("--listen", "127.0.0.1:%d" % sp),
                        siteinfo("--listen", "127.0.0.1:%d" % sp, index=2,
                                 typ="HS_SITE.PREFIX")]},
            registry], homes=("88", "0.NA"), listen=["127.0.0.1:%d" % rp])
        cls.nodes.append(cls.root)
        cls.sec = Node(records=[{"handle": "0.NA/88.100.1", "values": [
            siteinfo("--listen", "127.0.0.1:%d" % ep, "--site-desc", "Motor works")]}],
            homes=("88.100", "0.NA"), listen=["127.0.0.1:%d" % sp])
        cls.nodes.append(cls.sec)
        cls.ent = Node(records=ENTERPRISE, homes=("88.100.1",), store=cls.STORE,
                       listen=["127.0.0.1:%d" % ep])
        cls.nodes.append(cls.ent)
        cls.cert = os.path.join(cls.tmp, "cert.pem")
        key = os.path.join(cls.tmp, "key.pem")
        out = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", key, "-out", cls.cert], capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr
        cls.https_port = free_port()
        cls.gw = HttpNode(nostore=True, threads=2, extra_args=[
            "--recursive", "--root", "127.0.0.1:%d" % rp, "--neg-ttl", "1",
            "--gs1-registry", REGISTRY, "--https", "127.0.0.1:%d" % cls.https_port,
            "--tls-cert", cls.cert, "--tls-key", key])
        cls.nodes.append(cls.gw)

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes:
            n.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def req(self, method, path, headers=None):
        """(status, headers lower-cased, body) through the gateway; redirects not followed."""
        return self.gw.req(method, path, None, headers)

    def get(self, path, **headers):
        return self.req("GET", path, {k.replace("_", "-"): v for k, v in headers.items()})

    def assert_cors(self, hd, preflight=False):
        self.assertEqual(hd.get("access-control-allow-origin"), "*", hd)
        self.assertIn("Link", hd.get("access-control-expose-headers", ""))
        if preflight:
            self.assertIn("GET", hd.get("access-control-allow-methods", ""))
            self.assertIn("Accept-Language", hd.get("access-control-allow-headers", ""))

    def test_01_get_head_options(self):
        """Resolver standard, "HTTP": a GS1-conformant resolver SHALL support the
        GET, HEAD and OPTIONS methods."""
        path = "/01/%s/21/S1" % G1
        st, hd, b = self.req("GET", path)
        self.assertEqual((st, hd.get("location")), (307, "https://motor.example/s1"), b)
        st, hd, b = self.req("HEAD", path)
        self.assertEqual((st, hd.get("location"), b), (307, "https://motor.example/s1", b""))
        st, hd, b = self.req("OPTIONS", path)
        self.assertEqual(st, 204, b)
        self.assertIn("OPTIONS", hd.get("allow", ""))
        self.assert_cors(hd, preflight=True)
        st, hd, b = self.req("POST", path)
        self.assertEqual(st, 405, b)
        self.assertIn("GET, HEAD and OPTIONS", json.loads(b)["message"])

    def test_02_https(self):
        """Resolver standard, "HTTPS": a resolver SHALL support HTTPS (and the
        URIs it writes use the scheme the request came in)."""
        ctx = ssl.create_default_context(cafile=self.cert)
        c = http.client.HTTPSConnection("127.0.0.1", self.https_port, context=ctx, timeout=10)
        try:
            c.request("GET", "/01/%s/21/S2?linkType=all" % G1)
            r = c.getresponse()
            doc = json.loads(r.read())
            self.assertEqual(r.status, 200)
            self.assertEqual(doc["linkset"][0]["anchor"],
                             "https://127.0.0.1:%d/01/%s/21/S2" % (self.https_port, G1))
        finally:
            c.close()

    def test_03_cors_on_every_answer(self):
        """Resolver standard, "CORS": responses SHALL carry the CORS headers
        (Access-Control-Allow-Origin: *) so Web applications may read them:
        redirects, linksets, the description file, 400s, 404s and OPTIONS."""
        for path in ("/01/%s/21/S1" % G1, "/01/%s/21/S1?linkType=all" % G1,
                     "/.well-known/gs1resolver", "/01/%s" % G1[:-1] + "0",
                     "/01/%s/21/NOPE" % G1, ZIP_PATH):
            st, hd, b = self.get(path)
            self.assertIn(st, (200, 307, 400, 404), (path, b))
            self.assert_cors(hd)

    def test_04_description_file(self):
        """Resolver standard, "Resolver description file": a resolver SHALL
        publish its description at /.well-known/gs1resolver (name,
        resolverRoot, supportedPrimaryKeys, supportedLinkType)."""
        st, hd, b = self.get("/.well-known/gs1resolver")
        self.assertEqual((st, hd["content-type"]), (200, "application/json"))
        d = json.loads(b)
        self.assertEqual(d["resolverRoot"], "http://127.0.0.1:%d" % self.gw.http_port)
        self.assertTrue(d["name"])
        for k in ("01", "00", "414", "8004"):
            self.assertIn(k, d["supportedPrimaryKeys"])
        self.assertEqual(d["supportedLinkType"][0]["namespace"], "https://gs1.org/voc/")

    def test_05_default_link_307(self):
        """Resolver standard, "Redirection": without linkType the resolver SHALL
        redirect to the default link (gs1:defaultLink), with 307 Temporary
        Redirect. Here: GS1.LINK.defaultLink, else the URL value, else the
        identifier's record page."""
        st, hd, b = self.get("/01/%s/21/S2" % G1)
        self.assertEqual((st, hd.get("location")), (307, "https://motor.example/default2"))
        st, hd, b = self.get(ZIP_PATH)
        self.assertEqual((st, hd.get("location")), (307, "https://motor.example/zip"), b)
        st, hd, b = self.get("/01/%s/21/S3" % G1)
        page = "http://127.0.0.1:%d/88.100.1/01.%s.21.S3" % (self.gw.http_port, G1)
        self.assertEqual((st, hd.get("location")), (307, page))
        # The record page itself is the gateway's proxy page of that identifier.
        st, hd, b = self.get("/88.100.1/01.%s.21.S3" % G1)
        self.assertEqual(st, 200)
        self.assertIn(b"service@motor.example", b)

    def test_06_link_type(self):
        """Resolver standard: "SHALL redirect to the requested type of link if
        available" (linkType as gs1:type or the full https://gs1.org/voc/type
        URI) and "SHALL return a 404 Not Found message if a link of the
        requested type is not available"."""
        for lt in ("gs1:instructions", "https://gs1.org/voc/instructions"):
            st, hd, b = self.get("/01/%s/21/S1?linkType=%s" % (G1, lt))
            self.assertEqual((st, where(hd)),
                             (307, "https://motor.example/s1/manual.html"), lt)
        st, hd, b = self.get("/01/%s/21/S1?linkType=gs1:recallStatus" % G1)
        self.assertEqual(st, 404, b)
        self.assertNotIn("location", hd)
        self.assertIn("gs1:recallStatus", json.loads(b)["message"])
        st, hd, b = self.get("/01/%s/21/S1?linkType=gs1:%%20x" % G1)
        self.assertEqual(st, 400, b)

    def test_07_linkset(self):
        """Resolver standard: "SHALL respond to a query parameter of linkType set
        to linkset and/or a request with the HTTP Accept header set to
        application/linkset+json by returning a list of links ... as per
        RFC9264"; "All links in the linkset SHALL include the target URL, the
        link type and a link title"; "SHOULD expose link to the linkset in an
        HTTP Link header, even when redirecting" (linkType=all, the older
        name, too)."""
        st, hd, b = self.get("/01/%s/21/S1?linkType=linkset" % G1)
        self.assertEqual((st, hd["content-type"]), (200, "application/linkset+json"), b)
        ls = json.loads(b)["linkset"]
        self.assertEqual(len(ls), 1)
        ctx = ls[0]
        self.assertEqual(ctx["anchor"], "http://127.0.0.1:%d/01/%s/21/S1" %
                         (self.gw.http_port, G1))
        pip = ctx["https://gs1.org/voc/pip"]
        self.assertEqual([p["href"] for p in pip],
                         ["https://motor.example/s1/en", "https://motor.example/s1/zh"])
        self.assertEqual((pip[1]["hreflang"], pip[1]["title"], pip[1]["type"]),
                         (["zh"], "电机 M1", "text/html"))
        # "The default link SHALL NOT have any optional attributes"
        self.assertEqual(ctx["https://gs1.org/voc/defaultLink"],
                         [{"href": "https://motor.example/s1", "title": "Web page"}])
        self.assertEqual(len(ctx["https://gs1.org/voc/instructions"]), 2)
        # The record page: gs1:pip is taken, so it is "describedby".
        self.assertIn("/88.100.1/01.%s.21.S1" % G1, ctx["describedby"][0]["href"])
        for links in ctx.values():
            for link in links if isinstance(links, list) else []:
                self.assertTrue(link["href"].startswith("http"))
                self.assertTrue(link["title"])
        link = hd.get("link", "")
        self.assertIn('rel="linkset"', link)
        # The linkset context file (the standard's artefact) makes the JSON JSON-LD.
        self.assertIn('<https://ref.gs1.org/standards/resolver/linkset-context>; '
                      'rel="http://www.w3.org/ns/json-ld#context"', link)
        self.assertIn('<https://motor.example/s1/manual.pdf>; '
                      'rel="https://gs1.org/voc/instructions"', link)
        for path, acc in (("/01/%s/21/S1" % G1, "application/linkset+json"),
                          ("/01/%s/21/S1?linkType=all" % G1, "*/*")):
            st2, hd2, b2 = self.get(path, Accept=acc)
            self.assertEqual((st2, json.loads(b2)), (200, json.loads(b)))
        # A redirect's Link header points at the linkset.
        st, hd, b = self.get("/01/%s/21/S1" % G1)
        self.assertIn("<http://127.0.0.1:%d/01/%s/21/S1?linkType=linkset>; rel=\"linkset\""
                      % (self.gw.http_port, G1), hd.get("link", ""))

    def test_07b_anchor_is_the_canonical_uri(self):
        """Resolver standard: the linkset's anchor and the Link header's linkset
        reference name the item by its canonical GS1 Digital Link URI, however
        the request spelled it: a GTIN-13 as a GTIN-14, a needless %-escape
        undone (the gateway writes a canonical request's path back as it came,
        and builds the URI of any other)."""
        canon = "http://127.0.0.1:%d/01/%s/21/S1" % (self.gw.http_port, G1)
        for path in ("/01/%s/21/S1" % G1, "/01/%s/21/S1" % G1[1:], "/01/%s/21/S%%31" % G1,
                     "/01/%s/21/S1/" % G1, "/01/%s/21/S1?17=261231" % G1):
            sep = "&" if "?" in path else "?"
            st, hd, b = self.get(path + sep + "linkType=linkset")
            self.assertEqual(st, 200, (path, b))
            self.assertEqual(json.loads(b)["linkset"][0]["anchor"], canon, path)
            st, hd, b = self.get(path)
            self.assertEqual(st, 307, (path, b))
            self.assertIn("<%s?linkType=linkset>" % canon, hd.get("link", ""), path)
        # The base follows each request's Host (a worker reuses the last one's
        # base only for the same Host); a bad Host is 400 even after a good one.
        for host, want in (("id.example.org:8080", "http://id.example.org:8080"),
                           ("127.0.0.1:%d" % self.gw.http_port, canon[:canon.index("/01/")]),
                           ("bad host", None)):
            st, hd, b = self.req("GET", "/01/%s/21/S1?linkType=linkset" % G1, {"Host": host})
            if want is None:
                self.assertEqual(st, 400, b)
                continue
            self.assertEqual(st, 200, b)
            self.assertEqual(json.loads(b)["linkset"][0]["anchor"],
                             want + "/01/%s/21/S1" % G1, host)

    def test_08_language_negotiation(self):
        """Resolver standard, "Language negotiation": the resolver SHALL take the
        Accept-Language header into account when choosing among links of the
        type asked for (q values honoured; no match: the first)."""
        path = "/01/%s/21/S1?linkType=gs1:pip" % G1
        for al, want in (("zh-CN,zh;q=0.9", "zh"), ("en-GB", "en"), ("fr", "en"),
                         ("en;q=0.2, zh;q=0.8", "zh"), (None, "en")):
            hdrs = {"Accept-Language": al} if al else {}
            st, hd, b = self.req("GET", path, hdrs)
            self.assertEqual((st, where(hd)),
                             (307, "https://motor.example/s1/" + want), al)
            self.assertIn("Accept-Language", hd.get("vary", ""))

    def test_09_media_type_negotiation(self):
        """Resolver standard, "Media type negotiation": the Accept header SHALL be
        taken into account when choosing among links of one type."""
        path = "/01/%s/21/S1?linkType=gs1:instructions" % G1
        for acc, want in (("application/pdf", "manual.pdf"), ("text/html", "manual.html"),
                          ("application/*", "manual.pdf"), ("*/*", "manual.html")):
            st, hd, b = self.get(path, Accept=acc)
            self.assertEqual((st, where(hd)),
                             (307, "https://motor.example/s1/" + want), acc)

    def test_10_compressed_uri(self):
        """Resolver standard, "Compressed URIs": a resolver SHALL decompress a
        compressed GS1 Digital Link URI and expose the uncompressed one
        (owl:sameAs) in the linkset and Link header."""
        st, hd, b = self.get(ZIP_PATH + "?linkType=all")
        self.assertEqual(st, 200, b)
        ctx = json.loads(b)["linkset"][0]
        full = "http://127.0.0.1:%d/01/%s/21/43786" % (self.gw.http_port, G_ZIP)
        self.assertEqual(ctx["http://www.w3.org/2002/07/owl#sameAs"], [{"href": full}])
        self.assertIn("<%s>; rel=\"owl:sameAs\"" % full, hd.get("link", ""))
        # An uncompressed request has no sameAs: it is the canonical form already.
        st, hd, b = self.get("/01/%s/21/43786?linkType=all" % G_ZIP)
        self.assertNotIn("http://www.w3.org/2002/07/owl#sameAs", json.loads(b)["linkset"][0])

    def test_11_query_string_passed_on(self):
        """Resolver standard: "By default, SHALL pass on all key=value pairs in
        the query string of the request URI (if present) when redirecting"."""
        st, hd, b = self.get("/01/%s/21/S2?17=261231&utm_source=label" % G1)
        self.assertEqual((st, hd.get("location")),
                         (307, "https://motor.example/default2?17=261231&utm_source=label"))
        # A long target and a long query, answered by the gateway's threads (not
        # cached yet): Location whole, the optional Link header dropped if need be.
        q = "?" + "&".join("p%d=%s" % (i, "b" * 120) for i in range(4))
        st, hd, b = self.get("/01/%s/21/LONG%s" % (G1, q))
        self.assertEqual((st, hd.get("location")),
                         (307, "https://motor.example/" + "a" * 1900 + q))
        st, hd, b = self.get("/01/%s/21/S1?linkType=gs1:instructions&x=1" % G1,
                             Accept="text/html")
        self.assertEqual(hd.get("location"), "https://motor.example/s1/manual.html"
                         "?linkType=gs1:instructions&x=1")

    def test_11b_handled_by(self):
        """GS1 Web Vocabulary, gs1:handledBy: "Used when one resolver redirects
        all request URIs that match a given pattern without further
        processing, such as from GS1 to a brand-operated service" (the
        Resolver standard's linkset lists it as a link type). A rule
        "GCP KEY handledBy:URL": every request for the prefix's keys is a 307
        to URL + the request's path and query, whatever linkType asks (the
        other resolver answers it); the linkset lists the item's URI there as
        gs1:handledBy and as the default link. A mapping rule of a longer
        company prefix still wins."""
        for path, q in (("/01/%s" % H1, ""), ("/01/%s/21/X-1" % H1, "?17=261231"),
                        ("/01/%s/10/LOT" % H1, "?linkType=gs1:pip")):
            st, hd, b = self.get(path + q)
            self.assertEqual((st, hd.get("location")), (307, OTHER + path + q), b)
            self.assert_cors(hd)
            self.assertIn('rel="linkset"', hd.get("link", ""))
        st, hd, b = self.get("/01/%s/21/X-1?linkType=linkset" % H1)
        self.assertEqual((st, hd["content-type"]), (200, "application/linkset+json"), b)
        ctx = json.loads(b)["linkset"]
        self.assertEqual(len(ctx), 1, ctx)
        at = OTHER + "/01/%s/21/X-1" % H1
        self.assertEqual(ctx[0]["anchor"],
                         "http://127.0.0.1:%d/01/%s/21/X-1" % (self.gw.http_port, H1))
        self.assertEqual([x["href"] for x in ctx[0]["https://gs1.org/voc/handledBy"]], [at])
        self.assertEqual(ctx[0]["https://gs1.org/voc/defaultLink"],
                         [{"href": at, "title": "Resolver that handles this item"}])
        self.assertIn("<%s>; rel=\"https://gs1.org/voc/handledBy\"" % at, hd.get("link", ""))
        # The longer prefix 9520019 is mapped here: no record, so 404, not a redirect.
        st, hd, b = self.get("/01/%s" % H2)
        self.assertEqual(st, 404, b)
        self.assertIn("88.100.1/01.%s" % H2, json.loads(b)["message"])

    def test_12_no_link_404(self):
        """Resolver standard, "Not found": when no link exists for the key the
        resolver SHALL answer 404, with a page saying why (HTML for a browser,
        JSON otherwise); never a redirect."""
        cases = (("/01/%s/21/NOPE" % G1, "not registered"),
                 ("/01/%s/21/S1" % G2, "not registered"),
                 ("/01/%s" % G1, "not registered"),
                 ("/01/09506000134352/21/X", "no enterprise has registered a rule"))
        for path, why in cases:
            st, hd, b = self.get(path)
            self.assertEqual(st, 404, (path, b))
            self.assertNotIn("location", hd)
            self.assertIn(why, json.loads(b)["message"], path)
        st, hd, b = self.get(cases[0][0], Accept="text/html,*/*")
        self.assertEqual((st, hd["content-type"]), (404, "text/html; charset=utf-8"))
        self.assertIn(b"not registered", b)
        self.assertIn("default-src 'none'", hd.get("content-security-policy", ""))
        self.assert_cors(hd)

    def test_13_bad_uris_400(self):
        """GS1 Digital Link URI Syntax, as the resolver standard requires of a
        resolver: a URI that is not a valid GS1 Digital Link SHALL NOT be
        redirected; here 400 with the reason for malformed keys, wrong check
        digits, qualifiers out of order, over-long values and bad
        percent-encoding."""
        cases = (
            ("/01/%s" % (G1[:-1] + str((int(G1[-1]) + 1) % 10)), "check digit"),
            ("/01/006141411234523", "01"),                     # 15 digits: too long
            ("/01/%s/21/A/10/B" % G1, "out of order"),
            ("/01/%s/21/%s" % (G1, "X" * 21), "21"),           # serial over 20
            ("/01/%s/21/A%%2" % G1, "%"),
            ("/01/%s/21/A%%ZZ" % G1, "%"),
            ("/00/12345/21/X", "00"),
            ("/01/ABCDEFGHIJKLMN", "01"),
        )
        for path, why in cases:
            st, hd, b = self.get(path)
            self.assertEqual(st, 400, (path, b))
            self.assertNotIn("location", hd)
            msg = json.loads(b)["message"]
            self.assertIn(why, msg, path)
        self.assertTrue(self.gw.alive())

    def test_13b_trailing_slash(self):
        """Resolver standard: "SHOULD tolerate trailing slashes at the end of GS1
        Digital Link URIs"."""
        st, hd, b = self.get("/01/%s/21/S2/" % G1)
        self.assertEqual((st, hd.get("location")), (307, "https://motor.example/default2"))

    def test_13c_levels_up_to_the_primary_key(self):
        """Resolver standard: "If the request GS1 Digital Link URI includes one or
        more key qualifiers, any links associated with each level up to the
        primary key SHALL be included in the linkset"; "For any request URI,
        no matter how granular, there SHALL be a default link at the entry
        level or higher up the tree"."""
        base = "http://127.0.0.1:%d" % self.gw.http_port
        st, hd, b = self.get("/01/%s/21/L1?linkType=linkset" % G3)
        self.assertEqual(st, 200, b)
        ls = json.loads(b)["linkset"]
        self.assertEqual([c["anchor"] for c in ls],
                         [base + "/01/%s/21/L1" % G3, base + "/01/%s" % G3])
        self.assertEqual(ls[1]["https://gs1.org/voc/certificationInfo"][0]["href"],
                         "https://motor.example/g3/ce")
        # The serial's own link, a link only the GTIN has, and a serial without a record.
        for path, want in (("/01/%s/21/L1?linkType=gs1:instructions" % G3, "g3/l1/manual"),
                           ("/01/%s/21/L1?linkType=gs1:certificationInfo" % G3, "g3/ce"),
                           ("/01/%s/21/L2" % G3, "g3"), ("/01/%s" % G3, "g3")):
            st, hd, b = self.get(path)
            self.assertEqual((st, hd.get("location", "").split("?")[0]),
                             (307, "https://motor.example/" + want), path)

    def test_14_ordinary_identifiers_still_proxied(self):
        """Not a GS1 statement: idnode's own proxy keeps answering identifiers
        (their first segment is no GS1 primary key AI)."""
        st, hd, b = self.get("/88.100.1/MOTOR-1")
        self.assertEqual((st, hd.get("location")), (302, "https://motor.example/plain"))
        st, hd, b = self.get("/EXAMPLE")  # one segment, not a compressed DL: the proxy's
        self.assertNotIn("access-control-allow-origin", hd)

    def test_15_rule_added_by_the_operator(self):
        """The rules are rights like any other (docs/gs1-resolver.md): the
        operator adds an enterprise's rule with `idnode add` to the registry
        record, and the gateway uses it once the cached record expires."""
        path = "/01/%s/21/12345" % G_ADD
        st, hd, b = self.get(path)
        self.assertEqual(st, 404, b)
        secret = os.path.join(self.tmp, "secret")
        with open(secret, "wb") as f:
            f.write(SECRET)
        out = subprocess.run([IDNODE, "add", REGISTRY, "--server", "127.0.0.1:%d" %
                              self.root.port, "--id", OPERATOR, "--secret-file", secret,
                              "--value", "10:GS1.RULE:9520123 88.100.1/01.{01}.21.{21}"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        deadline = time.time() + DEADLINE
        while time.time() < deadline:
            st, hd, b = self.get(path)
            if st == 307:
                break
            time.sleep(0.3)
        self.assertEqual((st, hd.get("location")), (307, "https://motor.example/added"))
        # The bad value of the registry was logged once, never fatal.
        self.assertEqual(self.gw.output().count('GS1.RULE "not a rule" skipped'), 1)

    def test_16_label_gs1(self):
        """Issue 19 point 4: a QR label (GET /api/labels/{handle}.svg?gs1=1)
        encodes the identifier's GS1 Digital Link URI when a rule maps it;
        else 400 naming why."""
        st, hd, b = self.get("/api/labels/88.100.1/01.%s.21.S1.svg?gs1=1" % G1)
        self.assertEqual(st, 200, b)
        if shutil.which("zbarimg"):  # scripts/deps.sh installs it (zbar-tools)
            pgm = os.path.join(self.tmp, "label.pgm")
            svg_to_pgm(b.decode(), pgm)
            want = "http://127.0.0.1:%d/01/%s/21/S1" % (self.gw.http_port, G1)
            self.assertEqual(zbar(pgm), [want])
            # ... and the URI in the code resolves, through this gateway, to the record.
            st, hd, _ = self.get(want[len("http://127.0.0.1:%d" % self.gw.http_port):])
            self.assertEqual((st, hd.get("location")), (307, "https://motor.example/s1"))
        st, hd, b = self.get("/api/labels/88.100.1/MOTOR-1.svg?gs1=1")
        self.assertEqual(st, 400, b)
        self.assertIn("no GS1 rule", json.loads(b)["message"])
        # POST /api/labels with "gs1": true: a ZIP of codes, each the identifier's GS1 URI.
        hs = [h(G1, "S2"), h(G_ZIP, "43786")]
        body = json.dumps({"handles": hs, "format": "zip", "image": "svg", "gs1": True})
        st, hd, b = self.gw.req("POST", "/api/labels", body,
                                {"Content-Type": "application/json"})
        self.assertEqual(st, 200, b)
        with zipfile.ZipFile(io.BytesIO(b)) as z:
            svgs = [z.read(n).decode() for n in sorted(z.namelist())]
        self.assertEqual(len(svgs), 2)
        if shutil.which("zbarimg"):
            got = []
            for i, svg in enumerate(svgs):
                pgm = os.path.join(self.tmp, "zip%d.pgm" % i)
                svg_to_pgm(svg, pgm)
                got += zbar(pgm)
            base = "http://127.0.0.1:%d" % self.gw.http_port
            self.assertEqual(sorted(got), sorted([base + "/01/%s/21/S2" % G1,
                                                  base + "/01/%s/21/43786" % G_ZIP]))
        body = json.dumps({"handles": [hs[0], "88.100.1/MOTOR-1"], "gs1": True})
        st, hd, b = self.gw.req("POST", "/api/labels", body,
                                {"Content-Type": "application/json"})
        self.assertEqual(st, 400, b)
        self.assertIn("handles[1]: gs1: no GS1 rule", json.loads(b)["message"])


    def test_17_bad_registry_setting(self):
        """A --gs1-registry that is not an identifier stops `serve` at start,
        naming the flag (no resolver runs on a setting it cannot use)."""
        out = subprocess.run([IDNODE, "serve", "--data", os.path.join(self.tmp, "bad"),
                              "--listen", "127.0.0.1:%d" % free_port(),
                              "--http", "127.0.0.1:%d" % free_port(),
                              "--gs1-registry", "GS1-REGISTRY"],
                             capture_output=True, text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("--gs1-registry GS1-REGISTRY: not an identifier", out.stderr)


class PgResolver(Resolver):
    """The same, with the enterprise's records on PostgreSQL."""

    @classmethod
    def setUpClass(cls):
        cls.STORE = pg_database("gs1", cls.addClassCleanup)
        super().setUpClass()


if __name__ == "__main__":
    unittest.main()
