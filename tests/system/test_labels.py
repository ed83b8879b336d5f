"""System tests of QR labels over real HTTP (GET /api/labels/{handle}.svg|.png,
POST /api/labels): every label is decoded back with zbarimg (Debian's
zbar-tools; PDF pages rendered by pdftoppm of poppler-utils) to the exact
proxy URL, whose path, %-decoded, is the identifier; captions are found in
the PDF's text (pdftotext), Chinese included; --label-base and base= choose
the URL's base; every bad input gets a 4xx JSON message naming its field;
a 1000-label batch leaves its worker free for other requests meanwhile."""
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import zipfile

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode  # noqa: E402

TOOLS = {t: shutil.which(t) for t in ("zbarimg", "pdftoppm", "pdftotext")}
MISSING = [t for t, p in TOOLS.items() if not p]

# Identifiers with what a URL must encode: space, '%', '?', '#', '+', '&', Chinese.
ODD = ["88.100.1/MOTOR-2026-000001", "88.100.1/A B%?#中文", "88.100.1/x/y+z&q=1;é",
       "88.100.1/托盘-0042"]


def proxy_url(base, handle):
    return base + urllib.parse.quote(handle.encode(), safe="/-._~")


def zbar(path):
    """The codes zbarimg finds in an image (one string each)."""
    out = subprocess.run([TOOLS["zbarimg"], "-q", "--raw", path], capture_output=True,
                         timeout=120)
    return [l for l in out.stdout.decode("utf-8", "replace").split("\n") if l]


