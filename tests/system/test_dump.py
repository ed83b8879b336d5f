"""Backups: `idnode dump`, `idnode restore`, `idnode verify`, on LMDB and (with
IDN_TEST_PG, see test_pg.py) PostgreSQL. A dump taken while a node serves
the store, restored elsewhere and dumped again, gives the same file byte for
byte, and the restored node answers as the original did."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import idnlib  # noqa: E402
from idnlib import psql  # noqa: E402

RECORDS = [
    {"handle": "88.100.1/PLAIN", "values": [
        {"index": 1, "type": "URL", "data": "https://example.com/plain"}]},
    {"handle": "88.100.1/RICH", "values": [
        {"index": 1, "type": "URL", "data": "https://example.com/ü?x=\"q\"", "ttl": 60,
         "ttl_type": "absolute", "perms": 15, "timestamp": 1700000000},
        {"index": 7, "type": "BLOB", "data": {"format": "hex", "value": "00ff10fe"}},
        {"index": 100, "type": "HS_ADMIN", "data": {"format": "base64", "value": "AAEC"},
         "perms": 12, "references": [{"handle": "0.NA/88.100", "index": 300},
                                     {"handle": "88.100.1/PLAIN", "index": 1}]}]},
] + [{"handle": "88.100.1/BULK-%04d" % i, "values": [
    {"index": 1, "type": "URL", "data": "https://example.com/%d" % i}]} for i in range(300)]


def idn(*args, timeout=120):
    return subprocess.run([idnlib.IDNODE] + list(args), capture_output=True, text=True,
                          timeout=timeout)


class DumpCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="idn-dump-")
        self.node = None

    def tearDown(self):
        if self.node:
            self.node.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def pg_store(self, tag):
        return idnlib.pg_database("dump_" + tag, self.addCleanup)

    def serve_and_dump(self):
        """A serving node's store, dumped while it serves."""
        self.node = idnlib.Node(records=RECORDS)
        out = idn("dump", "--data", self.node.data, "-o", self.path("a.jsonl"))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("dumped %d identifiers" % len(RECORDS), out.stderr)
        with open(self.path("a.jsonl")) as f:
            lines = [json.loads(line) for line in f]
        self.assertEqual(lines[0], {"home": "88.100.1"})
        self.assertEqual(len(lines), len(RECORDS) + 1)
        rich = [l for l in lines if l.get("handle") == "88.100.1/RICH"][0]
        v = {x["index"]: x for x in rich["values"]}
        self.assertEqual(v[1]["ttl_type"], 1)
        self.assertEqual(v[1]["perms"], 15)
        self.assertEqual(v[1]["timestamp"], 1700000000)
        self.assertEqual(v[7]["data"], {"format": "base64", "value": "AP8Q/g=="})
        self.assertEqual(v[100]["references"][0], {"handle": "0.NA/88.100", "index": 300})
        return self.path("a.jsonl")

    def roundtrip(self, where):
        dump = self.serve_and_dump()
        out = idn("restore", *where, dump)
        self.assertEqual(out.returncode, 0, out.stderr)
        out = idn("verify", *where)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("%d records, 0 bad" % len(RECORDS), out.stdout)
        out = idn("dump", *where, "-o", self.path("b.jsonl"))
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(dump, "rb") as a, open(self.path("b.jsonl"), "rb") as b:
            self.assertEqual(a.read(), b.read())
        # a node on the restored store answers as the original did
        want = idn("resolve", "88.100.1/RICH", "--server", "127.0.0.1:%d" % self.node.port,
                   "--json")
        self.assertEqual(want.returncode, 0, want.stderr)
        self.node.close()
        self.node = None
        port = idnlib.free_port()
        srv = subprocess.Popen([idnlib.IDNODE, "serve", *where, "--home", "88.100.1",
                                "--listen", "127.0.0.1:%d" % port],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):  # bounded: 100 tries, 0.1 s apart
                got = idn("resolve", "88.100.1/RICH", "--server", "127.0.0.1:%d" % port,
                          "--json", timeout=10)
                if got.returncode != 2:  # 2: not up yet
                    break
                time.sleep(0.1)
            self.assertEqual(got.returncode, 0, got.stdout + got.stderr)
            self.assertEqual(got.stdout, want.stdout)
        finally:
            srv.kill()
            srv.wait(5)

    def test_roundtrip_lmdb(self):
        self.roundtrip(["--data", self.path("restored")])

    def test_roundtrip_pg(self):
        self.roundtrip(["--store", self.pg_store("rt")])

    def test_restore_refuses_and_reports(self):
        dump = self.serve_and_dump()
        # not empty: refused, nothing written
        out = idn("restore", "--data", self.node.data, dump)
        self.assertEqual(out.returncode, 1)
        self.assertIn("not empty", out.stderr)
        # a bad line is named and skipped; the rest restores
        bad = self.path("bad.jsonl")
        with open(dump) as f, open(bad, "w") as g:
            lines = f.readlines()
            lines.insert(3, '{"handle":"88.100.1/X","values":[{"index":1,"type":"URL"}]}\n')
            lines.insert(5, '{"home":""}\n')
            g.writelines(lines)
        out = idn("restore", "--data", self.path("r2"), bad)
        self.assertEqual(out.returncode, 1)
        self.assertIn("%s:4: values[0].data: missing" % bad, out.stderr)
        self.assertIn("%s:6: home:" % bad, out.stderr)
        out = idn("verify", "--data", self.path("r2"))
        self.assertIn("%d records, 0 bad" % len(RECORDS), out.stdout)
        # usage errors
        self.assertEqual(idn("dump").returncode, 2)
        self.assertEqual(idn("restore", "--data", self.path("r3")).returncode, 2)
        out = idn("restore", "--data", self.path("r3"), self.path("missing"))
        self.assertEqual(out.returncode, 1)
        self.assertIn("missing", out.stderr)

    def test_verify_finds_bad_records(self):
        uri = self.pg_store("bad")
        jl = self.path("in.jsonl")
        with open(jl, "w") as f:
            for r in RECORDS[:5]:
                f.write(json.dumps(r) + "\n")
        self.assertEqual(idn("load", "--store", uri, "-q", jl).returncode, 0)
        self.assertEqual(idn("verify", "--store", uri).returncode, 0)
        psql(uri, "INSERT INTO idn_records VALUES ('88.100.1/BROKEN'::bytea,"
                  " '\\x0100000000000005'::bytea)")
        out = idn("verify", "--store", uri)
        self.assertEqual(out.returncode, 1)
        self.assertIn("88.100.1/BROKEN: the record does not decode", out.stderr)
        self.assertIn("6 records, 1 bad", out.stdout)
        # dump skips it, says so, and fails
        out = idn("dump", "--store", uri, "-o", self.path("d.jsonl"))
        self.assertEqual(out.returncode, 1)
        self.assertIn("88.100.1/BROKEN: skipped: not a record", out.stderr)
        self.assertFalse(os.path.exists(self.path("d.jsonl.tmp")))


if __name__ == "__main__":
    unittest.main()
