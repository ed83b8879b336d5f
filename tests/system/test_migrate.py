"""System test of moving an enterprise node's prefix to idnode
(docs/national-system.md, "Moving an enterprise node to idnode"): an "old" node
holds 88.100.1 with a few thousand
identifiers (URL, EMAIL, a Chinese DESC, HS_ADMIN readable by admins only, a
non-public value, HS_SECKEY, explicit timestamps and TTLs) and an admin
identity whose HS_PUBKEY is PEM text (`idnode keygen --pubkey-format pem`).
`idnode export` copies it over the network; `idnode restore` loads the file
into a fresh store; that store, served as the new node, dumps byte for byte
as the old one, takes the same admin key, and `idnode export
--verify-against` finds no difference (and finds a changed value). Also: an
identifier deleted between list and read is reported and skipped, a wrong key
stops at once, and the export leaves the old node unchanged."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import IDNODE, Node, admin_data, hexval, parse_answer, request  # noqa: E402
from idnlib import tcp_exchange, udp_exchange  # noqa: E402

PREFIX = "88.100.1"
ADMIN = "88.100.1/admin"
PARENT = "0.NA/88.100"  # the parent node's administrator
COUNT = int(os.environ.get("IDN_MIGRATE_COUNT", "3000"))


def run(*args, timeout=120, inp=None):
    return subprocess.run([IDNODE] + list(args), capture_output=True, text=True,
                          timeout=timeout, input=inp)


def siteinfo(*args):
    """The HS_SITE data (hex) `idnode siteinfo` makes for these settings."""
    r = run("siteinfo", "--hex", *args)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def records(pem):
    """The old node's identifiers: every kind of value a migration must keep."""
    admin_ro = admin_data(0x0FFF, 300, ADMIN)
    out = [
        {"handle": "0.NA/" + PREFIX, "values": [hexval(100, "HS_ADMIN", admin_ro)]},
        {"handle": ADMIN, "values": [
            {"index": 300, "type": "HS_PUBKEY", "data": pem, "ttl": 86400},
            hexval(100, "HS_ADMIN", admin_ro, perms=0x0e)]},
    ]
    for i in range(COUNT):
        vals = [
            {"index": 1, "type": "URL", "data": "https://example.cn/p/%05d" % i,
             "ttl": 3600 + i % 7, "timestamp": 1700000000 + i},
            {"index": 2, "type": "EMAIL", "data": "ops%d@example.cn" % i,
             "timestamp": 1700000000 + i},
            {"index": 3, "type": "DESC", "data": "工业互联网标识 电机 第%d号" % i,
             "timestamp": 1700000100 + i},
            # Admins may read it, the public may not.
            hexval(100, "HS_ADMIN", admin_ro, perms=0x0c),
        ]
        if i % 3 == 0:  # a value only an admin may read
            vals.append({"index": 5, "type": "INTERNAL", "data": "cost %d" % i,
                         "perms": 0x08, "ttl_type": 1, "ttl": 1900000000})
        if i % 50 == 0:
            vals.append(hexval(300, "HS_SECKEY", ("secret-%d" % i).encode().hex(),
                               perms=0x0c))
        out.append({"handle": "%s/item-%05d" % (PREFIX, i), "values": vals})
    return out