def svg_to_pgm(svg, path):
    """Rasterizes the code of one of our SVG labels (a path of module runs
    'Mx yhNv1h-Nz' scaled by transform) into a PGM zbarimg reads: 4 pixels
    a module, so the geometry tested is the SVG's own."""
    m = re.search(r'viewBox="0 0 (\d+) (\d+)".*transform="scale\(([\d.]+)\)"[^>]* d="([^"]*)"',
                  svg)
    w, h, scale, d = int(m.group(1)), int(m.group(2)), float(m.group(3)), m.group(4)
    mods = round(w / scale)
    px = 4
    img = bytearray(b"\xff" * (mods * px) * (mods * px))
    for x, y, n in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", d):
        x, y, n = int(x), int(y), int(n)
        for yy in range(y * px, (y + 1) * px):
            row = yy * mods * px
            img[row + x * px:row + (x + n) * px] = b"\x00" * (n * px)
    with open(path, "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (mods * px, mods * px) + bytes(img))


@unittest.skipIf(MISSING, "missing %s: scripts/deps.sh installs zbar-tools and poppler-utils"
                 % ", ".join(MISSING))
class LabelsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="idn-labels-")
        cls.node = HttpNode()
        cls.base = "http://127.0.0.1:%d/" % cls.node.http_port
        cls.based = HttpNode(http_args=["--label-base", "https://id.example.com/gw",
                                        "--label-base", "http://alt.example:8080/"])

    @classmethod
    def tearDownClass(cls):
        cls.node.close()
        cls.based.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def label(self, node, handle, ext, query=""):
        q = urllib.parse.quote(handle.encode(), safe="/")
        return node.req("GET", "/api/labels/%s.%s%s" % (q, ext, query))

    def decode_png(self, data, name="x.png"):
        with open(self.path(name), "wb") as f:
            f.write(data)
        return zbar(self.path(name))

    def decode_svg(self, data, name="x.pgm"):
        svg_to_pgm(data.decode(), self.path(name))
        return zbar(self.path(name))

    def assert_url_of(self, url, handle, base):
        self.assertEqual(url, proxy_url(base, handle))
        path = urllib.parse.urlsplit(url).path
        self.assertEqual(urllib.parse.unquote(path[len(urllib.parse.urlsplit(base).path):]),
                         handle)

    def test_png_and_svg_decode_to_the_url(self):
        for h in ODD:
            for size, ecc in ((256, "M"), (600, "H")):
                st, hd, body = self.label(self.node, h, "png", "?size=%d&ecc=%s" % (size, ecc))
                self.assertEqual((st, hd["content-type"]), (200, "image/png"), body[:200])
                self.assertEqual(body[:8], b"\x89PNG\r\n\x1a\n")
                self.assertEqual(int.from_bytes(body[16:20], "big"), size)
                codes = self.decode_png(body)
                self.assertEqual(len(codes), 1, (h, codes))
                self.assert_url_of(codes[0], h, self.base)
            st, hd, body = self.label(self.node, h, "svg", "?margin=2&text=1")
            self.assertEqual((st, hd["content-type"]), (200, "image/svg+xml"))
            self.assertIn("default-src 'none'", hd["content-security-policy"])
            codes = self.decode_svg(body)
            self.assertEqual(len(codes), 1, (h, codes))
            self.assert_url_of(codes[0], h, self.base)
            self.assertIn(h.replace("&", "&amp;").encode(), body)  # the caption

    def test_caption_png_still_decodes(self):
        st, hd, body = self.label(self.node, ODD[1], "png", "?size=300&text=1")
        self.assertEqual(st, 200)
        self.assertGreater(int.from_bytes(body[20:24], "big"), 300)  # the caption's band
        self.assertEqual(self.decode_png(body), [proxy_url(self.base, ODD[1])])

    def test_head(self):
        st, hd, body = self.node.req("HEAD", "/api/labels/88.100.1/A.png")
        self.assertEqual((st, body), (200, b""))

    def test_pdf_sheet_of_50(self):
        handles = ["88.100.1/PALLET-%03d" % i for i in range(46)] + ODD
        st, hd, pdf = self.node.req("POST", "/api/labels", body=json.dumps(
            {"handles": handles, "format": "pdf"}).encode(),
            headers={"Content-Type": "application/json"})
        self.assertEqual((st, hd["content-type"]), (200, "application/pdf"), pdf[:300])
        self.assertIn('attachment; filename="labels.pdf"', hd["content-disposition"])
        self.assertTrue(pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF"))
        with open(self.path("s.pdf"), "wb") as f:
            f.write(pdf)
        subprocess.run([TOOLS["pdftoppm"], "-r", "150", "-png", self.path("s.pdf"),
                        self.path("page")], check=True, timeout=120)
        pages = sorted(p for p in os.listdir(self.tmp) if p.startswith("page"))
        self.assertEqual(len(pages), 3)  # 4 x 6 a page
        found = []
        for p in pages:
            found += zbar(self.path(p))
        self.assertEqual(sorted(found), sorted(proxy_url(self.base, h) for h in handles))
        text = subprocess.run([TOOLS["pdftotext"], self.path("s.pdf"), "-"],
                              capture_output=True, timeout=60).stdout.decode()
        flat = re.sub(r"\s", "", text)  # a long caption wraps onto two lines
        for h in handles:
            self.assertIn(re.sub(r"\s", "", h), flat)  # Chinese too: a font was found for it

    def test_pdf_grid_and_no_text(self):
        st, hd, pdf = self.node.req("POST", "/api/labels", body=json.dumps(
            {"handles": ["88.100.1/G-%d" % i for i in range(13)], "columns": 2, "rows": 3,
             "text": False, "ecc": "Q", "margin": 2}).encode())
        self.assertEqual(st, 200, pdf[:300])
        with open(self.path("g.pdf"), "wb") as f:
            f.write(pdf)
        info = subprocess.run(["pdfinfo", self.path("g.pdf")], capture_output=True,
                              timeout=60).stdout.decode()
        self.assertRegex(info, r"Pages:\s+3\b")  # 13 labels, 6 a page
        self.assertIn("595.276 x 841.89", info.replace("595.28", "595.276"))  # A4
        text = subprocess.run([TOOLS["pdftotext"], self.path("g.pdf"), "-"],
                              capture_output=True, timeout=60).stdout.decode()
        self.assertNotIn("88.100.1/G-", text)

    def test_pdf_label_size_in_mm(self):
        # 50 x 30 mm labels: 3 across 190 mm, 9 down 277 mm: 27 a page
        handles = ["88.100.1/MM-%02d" % i for i in range(30)]
        st, hd, pdf = self.node.req("POST", "/api/labels", body=json.dumps(
            {"handles": handles, "width_mm": 50, "height_mm": 30.5}).encode())
        self.assertEqual(st, 200, pdf[:300])
        with open(self.path("mm.pdf"), "wb") as f:
            f.write(pdf)
        subprocess.run([TOOLS["pdftoppm"], "-r", "150", "-png", self.path("mm.pdf"),
                        self.path("mm")], check=True, timeout=120)
        pages = sorted(p for p in os.listdir(self.tmp) if p.startswith("mm-"))
        self.assertEqual(len(pages), 2)
        found = []
        for p in pages:
            found += zbar(self.path(p))
        self.assertEqual(sorted(found), sorted(proxy_url(self.base, h) for h in handles))

    def zip_of(self, handles, image, size=None):
        req = {"handles": handles, "format": "zip", "image": image}
        if size:
            req["size"] = size
        st, hd, body = self.node.req("POST", "/api/labels", body=json.dumps(req).encode())
        self.assertEqual((st, hd["content-type"]), (200, "application/zip"), body[:300])
        self.assertIn('filename="labels.zip"', hd["content-disposition"])
        return zipfile.ZipFile(io.BytesIO(body))

    def test_zip_of_png_and_svg(self):
        handles = ["88.100.1/BOX-%d" % i for i in range(6)] + ODD
        for image in ("png", "svg"):
            z = self.zip_of(handles, image, size=320)
            self.assertIsNone(z.testzip())
            names = z.namelist()
            self.assertEqual(len(names), len(handles))
            for i, (name, h) in enumerate(zip(names, handles)):
                self.assertTrue(name.startswith("%04d-" % (i + 1)) and name.endswith(image))
                self.assertNotIn("/", name)
                data = z.read(name)
                codes = (self.decode_png if image == "png" else self.decode_svg)(
                    data, "z%d.%s" % (i, "png" if image == "png" else "pgm"))
                self.assertEqual(codes, [proxy_url(self.base, h)], name)

    def test_configured_base(self):
        h = ODD[1]
        st, _, body = self.label(self.based, h, "png")
        self.assertEqual(st, 200)
        self.assert_url_of(self.decode_png(body)[0], h, "https://id.example.com/gw/")
        st, _, body = self.label(self.based, h, "png",
                                 "?base=" + urllib.parse.quote("http://alt.example:8080/"))
        self.assertEqual(self.decode_png(body), [proxy_url("http://alt.example:8080/", h)])
        st, _, body = self.label(self.based, h, "png", "?base=http%3A%2F%2Fevil.example%2F")
        self.assertEqual(st, 400)
        self.assertTrue(json.loads(body)["message"].startswith("base:"))
        # without --label-base, base= names none
        st, _, body = self.label(self.node, h, "png", "?base=http%3A%2F%2Falt.example%3A8080%2F")
        self.assertEqual(st, 400)
        self.assertIn("base", json.loads(body)["message"])

    def test_bad_base_setting_refused(self):
        for bad in ("ftp://x/", "http://a b/", "http://x/?q=1", "https://"):
            out = self.node.cli("serve", "--data", self.path("d"), "--home", "88.100.1",
                                "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
                                "--label-base", bad, timeout=20)
            self.assertNotEqual(out.returncode, 0, bad)
            self.assertIn("--label-base", out.stderr + out.stdout, bad)

    def raw_status(self, data):
        out = self.node.raw(data)
        head, _, body = out.partition(b"\r\n\r\n")
        return int(head.split()[1]), body

    def test_bad_host(self):
        for host in (b"a b", b"x/y", b"u@h", b"h:abc", b""):
            st, body = self.raw_status(b"GET /api/labels/88.100.1/A.png HTTP/1.1\r\nHost: " +
                                       host + b"\r\nConnection: close\r\n\r\n")
            self.assertEqual(st, 400, host)
            self.assertIn(b"Host", body)
        st, body = self.raw_status(b"GET /api/labels/88.100.1/A.png HTTP/1.0\r\n\r\n")
        self.assertEqual(st, 400)
        self.assertTrue(self.node.alive())

    def expect_error(self, st, body, status, field):
        self.assertEqual(st, status, body[:300])
        doc = json.loads(body)
        self.assertIn("responseCode", doc)
        self.assertIn(field, doc["message"])

    def test_bad_get(self):
        cases = [
            ("/api/labels/88.100.1/A.jpg", "format"),
            ("/api/labels/88.100.1/A", "format"),
            ("/api/labels/88.100.1/A.png?size=63", "size"),
            ("/api/labels/88.100.1/A.png?size=4097", "size"),
            ("/api/labels/88.100.1/A.png?size=abc", "size"),
            ("/api/labels/88.100.1/A.png?size=-5", "size"),
            ("/api/labels/88.100.1/A.png?margin=17", "margin"),
            ("/api/labels/88.100.1/A.svg?ecc=X", "ecc"),
            ("/api/labels/88.100.1/A.svg?ecc=MM", "ecc"),
            ("/api/labels/.png", "handle"),
            ("/api/labels/88.100.1.png", "handle"),
            ("/api/labels/88.100.1/.png", "handle"),
            ("/api/labels/88.100.1/%C3%28.png", "handle"),
            ("/api/labels/88.100.1/%ED%A0%80.png", "handle"),
            ("/api/labels/88.100.1/a%0Ab.png", "handle"),
            ("/api/labels/88.100.1/%ZZ.png", "handle"),
            ("/api/labels/88.100.1/../x.png", "handle"),
            ("/api/labels/88.100.1/%2E%2E/x.png", "handle"),
            ("/api/labels/88.100.1/" + "x" * 1100 + ".png", "handle"),
            # fits 1024 bytes, but not a QR code at H once %-encoded (3 bytes each)
            ("/api/labels/88.100.1/" + "%E4%B8%AD" * 300 + ".svg?ecc=H", "handle"),
            # a code of 100+ modules has no pixel for each in 64
            ("/api/labels/88.100.1/" + "x" * 400 + ".png?size=64", "size"),
        ]
        for path, field in cases:
            st, _, body = self.node.req("GET", path)
            self.expect_error(st, body, 400, field)
        st, _, body = self.node.req("GET", "/api/labels")
        self.assertEqual(st, 405)
        self.assertTrue(self.node.alive())

    def post(self, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.node.req("POST", "/api/labels", body=data,
                             headers={"Content-Type": "application/json"})

    def test_bad_post(self):
        h = ["88.100.1/A"]
        cases = [
            (b"not json", 400, ""),
            ([1, 2], 400, "expected an object"),
            ({}, 400, "handles"),
            ({"handles": "88.100.1/A"}, 400, "handles"),
            ({"handles": []}, 400, "handles: empty"),
            ({"handles": ["88.100.1/A", "88.100.1/B", "88.100.1/C", 7]}, 400, "handles[3]"),
            ({"handles": ["88.100.1/A", ""]}, 400, "handles[1]"),
            ({"handles": ["88.100.1/A", "nosuffix"]}, 400, "handles[1]"),
            ({"handles": ["88.100.1/A", "88.100.1/\u0007"]}, 400, "handles[1]"),
            ({"handles": ["88.100.1/" + "y" * 1100]}, 400, "handles[0]"),
            ({"handles": ["88.100.1/a/../b"]}, 400, "handles[0]"),
            ({"handles": h, "format": "gif"}, 400, "format"),
            ({"handles": h, "format": 1}, 400, "format"),
            ({"handles": h, "format": "zip", "image": "jpg"}, 400, "image"),
            ({"handles": h, "image": "png"}, 400, "image"),
            ({"handles": h, "size": 300}, 400, "size"),
            ({"handles": h, "format": "zip", "size": 5000}, 400, "size"),
            ({"handles": h, "format": "zip", "size": "big"}, 400, "size"),
            ({"handles": ["88.100.1/" + "x" * 400], "format": "zip", "size": 64}, 400, "size"),
            ({"handles": h, "format": "zip", "columns": 2}, 400, "columns"),
            ({"handles": h, "columns": 13}, 400, "columns"),
            ({"handles": h, "rows": 0}, 400, "rows"),
            ({"handles": h, "rows": -1}, 400, "rows"),
            ({"handles": h, "margin": 17}, 400, "margin"),
            ({"handles": h, "ecc": "Z"}, 400, "ecc"),
            ({"handles": h, "text": "yes"}, 400, "text"),
            ({"handles": h, "base": "http://evil.example/"}, 400, "base"),
            ({"handles": h, "colour": "red"}, 400, "colour"),
            ({"handles": h, "width_mm": 50}, 400, "height_mm"),
            ({"handles": h, "width_mm": 5, "height_mm": 30}, 400, "width_mm"),
            ({"handles": h, "width_mm": "50", "height_mm": 30}, 400, "width_mm"),
            ({"handles": h, "width_mm": 50, "height_mm": 30, "columns": 2}, 400, "columns"),
            ({"handles": h, "format": "zip", "width_mm": 50, "height_mm": 30}, 400,
             "width_mm"),
            ({"handles": ["88.100.1/N-%d" % i for i in range(1001)]}, 413, "at most 1000"),
        ]
        for body, status, field in cases:
            st, _, out = self.post(body)
            self.expect_error(st, out, status, field)
        self.assertTrue(self.node.alive())

    def test_batch_leaves_the_worker_free(self):
        """One HTTP worker (--threads 1): while it makes a 1000-label ZIP of
        PNGs (seconds), other requests on it are answered within a fraction
        of that, because the batch is produced part by part between them."""
        node = HttpNode(threads=1)
        try:
            handles = ["88.100.1/MOTOR-2026-%06d" % i for i in range(1000)]
            result = {}

            def batch():
                t0 = time.time()
                st, hd, body = node.req("POST", "/api/labels", body=json.dumps(
                    {"handles": handles, "format": "zip", "size": 512, "text": True}).encode())
                result.update(st=st, body=body, secs=time.time() - t0, end=time.time())

            th = threading.Thread(target=batch)
            th.start()
            time.sleep(0.3)
            waits = []  # of the GETs answered while the batch was being made
            deadline = time.time() + 120
            for i in range(400):
                if not th.is_alive() or time.time() > deadline:
                    break
                t0 = time.time()
                st, _, body = node.req("GET", "/api/labels/88.100.1/S-%d.svg" % i)
                self.assertEqual(st, 200)
                if th.is_alive():
                    waits.append(time.time() - t0)
                time.sleep(0.02)
            th.join(120)
            self.assertFalse(th.is_alive())
            self.assertEqual(result["st"], 200)
            z = zipfile.ZipFile(io.BytesIO(result["body"]))
            self.assertEqual(len(z.namelist()), 1000)
            self.assertGreaterEqual(len(waits), 5, result["secs"])
            # each waited a small share of the batch, not the batch (a share,
            # not seconds: other load on the machine stretches both alike)
            self.assertLess(max(waits), result["secs"] / 3, (result["secs"], waits))
            print("1000-label ZIP: %.2f s; %d GETs meanwhile waited at most %.3f s" %
                  (result["secs"], len(waits), max(waits)), file=sys.stderr)
        finally:
            node.close()


class LabelLibsMissingTest(unittest.TestCase):
    """The drawing libraries are loaded on the first PNG, PDF or ZIP label:
    when one cannot be loaded (here libcairo.so.2 is an empty file found first
    through LD_LIBRARY_PATH), those labels answer 503 naming the Debian
    package, the node keeps serving, and SVG labels (which need none) work."""

    def test_503_names_the_package(self):
        tmp = tempfile.mkdtemp(prefix="idn-nolibs-")
        open(os.path.join(tmp, "libcairo.so.2"), "wb").close()
        old = os.environ.get("LD_LIBRARY_PATH")
        os.environ["LD_LIBRARY_PATH"] = tmp + (":" + old if old else "")
        try:
            node = HttpNode()
        finally:
            if old is None:
                del os.environ["LD_LIBRARY_PATH"]
            else:
                os.environ["LD_LIBRARY_PATH"] = old
        try:
            for _ in range(2):  # the failed load is remembered, not retried
                st, hd, body = node.req("GET", "/api/labels/88.100.1/A.png")
                self.assertEqual(st, 503, body[:300])
                msg = json.loads(body)["message"]
                self.assertIn("libcairo2", msg)
                self.assertIn("apt-get install", msg)
            for fmt in ("pdf", "zip"):
                st, _, body = node.req("POST", "/api/labels", json.dumps(
                    {"handles": ["88.100.1/A", "88.100.1/B"], "format": fmt}),
                    {"Content-Type": "application/json"})
                self.assertEqual(st, 503, (fmt, body[:300]))
                self.assertIn("libcairo2", json.loads(body)["message"])
            st, hd, body = node.req("GET", "/api/labels/88.100.1/A.svg")
            self.assertEqual((st, hd["content-type"]), (200, "image/svg+xml"), body[:300])
            self.assertTrue(node.alive())
        finally:
            node.close()
            shutil.rmtree(tmp, ignore_errors=True)


class PageQrTest(unittest.TestCase):
    """The record page's QR code carries the URL a printed label of the same
    identifier carries (label_url under --label-base, else under a Host
    label_host_base accepts); a Host a label refuses gives the page hdl:."""

    @classmethod
    def setUpClass(cls):
        recs = [{"handle": h, "values": [{"index": 1, "type": "EMAIL", "data": "a@b.example"}]}
                for h in ODD]
        cls.plain = HttpNode(records=recs)
        try:
            cls.based = HttpNode(records=recs, http_args=["--label-base",
                                                          "https://id.example.com/gw"])
        except Exception:
            cls.plain.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.plain.close()
        cls.based.close()

    def page_qr(self, node, handle, host=None):
        q = urllib.parse.quote(handle.encode(), safe="/")
        st, _, body = node.req("GET", "/%s?noredirect" % q,
                               headers={"Host": host} if host is not None else None)
        self.assertEqual(st, 200, body[:300])
        m = re.search(r'<div class="qr" id="qr">.*?<p>([^<]*)</p></div>', body.decode())
        self.assertIsNotNone(m, body[-2000:])
        return m.group(1).replace("&amp;", "&")

    def test_page_code_is_the_label_url(self):
        for h in ODD:
            self.assertEqual(self.page_qr(self.based, h),
                             proxy_url("https://id.example.com/gw/", h))
            self.assertEqual(self.page_qr(self.plain, h),
                             proxy_url("http://127.0.0.1:%d/" % self.plain.http_port, h))
            self.assertEqual(self.page_qr(self.plain, h, host="id.example.org:8443"),
                             proxy_url("http://id.example.org:8443/", h))

    def test_host_a_label_refuses(self):
        for host in ("a:b:c", "[[x]]", "h:123456", "[::1]x"):
            st, _, _ = self.plain.req("GET", "/api/labels/88.100.1/A.svg",
                                      headers={"Host": host})
            self.assertEqual(st, 400, host)
            self.assertEqual(self.page_qr(self.plain, ODD[0], host=host),
                             "hdl:" + proxy_url("", ODD[0]), host)


if __name__ == "__main__":
    unittest.main()
