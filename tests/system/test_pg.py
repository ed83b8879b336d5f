"""`idnode serve --store postgresql://...`: resolution from PostgreSQL, a
database laid out by the reference software served unchanged, and a server
outage that gives clear errors and heals by itself.

Needs IDN_TEST_PG (a libpq URI; scripts/pg.sh start prints one, scripts/test
exports it) and psql. Without it the tests are skipped with a message, unless
IDN_TEST_PG_REQUIRED=1. The outage test also needs IDN_TEST_PG_DIR (the
cluster scripts/pg.sh manages): it stops and restarts that server, which is
safe because system tests run alone (RUN_SERIAL)."""
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import idnlib  # noqa: E402

PG = os.environ.get("IDN_TEST_PG", "")
PG_DIR = os.environ.get("IDN_TEST_PG_DIR", "")
REQUIRED = os.environ.get("IDN_TEST_PG_REQUIRED") == "1"
PG_SH = os.path.join(os.path.dirname(__file__), "../../scripts/pg.sh")


def psql(uri, sql):
    out = subprocess.run(["psql", "-qAtX", "-v", "ON_ERROR_STOP=1", uri, "-c", sql],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError("psql: %s: %s" % (sql, out.stderr))
    return out.stdout.strip()


def db_uri(name):
    """IDN_TEST_PG with its database replaced by name."""
    head, _, rest = PG.partition("://")
    host, _, tail = rest.partition("/")
    query = tail.partition("?")[2]
    return "%s://%s/%s%s" % (head, host, name, "?" + query if query else "")


class PgCase(unittest.TestCase):
    def setUp(self):
        if not PG:
            if REQUIRED:
                self.fail("IDN_TEST_PG is not set but required")
            self.skipTest("IDN_TEST_PG is not set: run scripts/pg.sh start and export "
                          "IDN_TEST_PG=<the URI it prints>")
        self.db = "idn_sys_%d" % os.getpid()
        psql(PG, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.db)
        psql(PG, "CREATE DATABASE %s" % self.db)
        self.uri = db_uri(self.db)
        self.nodes = []

    def tearDown(self):
        for n in self.nodes:
            n.close()
        if PG:
            psql(PG, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.db)

    def node(self, **kw):
        n = idnlib.Node(store=self.uri, **kw)
        self.nodes.append(n)
        return n

    def test_serve_loaded(self):
        recs = [{"handle": "88.100.1/PG-%d" % i,
                 "values": [{"index": 1, "type": "URL", "data": "https://pg.example/%d" % i},
                            {"index": 2, "type": "EMAIL", "data": "qa%d@example.com" % i}]}
                for i in range(50)]
        n = self.node(records=recs)
        for transport in ("--udp", "--tcp"):
            out = n.resolve("88.100.1/PG-7", transport, "--json")
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertIn("https://pg.example/7", out.stdout)
            self.assertIn("qa7@example.com", out.stdout)
        out = n.resolve("88.100.1/PG-7", "--type", "EMAIL")
        self.assertEqual(out.returncode, 0)
        self.assertNotIn("https://pg.example/7", out.stdout)
        out = n.resolve("88.100.1/NOPE")
        self.assertEqual(out.returncode, 1)
        # what load wrote is in the reference's tables too
        self.assertEqual(psql(self.uri, "SELECT count(*) FROM handles"), "100")
        self.assertEqual(psql(self.uri, "SELECT convert_from(na, 'UTF8') FROM nas"),
                         "0.NA/88.100.1")

    def test_two_front_ends_one_database(self):
        """Two idnode processes on one database give the same answers."""
        a = self.node(records=[{"handle": "88.100.1/SHARED",
                                "values": [{"index": 1, "type": "URL", "data": "https://one/"}]}])
        b = self.node()
        for n in (a, b):
            out = n.resolve("88.100.1/SHARED")
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertIn("https://one/", out.stdout)

    def test_reference_database(self):
        """Rows as the reference server writes them, served unchanged."""
        psql(self.uri, "CREATE TABLE nas (na bytea NOT NULL, PRIMARY KEY (na))")
        psql(self.uri, "CREATE TABLE handles (handle bytea NOT NULL, idx int4 NOT NULL,"
                       " type bytea, data bytea, ttl_type int2, ttl int4, timestamp int4,"
                       " refs text, admin_read bool, admin_write bool, pub_read bool,"
                       " pub_write bool, PRIMARY KEY (handle, idx))")
        psql(self.uri, "INSERT INTO nas VALUES ('0.NA/88.100.1'::bytea)")
        psql(self.uri, "INSERT INTO handles VALUES"
                       " ('88.100.1/REFSRV'::bytea, 1, 'URL'::bytea,"
                       "  'https://written.by/reference'::bytea, 0, 86400, 1600000000, '',"
                       "  true, true, true, false),"
                       " ('88.100.1/REFSRV'::bytea, 2, 'SECRET'::bytea, 'hidden'::bytea,"
                       "  0, 86400, 1600000000, '', true, true, false, false)")
        n = self.node(homes=())
        out = n.resolve("88.100.1/REFSRV", "--json")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr + n.output())
        self.assertIn("https://written.by/reference", out.stdout)
        self.assertNotIn("hidden", out.stdout)  # not publicly readable
        # idnode created only its own tables beside them (records, transaction log, meta)
        tables = psql(self.uri, "SELECT string_agg(tablename, ',' ORDER BY tablename)"
                                " FROM pg_tables WHERE schemaname = 'public'")
        self.assertEqual(tables, "handles,idn_meta,idn_records,idn_txlog,nas")

    @unittest.skipUnless(PG_DIR, "IDN_TEST_PG_DIR not set (the cluster scripts/pg.sh manages)")
    def test_server_outage(self):
        recs = [{"handle": "88.100.1/UP",
                 "values": [{"index": 1, "type": "URL", "data": "https://up/"}]}]
        n = self.node(records=recs)
        self.assertEqual(n.resolve("88.100.1/UP").returncode, 0)
        subprocess.run([PG_SH, "halt", PG_DIR], check=True, timeout=60)
        try:
            # an error answer, quickly: no hang, no crash
            t0 = time.time()
            out = n.resolve("88.100.1/UP", "--tcp")
            self.assertNotEqual(out.returncode, 0)
            self.assertLess(time.time() - t0, 10)
            self.assertTrue(n.alive())
        finally:
            subprocess.run([PG_SH, "start", PG_DIR], check=True, timeout=60,
                           capture_output=True)
        # heals by itself
        deadline = time.time() + 15
        while True:
            out = n.resolve("88.100.1/UP")
            if out.returncode == 0 or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr + n.output())
        self.assertIn("https://up/", out.stdout)
        self.assertIn("store: postgresql:", n.output())  # the outage was reported


if __name__ == "__main__":
    unittest.main()