def paused_export(server, auth, meanwhile):
    """Runs `idnode export` to a pipe this test stops reading after the first
    line (written once the list is done): the export blocks there, well
    before the end; meanwhile() runs then. Returns (exit status, the rest of
    stdout, stderr); the export is killed if it has not ended within 120 s."""
    proc = subprocess.Popen([IDNODE, "export", PREFIX, "--server", server, *auth],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = proc.stdout.readline()
        meanwhile()
        timer = threading.Timer(120, proc.kill)
        timer.start()
        rest = proc.stdout.read()
        err = proc.stderr.read().decode()
        proc.wait(10)
        timer.cancel()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        proc.stdout.close()
        proc.stderr.close()
    assert json.loads(first) == {"home": PREFIX}, first
    return proc.returncode, rest.decode(), err


class MigrateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="idn-mig-")
        cls.key = os.path.join(cls.tmp, "admin.pem")
        cls.wrong = os.path.join(cls.tmp, "wrong.pem")
        k = run("keygen", "--type", "sm2", "--out", cls.key, "--pubkey-format", "pem")
        assert k.returncode == 0, k.stderr
        assert k.stdout.startswith("-----BEGIN PUBLIC KEY-----"), k.stdout
        w = run("keygen", "--type", "rsa", "--out", cls.wrong, "--pubkey-format", "pem")
        assert w.returncode == 0, w.stderr
        cls.pem, cls.wrong_pem = k.stdout, w.stdout
        cls.parent_key = os.path.join(cls.tmp, "parent.pem")
        p = run("keygen", "--type", "rsa", "--out", cls.parent_key, "--pubkey-format", "pem")
        assert p.returncode == 0, p.stderr
        cls.old = Node(records=records(k.stdout), homes=(PREFIX, "0.NA"))
        cls.server = "127.0.0.1:%d" % cls.old.port
        cls.auth = ["--id", "300:" + ADMIN, "--key", cls.key]
        # The parent (secondary) node: its 0.NA/88.100.1 HS_SITE points at the old node.
        site = siteinfo("--listen", cls.server)
        padmin = admin_data(0x0FFF, 300, PARENT)
        try:
            cls.parent = Node(records=[
                {"handle": "0.NA/" + PREFIX, "values": [
                    {"index": 1, "type": "HS_SITE", "data": {"format": "hex", "value": site}},
                    hexval(100, "HS_ADMIN", padmin)]},
                {"handle": PARENT, "values": [
                    {"index": 300, "type": "HS_PUBKEY", "data": p.stdout},
                    hexval(100, "HS_ADMIN", padmin)]}], homes=("0.NA",))
        except Exception:
            cls.old.close()
            raise
        cls.root = "127.0.0.1:%d" % cls.parent.port

    @classmethod
    def tearDownClass(cls):
        cls.old.close()
        cls.parent.close()
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def export(self, *args, server=None):
        return run("export", PREFIX, "--server", server or self.server, *self.auth, *args)

    def test_1_export_load_serve_verify(self):
        before = self.old.dump()
        out = os.path.join(self.tmp, "export.jsonl")
        t0 = time.monotonic()
        r = self.export("-o", out)
        took = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        n = COUNT + 2  # the items, the admin identity, 0.NA/88.100.1
        self.assertIn("%d identifiers" % n, r.stderr)
        print("\nexport: %d identifiers in %.2f s: %.0f identifiers/s (whole command)"
              % (n, took, n / took), file=sys.stderr)
        with open(out, encoding="utf-8") as f:
            lines = [json.loads(x) for x in f]
        self.assertEqual(lines[0], {"home": PREFIX})
        item = next(x for x in lines if x.get("handle") == PREFIX + "/item-00003")
        by = {v["index"]: v for v in item["values"]}
        self.assertEqual(by[3]["data"], "工业互联网标识 电机 第3号")
        self.assertEqual(by[5]["perms"], 0x08)  # not public: read as an admin
        self.assertEqual(by[100]["perms"], 0x0c)
        self.assertEqual(by[1]["timestamp"], 1700000003)
        self.assertEqual(by[1]["ttl"], 3603)
        # The export changed nothing on the old node.
        self.assertEqual(self.old.dump(), before)

        # Load into a fresh store: it dumps exactly as the old node's store.
        newdir = os.path.join(self.tmp, "new")
        r = run("restore", "--data", newdir, out)
        self.assertEqual(r.returncode, 0, r.stderr)
        d = subprocess.run([IDNODE, "dump", "--data", newdir], capture_output=True, timeout=60)
        self.assertEqual(d.returncode, 0, d.stderr)
        self.assertEqual(d.stdout, before)

        # `idnode load` (the bulk loader) takes the same lines but for the home lines.
        loaddir = os.path.join(self.tmp, "loaded")
        with open(out, encoding="utf-8") as f:
            body = "".join(x for x in f if not x.startswith('{"home"'))
        r = run("load", "--data", loaddir, "--home", PREFIX, "--home", "0.NA", "-q", "-",
                inp=body)
        self.assertEqual(r.returncode, 0, r.stderr)
        d = subprocess.run([IDNODE, "dump", "--data", loaddir], capture_output=True, timeout=60)
        self.assertEqual(d.returncode, 0, d.stderr)
        self.assertEqual(d.stdout, before)

        new = Node(store=newdir, homes=(PREFIX, "0.NA"))
        try:
            nserver = "127.0.0.1:%d" % new.port
            # The same admin key works on the new node (the HS_PUBKEY came along).
            c = new.cli("create", PREFIX + "/after-move", "--server", nserver, *self.auth,
                        "--value", "1:URL:https://example.cn/new")
            self.assertEqual(c.returncode, 0, c.stderr)
            # The new node answers every identifier as the file holds it...
            v = self.export("--verify-against", out, server=nserver)
            self.assertEqual(v.returncode, 1, v.stderr)  # ...but for the one just made
            self.assertIn(PREFIX + "/after-move: on the node, not in the file", v.stderr)
            self.assertIn("%d equal, 0 differ, 1 on the node only" % n, v.stderr)
            # An SDK's login (op 2001) with the same key works too (step 7).
            c = new.cli("create", PREFIX + "/after-move-2001", "--server", nserver, *self.auth,
                        "--login", "idis", "--value", "1:URL:https://example.cn/2001")
            self.assertEqual(c.returncode, 0, c.stderr)
            # The parent still sends resolvers to the old node...
            r = run("resolve", PREFIX + "/after-move", "--root", self.root)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            # ...until its 0.NA/88.100.1 HS_SITE names the new one (`idnode siteinfo`).
            m = run("modify", "0.NA/" + PREFIX, "--server", self.root, "--id", "300:" + PARENT,
                    "--key", self.parent_key, "--value",
                    "1:HS_SITE:hex:" + siteinfo("--listen", nserver))
            self.assertEqual(m.returncode, 0, m.stderr)
            r = run("resolve", PREFIX + "/after-move", "--root", self.root)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("https://example.cn/new", r.stdout)
            for h in ("/after-move", "/after-move-2001"):
                d = new.cli("delete", PREFIX + h, "--server", nserver, *self.auth)
                self.assertEqual(d.returncode, 0, d.stderr)
            v = self.export("--verify-against", out, server=nserver)
            self.assertEqual(v.returncode, 0, v.stderr)
            # A changed value is found, naming the identifier and the index.
            m = new.cli("modify", PREFIX + "/item-00007", "--server", nserver, *self.auth,
                        "--value", "1:URL:https://example.cn/changed")
            self.assertEqual(m.returncode, 0, m.stderr)
            v = self.export("--verify-against", out, server=nserver)
            self.assertEqual(v.returncode, 1, v.stderr)
            self.assertIn(PREFIX + "/item-00007: index 1: data", v.stderr)
            self.assertIn("1 differ", v.stderr)
        finally:
            new.close()

    def test_2_wrong_key_stops_at_once(self):
        before = self.old.dump()
        out = os.path.join(self.tmp, "wrong.jsonl")
        r = run("export", PREFIX, "--server", self.server, "--id", "300:" + ADMIN,
                "--key", self.wrong, "-o", out)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("403", r.stderr)
        self.assertIn("listing 88.100.1 on %s: 403 AUTHENTICATION_FAILED" % self.server, r.stderr)
        self.assertIn("the node did not take 300:%s's key: nothing read" % ADMIN, r.stderr)
        self.assertFalse(os.path.exists(out))
        self.assertFalse(os.path.exists(out + ".tmp"))
        self.assertEqual(self.old.dump(), before)
        # Usage: said, exit 2.
        r = run("export", PREFIX, "--server", self.server, "--key", self.key)
        self.assertEqual(r.returncode, 2)
        self.assertIn("needs PREFIX, --server, --id and either --key or --secret-file", r.stderr)
        r = self.export("--window", "0")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--window '0': a number from 1 to 4096", r.stderr)

    def test_3_deleted_between_list_and_read(self):
        """Identifiers deleted while the export reads (the last ones listed, while
        it waits on its pipe): reported, skipped, the rest kept."""
        victims = [PREFIX + "/item-%05d" % i for i in (COUNT - 1, COUNT - 2)]

        def delete():
            for h in victims:
                d = self.old.cli("delete", h, "--server", self.server, *self.auth)
                self.assertEqual(d.returncode, 0, d.stderr)
        rc, rest, err = paused_export(self.server, self.auth, delete)
        self.assertEqual(rc, 0, err)
        for h in victims:
            self.assertIn("%s: listed but gone when read: skipped" % h, err)
        self.assertIn("2 listed but gone", err)
        handles = [json.loads(x).get("handle") for x in rest.splitlines()]
        self.assertNotIn(victims[0], handles)
        self.assertNotIn(victims[1], handles)
        self.assertIn(PREFIX + "/item-%05d" % (COUNT - 3), handles)
        # The other items, the admin identity, 0.NA/88.100.1 (after its home line).
        self.assertEqual(len([h for h in handles if h]), COUNT - 2 + 2)

    def test_4_no_session(self):
        """Without a session every read is challenged and answered: the same file."""
        a, b = (os.path.join(self.tmp, x) for x in ("sess.jsonl", "nosess.jsonl"))
        r = self.export("-o", a)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.export("-o", b, "--no-session")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertEqual(fa.read(), fb.read())

    def test_5_reads_need_the_read_right(self):
        """What the node answers a resolution without PO, as the reference's checkReadAccess."""
        admin = admin_data(0x0FFF, 300, ADMIN)
        recs = [
            {"handle": "0.NA/" + PREFIX, "values": [
                hexval(100, "HS_ADMIN", admin),
                # The reader may list the prefix, nothing else.
                hexval(101, "HS_ADMIN", admin_data(0x0800, 300, PREFIX + "/reader"))]},
            {"handle": ADMIN, "values": [
                {"index": 300, "type": "HS_PUBKEY", "data": self.pem},
                hexval(100, "HS_ADMIN", admin)]},
            {"handle": PREFIX + "/reader", "values": [
                {"index": 300, "type": "HS_PUBKEY", "data": self.wrong_pem}]},
            {"handle": PREFIX + "/secretive", "values": [
                {"index": 1, "type": "URL", "data": "https://example.cn/s"},
                {"index": 2, "type": "INTERNAL", "data": "admins only", "perms": 0x08},
                hexval(100, "HS_ADMIN", admin, perms=0x0c)]},
            {"handle": PREFIX + "/sealed", "values": [
                {"index": 1, "type": "URL", "data": "https://example.cn/x"},
                {"index": 2, "type": "INTERNAL", "data": "nobody", "perms": 0x00}]},
        ]
        node = Node(records=recs, homes=(PREFIX, "0.NA"))
        try:
            def ask(handle, flags, udp=False):
                req = request(handle, flags=flags, minor=11)
                a = udp_exchange(node.port, req)[0] if udp else tcp_exchange(node.port, req)
                return parse_answer(a)
            sec = PREFIX + "/secretive"
            self.assertEqual(ask(sec, 0x08000000)[2], 402)  # no PO: prove who you are
            _, _, rc, _, body = ask(sec, 0x09000000)  # PO: the public values
            self.assertEqual(rc, 1)
            self.assertNotIn(b"admins only", body)
            _, _, rc, _, body = ask(sec, 0x08000000, udp=True)  # UDP: public values
            self.assertEqual(rc, 1)
            self.assertNotIn(b"admins only", body)
            self.assertEqual(ask(PREFIX + "/sealed", 0x08000000)[2], 401)
            self.assertEqual(ask(ADMIN, 0x08000000)[2], 1)  # all public: no challenge
            server = "127.0.0.1:%d" % node.port
            # The reader may list, and read what is public, not the rest: those
            # identifiers fail, the run goes on.
            r = run("export", PREFIX, "--server", server, "--id", "300:%s/reader" % PREFIX,
                    "--key", self.wrong)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(sec + ": 400 INVALID_ADMIN", r.stderr)
            self.assertIn(PREFIX + "/sealed: 401 INSUFFICIENT_PERMISSIONS", r.stderr)
            self.assertIn("3 identifiers", r.stderr)  # 0.NA/88.100.1, admin, reader
            self.assertNotIn("admins only", r.stdout)
            # The admin reads everything but the value nobody may read.
            r = run("export", PREFIX, "--server", server, *self.auth)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(PREFIX + "/sealed: 401 INSUFFICIENT_PERMISSIONS", r.stderr)
            self.assertIn("admins only", r.stdout)
            self.assertIn("4 identifiers", r.stderr)
        finally:
            node.close()

    def test_6_network_failure(self):
        """The node goes away mid-export: the peer and the reads in flight are named,
        exit 2, and no summary as if it had ended."""
        admin = admin_data(0x0FFF, 300, ADMIN)
        recs = [{"handle": ADMIN, "values": [
            {"index": 300, "type": "HS_PUBKEY", "data": self.pem},
            hexval(100, "HS_ADMIN", admin)]},
                {"handle": "0.NA/" + PREFIX, "values": [hexval(100, "HS_ADMIN", admin)]}]
        recs += [{"handle": "%s/n-%05d" % (PREFIX, i), "values": [
            {"index": 1, "type": "URL", "data": "https://example.cn/" + "x" * 200}]}
            for i in range(2000)]
        node = Node(records=recs, homes=(PREFIX, "0.NA"))
        try:
            server = "127.0.0.1:%d" % node.port
            # The node dies while the export waits on its full pipe.
            rc, _, err = paused_export(server, self.auth, lambda: node.stop(signal.SIGKILL))
            self.assertEqual(rc, 2, err)
            # The window it was in: from its first name to its last.
            self.assertRegex(err, r"\d+ reads in flight \(\S+ \.\. %s/n-\d+\): .*%s"
                             % (PREFIX, server))
            self.assertNotIn("identifiers/s", err)  # no summary as if it had ended
        finally:
            node.close()


if __name__ == "__main__":
    unittest.main()
