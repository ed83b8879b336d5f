"""`idnode serve --store postgresql://...`: resolution from PostgreSQL, a
database laid out by the reference software served unchanged, a server
outage that gives clear errors and heals by itself (also under writes, with a
mirror pulling from the PostgreSQL-backed primary), and reads from a
streaming replica (--store-read).

Needs IDN_TEST_PG (a libpq URI; scripts/pg.sh start prints one, scripts/test
exports it) and psql. Without it the tests are skipped with a message, unless
IDN_TEST_PG_REQUIRED=1. The outage and replica tests also need
IDN_TEST_PG_DIR (the cluster scripts/pg.sh manages): they stop and restart
that server or make a replica of it, which is safe because system tests run
alone (RUN_SERIAL)."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import idnlib  # noqa: E402

PG_DIR = os.environ.get("IDN_TEST_PG_DIR", "")
PG_SH = os.path.join(os.path.dirname(__file__), "../../scripts/pg.sh")
ADMIN = "300:0.NA/88.100.1"
# Other tests import these from here still (idnlib holds them).
PG, REQUIRED, db_uri, psql = idnlib.PG, idnlib.PG_REQUIRED, idnlib.db_uri, idnlib.psql


class PgCase(unittest.TestCase):
    def setUp(self):
        self.uri = idnlib.pg_database("sys", self.addCleanup)
        self.nodes = []

    def tearDown(self):
        for n in self.nodes:
            n.close()

    def node(self, **kw):
        n = idnlib.Node(store=self.uri, **kw)
        self.nodes.append(n)
        return n

    def admin_identity(self, tmp):
        """(key file, records): 0.NA/88.100.1 with an HS_ADMIN and the key's HS_PUBKEY."""
        key = os.path.join(tmp, "admin.pem")
        return key, [idnlib.admin_prefix(idnlib.keygen(key))]

    def create(self, node, key, handle, url):
        return subprocess.run([idnlib.IDNODE, "create", handle, "--server",
                               "127.0.0.1:%d" % node.port, "--id", ADMIN, "--key", key,
                               "--value", "1:URL:" + url],
                              capture_output=True, text=True, timeout=30)

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

    def test_load_into_empty_store_not_lazy(self):
        # Lazy commits are a store capability LMDB has and PostgreSQL has not:
        # a load into an empty PostgreSQL store never marks it, and says so.
        with tempfile.TemporaryDirectory(prefix="idn-pglazy") as tmp:
            path = os.path.join(tmp, "in.jsonl")
            with open(path, "w") as f:
                for i in range(200):
                    f.write(json.dumps({"handle": "88.100.1/LZ-%d" % i, "values": [
                        {"index": 1, "type": "URL", "data": "https://lz.example/%d" % i}]}) + "\n")
            out = subprocess.run([idnlib.IDNODE, "load", "--store", self.uri, path],
                                 capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertNotIn("not waited", out.stderr)
        self.assertEqual(psql(self.uri, "SELECT count(*) FROM handles"), "200")
        self.assertEqual(psql(self.uri, "SELECT count(*) FROM idn_meta WHERE name = 'bulkload.lazy'"),
                         "0")

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
        # idnode created only its own tables beside them (records, tables, transaction log, meta)
        tables = psql(self.uri, "SELECT string_agg(tablename, ',' ORDER BY tablename)"
                                " FROM pg_tables WHERE schemaname = 'public'")
        self.assertEqual(tables, "handles,idn_meta,idn_records,idn_tab,idn_txlog,nas")

    @unittest.skipUnless(PG_DIR, "IDN_TEST_PG_DIR not set (the cluster scripts/pg.sh manages)")
    def test_server_outage(self):
        recs = [{"handle": "88.100.1/UP",
                 "values": [{"index": 1, "type": "URL", "data": "https://up/"}]}]
        n = self.node(records=recs)
        self.assertEqual(n.resolve("88.100.1/UP").returncode, 0)
        subprocess.run([PG_SH, "halt", PG_DIR], check=True, timeout=60)
        try:
            # an error answer: no hang (the CLI's timeout), no crash
            out = n.resolve("88.100.1/UP", "--tcp")
            self.assertNotEqual(out.returncode, 0)
            self.assertTrue(n.alive())
        finally:
            subprocess.run([PG_SH, "start", PG_DIR], check=True, timeout=60,
                           capture_output=True)
        # heals by itself
        deadline = time.time() + idnlib.DEADLINE
        while True:
            out = n.resolve("88.100.1/UP")
            if out.returncode == 0 or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr + n.output())
        self.assertIn("https://up/", out.stdout)
        self.assertIn("store: postgresql:", n.output())  # the outage was reported

    @unittest.skipUnless(PG_DIR, "IDN_TEST_PG_DIR not set (the cluster scripts/pg.sh manages)")
    def test_outage_under_writes_with_mirror(self):
        """A PostgreSQL-backed primary takes authenticated creates while an
        LMDB mirror pulls from it; PostgreSQL stops and comes back. During the
        outage resolutions answer an error code with a message (no hang, no
        crash) and the mirror keeps serving what it has; afterwards both heal
        by themselves, every acknowledged create is in the database, and the
        mirror's dump equals the primary's line by line."""
        tmp = tempfile.mkdtemp(prefix="idn-pgm-")
        self.addCleanup(shutil.rmtree, tmp, True)
        key, recs = self.admin_identity(tmp)
        recs += [{"handle": "88.100.1/BASE-%d" % i,
                  "values": [{"index": 1, "type": "URL", "data": "https://base/%d" % i}]}
                 for i in range(200)]
        p = self.node(records=recs, homes=("88.100.1", "0.NA"),
                      extra_args=["--server-admin", ADMIN])
        pserver = "127.0.0.1:%d" % p.port
        mdata, mport = os.path.join(tmp, "mirror"), idnlib.free_port()
        mlog = open(os.path.join(tmp, "mirror.log"), "w+")
        self.addCleanup(mlog.close)
        mirror = subprocess.Popen(
            [idnlib.IDNODE, "serve", "--data", mdata, "--threads", "1",
             "--listen", "127.0.0.1:%d" % mport, "--mirror-of", pserver, "--id", ADMIN,
             "--key", key], stdout=mlog, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: mirror.poll() is not None or (mirror.kill(), mirror.wait(5)))

        def udp_rc(port, handle):
            try:
                ans = idnlib.udp_exchange(port, idnlib.request(handle), timeout=3)[0]
            except (TimeoutError, OSError):
                return None, b""
            _, _, rc, _, body = idnlib.parse_answer(ans)
            return rc, body

        def dump(where):
            out = subprocess.run([idnlib.IDNODE, "dump"] + where, capture_output=True,
                                 text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            return out.stdout.splitlines()

        def converged(timeout):
            deadline = time.time() + timeout
            while True:
                want, got = dump(["--store", self.uri]), dump(["--data", mdata])
                if want == got or time.time() > deadline:
                    return want, got
                time.sleep(0.3)

        want, got = converged(20)
        mlog.seek(0)  # the mirror writes through its own descriptor
        self.assertEqual(got, want, "mirror did not bootstrap:\n" + mlog.read()[-2000:] +
                         "\nprimary:\n" + p.output()[-2000:])

        acked, failed, stop = [], [], threading.Event()

        def writer(w):
            for i in range(100000):
                if stop.is_set():
                    return
                h = "88.100.1/W-%d-%05d" % (w, i)
                r = self.create(p, key, h, "https://w/%d" % i)
                (acked if r.returncode == 0 else failed).append(h)
                if r.returncode:
                    time.sleep(0.05)

        def wait_acked(n, timeout):
            deadline = time.time() + timeout
            while len(acked) < n and time.time() < deadline:
                time.sleep(0.02)
            self.assertGreaterEqual(len(acked), n, "writers stalled")

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
        for t in threads:
            t.start()
        try:
            wait_acked(30, 60)
            subprocess.run([PG_SH, "halt", PG_DIR], check=True, timeout=60)
            try:
                for transport in ("udp", "tcp"):
                    # answered, not left to time out (DEADLINE)
                    req = idnlib.request("88.100.1/BASE-7")
                    if transport == "udp":
                        ans = idnlib.udp_exchange(p.port, req, timeout=idnlib.DEADLINE)[0]
                    else:
                        ans = idnlib.tcp_exchange(p.port, req, timeout=idnlib.DEADLINE)
                    _, _, rc, _, body = idnlib.parse_answer(ans)
                    # error (2) or busy (3, "storage unavailable": worth a retry)
                    self.assertIn(rc, (2, 3), "an error answer during the outage (%s)" % transport)
                    msg = body[4:4 + struct.unpack(">I", body[:4])[0]].decode()
                    self.assertIn("storage", msg)
                self.assertTrue(p.alive())
                # the mirror has its own store: it still answers
                self.assertEqual(udp_rc(mport, "88.100.1/BASE-7")[0], 1)
                time.sleep(1)  # writes and mirror pulls meet the outage
            finally:
                subprocess.run([PG_SH, "start", PG_DIR], check=True, timeout=60,
                               capture_output=True)
            deadline = time.time() + idnlib.DEADLINE
            while udp_rc(p.port, "88.100.1/BASE-7")[0] != 1 and time.time() < deadline:
                time.sleep(0.2)
            self.assertEqual(udp_rc(p.port, "88.100.1/BASE-7")[0], 1, p.output())
            wait_acked(len(acked) + 30, 60)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        self.assertGreater(len(failed), 0, "no write met the outage: nothing was tested")
        want, got = converged(40)
        held = {json.loads(line).get("handle") for line in want}
        self.assertEqual([h for h in acked if h not in held], [], "acknowledged creates lost")
        mlog.seek(0)
        self.assertEqual(got, want, "mirror did not converge:\n" + mlog.read()[-2000:])
        self.assertTrue(p.alive() and mirror.poll() is None)
        self.assertIn("store: postgresql:", p.output())

    @unittest.skipUnless(PG_DIR, "IDN_TEST_PG_DIR not set (the cluster scripts/pg.sh manages)")
    def test_read_replica(self):
        """--store-read: a streaming replica of the test cluster (pg_basebackup
        -R on loopback) serves the reads, the primary takes the writes. With
        the replica's replay paused, an identifier created through idnode is
        in the primary's tables but does not resolve; resumed, it does."""
        tmp = tempfile.mkdtemp(prefix="idn-pgr-")
        self.addCleanup(shutil.rmtree, tmp, True)
        # its own temp dir: the server runs as "postgres", which cannot enter tmp
        rdir = tempfile.mkdtemp(prefix="idn-pgr-replica-")
        out = subprocess.run([PG_SH, "replica", PG_DIR, rdir], capture_output=True, text=True,
                             timeout=60)
        self.addCleanup(subprocess.run, [PG_SH, "stop", rdir], timeout=60, capture_output=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        rhost = out.stdout.split()[0].partition("://")[2].partition("/")[0]
        head, _, rest = self.uri.partition("://")
        ruri = "%s://%s/%s" % (head, rhost, rest.partition("/")[2])
        self.assertEqual(psql(ruri, "SELECT pg_is_in_recovery()"), "t")

        key, recs = self.admin_identity(tmp)
        recs += [{"handle": "88.100.1/BASE",
                  "values": [{"index": 1, "type": "URL", "data": "https://base/"}]}]
        # The records loaded first, and the replica given time to replay them:
        # serve checks its read location at start (statements prepared there),
        # which fails while the replica has not replayed the schema yet.
        path = os.path.join(tmp, "recs.jsonl")
        with open(path, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in recs)
        out = subprocess.run([idnlib.IDNODE, "load", "--store", self.uri, "-q", path],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        deadline = time.time() + 30
        while time.time() < deadline and not (
                psql(ruri, "SELECT to_regclass('idn_records') IS NOT NULL") == "t" and
                psql(ruri, "SELECT EXISTS (SELECT 1 FROM idn_records"
                           " WHERE k = '88.100.1/BASE'::bytea)") == "t"):
            time.sleep(0.1)
        n = self.node(homes=("88.100.1", "0.NA"),
                      extra_args=["--server-admin", ADMIN, "--store-read", ruri])
        deadline = time.time() + idnlib.DEADLINE
        while n.resolve("88.100.1/BASE").returncode != 0 and time.time() < deadline:
            time.sleep(0.1)  # the load reaches the replica
        self.assertEqual(n.resolve("88.100.1/BASE").returncode, 0, n.output())

        psql(ruri, "SELECT pg_wal_replay_pause()")
        paused = True
        try:
            # the write goes to the primary (a replica refuses writes) ...
            r = self.create(n, key, "88.100.1/LATE", "https://late/")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr + n.output())
            self.assertEqual(psql(self.uri, "SELECT count(*) FROM idn_records"
                                            " WHERE k = '88.100.1/LATE'::bytea"), "1")
            self.assertEqual(psql(ruri, "SELECT count(*) FROM idn_records"
                                        " WHERE k = '88.100.1/LATE'::bytea"), "0")
            # ... and reads come from the replica, which has not replayed it
            self.assertEqual(n.resolve("88.100.1/LATE").returncode, 1)
            psql(ruri, "SELECT pg_wal_replay_resume()")
            paused = False
        finally:
            if paused:
                psql(ruri, "SELECT pg_wal_replay_resume()")
        deadline = time.time() + idnlib.DEADLINE
        while n.resolve("88.100.1/LATE").returncode != 0 and time.time() < deadline:
            time.sleep(0.1)
        out = n.resolve("88.100.1/LATE")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("https://late/", out.stdout)

        # a read location needs a PostgreSQL store, and a usable one
        r = subprocess.run([idnlib.IDNODE, "serve", "--data", os.path.join(tmp, "d"),
                            "--listen", "127.0.0.1:%d" % idnlib.free_port(),
                            "--store-read", ruri], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--store-read needs a PostgreSQL --store", r.stderr)
        r = subprocess.run([idnlib.IDNODE, "serve", "--store", self.uri,
                            "--listen", "127.0.0.1:%d" % idnlib.free_port(),
                            "--store-read", db_uri("idn_no_such_db")],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("read location is not usable", r.stderr)


if __name__ == "__main__":
    unittest.main()
