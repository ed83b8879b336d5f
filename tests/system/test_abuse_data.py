"""Issue 16, findings G, H and K, replayed against the real binary.

G: value types that would show as another type (a NUL, a trailing or leading
space, a control character, bytes that are not UTF-8, a reserved type in
another case) are refused at every door: Handle add/create/modify by a user
holding only add_value (202 naming the index), REST writes (400 naming the
value), `idnode load` (FILE:LINE naming the field); the store is unchanged
(`idnode dump` before and after). A type an older node stored is shown
escaped by `idnode resolve`.

H: the proxy redirects only to absolute http(s) URLs with a host; for
javascript:, data:, //host and a URL with CR/LF it serves the record page
(200, no Location), while an https URL still redirects.

K: a full disk (a small tmpfs in a private mount namespace) answers every
write with an error (Handle 2 "storage full", HTTP 507), never a closed
connection; everything acknowledged is there afterwards, reads keep
working, and writes succeed again once space is freed.

Requests are sent raw and answered with the legacy secret-key MAC, so each
check sees the server's own answer code. Every loop is bounded."""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode  # noqa: E402
from idnlib import IDNODE, parse_answer, request, tcp_read_answer  # noqa: E402
from idnlib import admin_data, challenge_of, hexval, s, seckey_response  # noqa: E402

BOSS = b"boss-secret-2026"
ADDER = b"adder-secret-2026"
P = "88.100.1/"

BAD_TYPES = [
    (b"HS_ADMIN\x00", "NUL"),
    (b"HS_ADMIN ", "whitespace"),
    (b" URL", "whitespace"),
    (b"A\x01B", "control"),
    (b"URL\xff\xfe", "UTF-8"),
    (b"hs_admin", "case"),
    (b"HS_ADMIN\xe2\x80\x8b", "invisible"),  # a zero-width space
    (b"T" * 1100, "value_type_max"),  # over the default 1024 bytes
]


# H: URL values the proxy must not redirect to.
UNSAFE_URLS = [
    ("js", "javascript:alert(1)"),
    ("data", "data:text/html,<script>alert(1)</script>"),
    ("schemeless", "//evil.example/x"),
    ("split", "http://ok.example/\r\nSet-Cookie: x=1"),
    ("nohost", "https:///path-only"),
    ("vbs", "VBScript:msgbox(1)"),
    ("file", "file:///etc/passwd"),
    ("space", "https://ok.example/ x"),
]


def value(index, typ, data):
    typ = typ.encode() if isinstance(typ, str) else typ
    data = data.encode() if isinstance(data, str) else data
    return struct.pack(">IIBIB", index, 0, 0, 86400, 0x0e) + s(typ) + s(data) + struct.pack(">I", 0)


def values_body(handle, vals):
    return s(handle) + struct.pack(">I", len(vals)) + b"".join(vals)


def basic(user, secret):
    tok = base64.b64encode(urllib.parse.quote(user, safe="/").encode() + b":" + secret)
    return {"Authorization": "Basic " + tok.decode()}


def error_message(body):
    """The message of an error answer body (str message, no request digest)."""
    if len(body) < 4:
        return b""
    n = struct.unpack(">I", body[:4])[0]
    return body[4:4 + n]


class Admin:
    """Raw authenticated Handle requests on one TCP connection."""

    def __init__(self, port, handle, secret):
        self.port, self.handle, self.secret = port, handle, secret
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)

    def close(self):
        self.sock.close()

    def xchg(self, req):
        self.sock.sendall(req)
        return parse_answer(tcp_read_answer(self.sock))

    def run(self, op, body):
        """(response code, body) of the final answer; raises if the connection closes."""
        env, _, rc, _, ans = self.xchg(request("", op=op, flags=0x18000000, body=body))
        if rc != 402:
            return rc, ans
        nonce, digest = challenge_of(ans)
        _, _, rc, _, ans = self.xchg(seckey_response(env["session"], nonce, digest, self.handle,
                                                     self.secret))
        return rc, ans


def base_records():
    return [
        {"handle": "0.NA/88.100.1", "values": [
            hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, P + "boss"))]},
        {"handle": P + "boss", "values": [hexval(300, "HS_SECKEY", BOSS.hex(), perms=0x0c)]},
        {"handle": P + "adder", "values": [hexval(300, "HS_SECKEY", ADDER.hex(), perms=0x0c)]},
        # The adder holds only add_value on the target.
        {"handle": P + "target", "values": [
            {"index": 1, "type": "URL", "data": "https://example.com/target"},
            hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, P + "boss")),
            hexval(101, "HS_ADMIN", admin_data(0x0040, 300, P + "adder"))]},
    ] + [{"handle": P + name, "values": [{"index": 1, "type": "URL", "data": url}]}
         for name, url in UNSAFE_URLS + [("good", "https://ok.example/product?id=7")]]


class ValueTypesAndRedirects(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = HttpNode(records=base_records(), homes=("88.100.1",))

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        cls.node.close()

    def dump(self):
        return self.node.dump()

    def http(self, method, path, body=None, headers=None):
        return self.node.req(method, path, body, headers)

    # ---- G ----

    def test_handle_add_refuses_each_bad_type(self):
        a = Admin(self.node.port, P + "adder", ADDER)
        try:
            for n, (typ, what) in enumerate(BAD_TYPES):
                before = self.dump()
                rc, ans = a.run(102, values_body(P + "target", [value(50 + n, typ, "x")]))
                self.assertEqual(rc, 202, "%r: %d %r" % (typ, rc, ans))
                msg = error_message(ans)
                self.assertIn(b"index %d" % (50 + n), msg, typ)
                self.assertIn(what.encode(), msg, typ)
                self.assertEqual(self.dump(), before, typ)
            # Positive control: the same user may add an ordinary value.
            rc, ans = a.run(102, values_body(P + "target", [value(60, "EMAIL", "qa@example")]))
            self.assertEqual(rc, 1, ans)
        finally:
            a.close()
        self.assertIn(b"qa@example", self.dump())
        self.assertIn("value-syntax", self.node.output())
        self.assertTrue(self.node.alive())

    def test_handle_create_and_modify_refuse(self):
        a = Admin(self.node.port, P + "boss", BOSS)
        try:
            before = self.dump()
            rc, ans = a.run(100, values_body(P + "new-bad", [
                value(1, "URL", "https://x"), value(2, b"HS_ADMIN ", "y")]))
            self.assertEqual(rc, 202, ans)
            self.assertIn(b"index 2", error_message(ans))
            rc, ans = a.run(104, values_body(P + "target", [value(1, b"URL\x00", "z")]))
            self.assertEqual(rc, 202, ans)
            self.assertIn(b"index 1", error_message(ans))
            self.assertEqual(self.dump(), before)
        finally:
            a.close()

    def test_rest_refuses_bad_types(self):
        auth = dict(basic("300:" + P + "adder", ADDER), **{"Content-Type": "application/json"})
        path = "/api/handles/" + P + "target?index=70"
        for typ in ("HS_ADMIN ", " URL", "A\u0001B", "hs_admin", "HS_ADMIN\u200b"):
            before = self.dump()
            body = json.dumps({"values": [{"index": 70, "type": typ, "data": "x"}]})
            st, _, b = self.http("PUT", path, body, auth)
            self.assertEqual(st, 400, (typ, b))
            j = json.loads(b)
            self.assertIn("values[0]: type", j["message"], typ)
            self.assertEqual(self.dump(), before, typ)
        # NUL and bytes that are not UTF-8 do not even parse as JSON text.
        for raw in (b'{"values":[{"index":70,"type":"HS_ADMIN\\u0000","data":"x"}]}',
                    b'{"values":[{"index":70,"type":"URL\xff","data":"x"}]}'):
            before = self.dump()
            st, _, b = self.http("PUT", path, raw, auth)
            self.assertEqual(st, 400, (raw, b))
            self.assertIn("message", json.loads(b))
            self.assertEqual(self.dump(), before)
        # Positive control.
        st, _, b = self.http("PUT", path, json.dumps(
            {"values": [{"index": 70, "type": "EMAIL", "data": "rest@example"}]}), auth)
        self.assertEqual(st, 200, b)

    def test_load_names_file_line_and_field(self):
        tmp = tempfile.mkdtemp(prefix="idn-abuse-load-")
        try:
            for typ, what in (("HS_ADMIN ", "whitespace"), ("HS_ADMIN\u0000", "NUL"),
                              ("A\u0001B", "control"), ("hs_Admin", "case")):
                path = os.path.join(tmp, "in.jsonl")
                with open(path, "w") as f:
                    f.write(json.dumps({"handle": P + "ok", "values": [
                        {"index": 1, "type": "URL", "data": "https://ok"}]}) + "\n")
                    f.write(json.dumps({"handle": P + "bad", "values": [
                        {"index": 1, "type": "URL", "data": "https://ok"},
                        {"index": 2, "type": typ, "data": "x"}]}) + "\n")
                data = os.path.join(tmp, "data-%d" % len(what))
                out = subprocess.run([IDNODE, "load", "--data", data, path],
                                     capture_output=True, text=True, timeout=60)
                self.assertNotEqual(out.returncode, 0, typ)
                self.assertIn(path + ":2:", out.stderr, out.stderr)
                self.assertIn("values[1].type", out.stderr)
                self.assertIn(what, out.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_resolve_escapes_a_type_an_older_node_stored(self):
        # A dump of an older node holding such types restores as it was ...
        from idnlib import Node
        old = Node(homes=("88.100.1",))
        try:
            old.stop()
            path = os.path.join(old.dir, "old.jsonl")
            with open(path, "w") as f:
                f.write(json.dumps({"handle": P + "old", "values": [
                    {"index": 1, "type": "HS_ADMIN\u0000", "data": "x"},
                    {"index": 2, "type": "HS_ADMIN ", "data": "y"}]}) + "\n")
            out = subprocess.run([IDNODE, "restore", "--merge", "--data", old.data, path],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            old.proc = subprocess.Popen([IDNODE, "serve", "--data", old.data, "--home",
                                         "88.100.1", "--listen", "127.0.0.1:%d" % old.port],
                                        stdout=old.log, stderr=subprocess.STDOUT)
            old.wait_ready()
            out = old.resolve(P + "old", "--tcp")
            self.assertEqual(out.returncode, 0, out.stderr)
            # ... and is shown escaped, never as HS_ADMIN.
            self.assertIn("HS_ADMIN\\x00", out.stdout)
            self.assertIn("HS_ADMIN\\x20", out.stdout)
            self.assertNotRegex(out.stdout, r"\bHS_ADMIN\s")
        finally:
            old.stop()
            old.close()

    # ---- H ----

    def test_proxy_does_not_redirect_to_unsafe_urls(self):
        for name, _ in UNSAFE_URLS:
            st, hd, body = self.http("GET", "/" + P + name)
            self.assertEqual(st, 200, (name, st, hd))
            self.assertNotIn("location", hd, name)
            self.assertNotIn("set-cookie", hd, name)
            self.assertIn(b"values", body, name)  # the record page
            self.assertNotIn(b'href="javascript', body.lower(), name)
            self.assertNotIn(b'href="data:', body, name)
            self.assertNotIn(b'href="//evil', body, name)
        self.assertIn("redirect-scheme", self.node.output())
        st, hd, _ = self.http("GET", "/" + P + "good")
        self.assertEqual(st, 302)
        self.assertEqual(hd.get("location"), "https://ok.example/product?id=7")



CLONE_NEWNS = 0x00020000


def private_tmpfs(size_kib):
    """Moves this process into a mount namespace of its own and mounts a tmpfs
    of size_kib there; returns its path, or (None, why) when it cannot."""
    if os.geteuid() != 0:
        return None, "needs root (a private mount namespace and a tmpfs)"
    if not shutil.which("mount"):
        return None, "no mount command"
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        return None, "unshare(CLONE_NEWNS) failed: %s" % os.strerror(ctypes.get_errno())
    # Mounts made here must not reach the machine's namespace.
    if subprocess.run(["mount", "--make-rprivate", "/"], capture_output=True).returncode:
        return None, "mount --make-rprivate / failed"
    where = tempfile.mkdtemp(prefix="idn-full-")
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dk" % size_kib, "tmpfs", where],
                         capture_output=True, text=True)
    if out.returncode:
        return None, "mount -t tmpfs failed: " + out.stderr.strip()
    return where, None


def fill(path, limit_mib=64):
    """Writes path until the file system is full (bounded); returns bytes written."""
    n = 0
    chunk = b"\xa5" * 65536
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while n < limit_mib << 20:
            try:
                n += os.write(fd, chunk[:65536 if n % 65536 == 0 else 4096])
            except OSError:
                # Then the last pages, 4 KiB at a time.
                try:
                    n += os.write(fd, chunk[:4096])
                    continue
                except OSError:
                    break
    finally:
        os.close(fd)
    return n


class FullDisk(unittest.TestCase):
    """K: the node's data directory on a small tmpfs that a filler file fills."""

    @classmethod
    def setUpClass(cls):
        cls.mnt, why = private_tmpfs(16 * 1024)
        if not cls.mnt:
            raise unittest.SkipTest(why)
        cls.node = HttpNode(records=base_records(), homes=("88.100.1",))
        # The data directory moves onto the tmpfs: stop, copy, start on it.
        cls.node.stop()
        data = os.path.join(cls.mnt, "data")
        shutil.copytree(cls.node.data, data)
        shutil.rmtree(cls.node.data)
        os.symlink(data, cls.node.data)
        cls.node.proc = subprocess.Popen(cls.node.args, stdout=cls.node.log,
                                         stderr=subprocess.STDOUT)
        cls.node.wait_ready()
        cls.node.wait_http()
        cls.filler = os.path.join(cls.mnt, "filler")

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        cls.node.close()
        subprocess.run(["umount", cls.mnt], capture_output=True)
        shutil.rmtree(cls.mnt, ignore_errors=True)

    def write_until_errors(self, a, tag, errors_wanted=3, max_writes=400):
        """Adds 8 KB values one at a time until errors_wanted writes were refused.
        Returns (acknowledged indexes, error answers). Any closed connection fails."""
        acked, errors = [], []
        for i in range(max_writes):
            if len(errors) >= errors_wanted:
                break
            idx = 1000 + i
            try:
                rc, ans = a.run(102, values_body(P + tag, [
                    value(idx, "BLOB", ("%s-%d-" % (tag, idx)).encode() * 600)]))
            except (ConnectionError, OSError, struct.error) as e:
                self.fail("write %d: the connection closed instead of an answer (%r); "
                          "%d acknowledged before" % (i, e, len(acked)))
            if rc == 1:
                acked.append(idx)
            else:
                errors.append((rc, error_message(ans)))
        return acked, errors

    def present(self, tag):
        st, _, b = self.node.req("GET", "/api/handles/" + P + tag)
        self.assertEqual(st, 200, b)
        return {v["index"] for v in json.loads(b)["values"]}

    def test_full_disk_answers_errors_and_loses_nothing(self):
        boss = Admin(self.node.port, P + "boss", BOSS)
        try:
            for tag in ("full-tcp", "full-rest"):
                rc, ans = boss.run(100, values_body(P + tag, [
                    value(1, "URL", "https://example.com/" + tag),
                    value(100, "HS_ADMIN", bytes.fromhex(admin_data(0x0FFF, 300, P + "boss")))]))
                self.assertEqual(rc, 1, ans)
            filled = fill(self.filler)
            self.assertGreater(filled, 0)
            # Room for a few writes: some are acknowledged before the disk is full.
            os.truncate(self.filler, max(0, filled - (96 << 10)))
            # Handle over TCP: every write answered, the ones that did not fit refused.
            acked, errors = self.write_until_errors(boss, "full-tcp")
            self.assertEqual(len(errors), 3, "the disk never filled: %d acknowledged" % len(acked))
            self.assertGreater(len(acked), 0, errors)  # the room left took some
            for rc, msg in errors:
                self.assertEqual(rc, 2, msg)
                self.assertIn(b"storage full", msg)
            # Reads keep working, over UDP and HTTP.
            out = self.node.resolve(P + "target")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(self.node.req("GET", "/" + P + "good")[0], 302)
            # REST: 507 with a JSON message, the connection answered.
            auth = dict(basic("300:" + P + "boss", BOSS), **{"Content-Type": "application/json"})
            rest_acked, rest_errors = [], []
            for i in range(100):
                if len(rest_errors) >= 2:
                    break
                idx = 2000 + i
                body = json.dumps({"values": [{"index": idx, "type": "BLOB",
                                               "data": "r%d-" % idx * 2000}]})
                st, _, b = self.node.req("PUT", "/api/handles/%sfull-rest?index=%d" % (P, idx),
                                         body, auth)
                if st == 200:
                    rest_acked.append(idx)
                else:
                    self.assertEqual(st, 507, b)
                    self.assertIn("storage full", json.loads(b)["message"])
                    rest_errors.append(st)
            self.assertEqual(len(rest_errors), 2)
            print("full disk: %d Handle writes acknowledged, then %s; %d REST, then 507"
                  % (len(acked), [rc for rc, _ in errors], len(rest_acked)), file=sys.stderr)
            # A REST batch: its one commit fails, 507, nothing of it saved.
            ops = [{"op": "add", "handle": P + "full-rest", "values": [
                {"index": 2500 + i, "type": "BLOB", "data": "b%d-" % i * 3000}]} for i in range(3)]
            st, _, b = self.node.req("POST", "/api/batch", json.dumps({"operations": ops}), auth)
            self.assertEqual(st, 507, b)
            self.assertIn("storage full", json.loads(b)["message"])
            self.assertFalse({2500, 2501, 2502} & self.present("full-rest"))
            # Everything acknowledged is there, while the disk is still full.
            self.assertLessEqual(set(acked), self.present("full-tcp"))
            self.assertLessEqual(set(rest_acked), self.present("full-rest"))
            self.assertIn("limit storage-full", self.node.output())
            # Space freed: writes succeed again, on the same connection.
            os.unlink(self.filler)
            rc, ans = boss.run(102, values_body(P + "full-tcp", [value(3000, "EMAIL", "back")]))
            self.assertEqual(rc, 1, ans)
        finally:
            boss.close()
        st, _, b = self.node.req("PUT", "/api/handles/%sfull-rest?index=3001" % P, json.dumps(
            {"values": [{"index": 3001, "type": "EMAIL", "data": "back"}]}), auth)
        self.assertEqual(st, 200, b)
        # And all of it survives a restart.
        self.node.stop()
        self.node.proc = subprocess.Popen(self.node.args, stdout=self.node.log,
                                          stderr=subprocess.STDOUT)
        self.node.wait_ready()
        self.node.wait_http()
        self.assertLessEqual(set(acked) | {3000}, self.present("full-tcp"))
        self.assertLessEqual(set(rest_acked) | {3001}, self.present("full-rest"))


    def test_postgresql_disk_full(self):
        """The same over the PostgreSQL store: its tables in a tablespace on the
        tmpfs (the WAL stays on the ordinary disk), a cluster of our own."""
        pg_sh = os.path.join(os.path.dirname(__file__), "../../scripts/pg.sh")
        import glob
        if not glob.glob("/usr/lib/postgresql/*/bin/initdb") or not shutil.which("psql"):
            self.skipTest("PostgreSQL server binaries or psql not installed")
        pgdir = tempfile.mkdtemp(prefix="idn-full-pg-")
        out = subprocess.run([pg_sh, "start", pgdir], capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.addCleanup(lambda: subprocess.run([pg_sh, "stop", pgdir], capture_output=True,
                                               timeout=60))
        uri = out.stdout.strip().splitlines()[-1]
        ts = os.path.join(self.mnt, "pgts")
        os.mkdir(ts)
        shutil.chown(ts, "postgres", "postgres")
        for sql in ("CREATE TABLESPACE small LOCATION '%s'" % ts,
                    "CREATE DATABASE idnfull TABLESPACE small"):
            out = subprocess.run(["psql", uri, "-v", "ON_ERROR_STOP=1", "-c", sql],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
        node = HttpNode(records=base_records(), homes=("88.100.1",),
                        store=uri.rsplit("/", 1)[0] + "/idnfull")
        self.addCleanup(node.close)
        self.addCleanup(node.stop)
        filler = os.path.join(self.mnt, "pg-filler")
        self.addCleanup(lambda: os.path.exists(filler) and os.unlink(filler))
        boss = Admin(node.port, P + "boss", BOSS)
        self.addCleanup(boss.close)
        rc, ans = boss.run(100, values_body(P + "full-pg", [
            value(1, "URL", "https://example.com/pg"),
            value(100, "HS_ADMIN", bytes.fromhex(admin_data(0x0FFF, 300, P + "boss")))]))
        self.assertEqual(rc, 1, ans)
        filled = fill(filler)
        os.truncate(filler, max(0, filled - (96 << 10)))
        acked, errors = self.write_until_errors(boss, "full-pg", max_writes=600)
        print("PostgreSQL, full disk: %d writes acknowledged, then %s"
              % (len(acked), [m for _, m in errors][:1]), file=sys.stderr)
        self.assertEqual(len(errors), 3, "the disk never filled: %d acknowledged" % len(acked))
        for rc, msg in errors:
            self.assertEqual(rc, 2, msg)
            self.assertIn(b"storage full", msg)
        st, _, b = node.req("GET", "/api/handles/" + P + "full-pg")
        self.assertEqual(st, 200, b)
        self.assertLessEqual(set(acked), {v["index"] for v in json.loads(b)["values"]})
        os.unlink(filler)
        rc, ans = boss.run(102, values_body(P + "full-pg", [value(3000, "EMAIL", "back")]))
        self.assertEqual(rc, 1, ans)


class MapFull(unittest.TestCase):
    """K, LMDB's own limit: a map of 1 MiB (map_size_mb) that the writes outgrow."""

    def test_small_map_grows_and_answers_every_write(self):
        tmp = tempfile.mkdtemp(prefix="idn-map-")
        ini = os.path.join(tmp, "node.ini")
        with open(ini, "w") as f:
            f.write("[server]\nmap_size_mb = 1\n")
        node = HttpNode(records=base_records(), homes=("88.100.1",), config=ini)
        boss = Admin(node.port, P + "boss", BOSS)
        try:
            acked, refused = [], []
            for i in range(300):  # 300 x 8 KB: more than twice the map
                try:
                    rc, ans = boss.run(100, values_body(P + "map-%d" % i, [
                        value(1, "BLOB", b"m%04d" % i * 1600)]))
                except (ConnectionError, OSError) as e:
                    self.fail("write %d: connection closed (%r)" % (i, e))
                if rc == 1:
                    acked.append(i)
                else:
                    self.assertEqual(rc, 2, ans)
                    self.assertIn(b"storage full", error_message(ans))
                    refused.append(i)
            print("map of 1 MiB: %d writes acknowledged, %d refused" % (len(acked), len(refused)),
                  file=sys.stderr)
            # The map grows: at most a few writes meet it full, and they are told so.
            self.assertLess(len(refused), 10, refused)
            for i in acked:
                st, _, b = node.req("GET", "/api/handles/%smap-%d" % (P, i))
                self.assertEqual(st, 200, (i, b))
        finally:
            boss.close()
            node.stop()
            node.close()
            shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    unittest.main()
