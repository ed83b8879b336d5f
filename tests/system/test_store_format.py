"""The store's on-disk format version through the CLI, on PostgreSQL where the
test can edit it with psql (the LMDB path is tests/unit/store_suite.h's
test_format_version, both backends): a store as the release before versions
wrote it (no idn_meta 'u.store.format' row) is served and stamped; a store of a
newer version is refused by `idnode serve`, `dump` and `verify` with a message
naming both versions, and left as it was.

Needs IDN_TEST_PG (skipped without, unless IDN_TEST_PG_REQUIRED=1)."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import idnlib  # noqa: E402
from idnlib import psql  # noqa: E402

REC = {"handle": "88.100.1/fmt", "values": [{"index": 1, "type": "URL",
                                               "data": "https://example.com/fmt"}]}
VERSION = "SELECT encode(val, 'hex') FROM idn_meta WHERE name = 'u.store.format'"


def cli(*args):
    out = subprocess.run([idnlib.IDNODE] + list(args), capture_output=True, text=True,
                         timeout=60)
    return out.returncode, out.stdout + out.stderr


class StoreFormat(unittest.TestCase):
    def setUp(self):
        self.uri = idnlib.pg_database("fmt", self.addCleanup)
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write(json.dumps({"home": "88.100.1"}) + "\n" + json.dumps(REC) + "\n")
        self.addCleanup(os.unlink, f.name)
        rc, out = cli("restore", "--store", self.uri, f.name)
        self.assertEqual(rc, 0, out)
        self.assertEqual(psql(self.uri, VERSION), "0000000000000001")

    def test_a_store_without_a_version_is_stamped(self):
        # As the release before versions left it: the row absent, the data there.
        psql(self.uri, "DELETE FROM idn_meta WHERE name = 'u.store.format'")
        self.assertEqual(psql(self.uri, VERSION), "")
        node = idnlib.Node(store=self.uri)
        try:
            out = node.resolve("88.100.1/fmt")
            self.assertIn("https://example.com/fmt", out.stdout, out.stderr)
            self.assertEqual(psql(self.uri, VERSION), "0000000000000001")
        finally:
            node.stop()
            node.close()

    def test_a_newer_store_is_refused(self):
        psql(self.uri, "UPDATE idn_meta SET val = '\\x0000000000000007'::bytea "
                       "WHERE name = 'u.store.format'")
        want = "store: format version 7 is newer than this idnode understands (1): " \
               "upgrade idnode to open it"
        for args in (["serve", "--store", self.uri, "--listen",
                      "127.0.0.1:%d" % idnlib.free_port()],
                     ["dump", "--store", self.uri],
                     ["verify", "--store", self.uri]):
            rc, out = cli(*args)
            self.assertNotEqual(rc, 0, args)
            self.assertIn(want, out, args)
            self.assertNotIn("88.100.1/fmt", out)
        self.assertEqual(psql(self.uri, VERSION), "0000000000000007")
        self.assertEqual(psql(self.uri, "SELECT count(*) FROM idn_records"), "1")


if __name__ == "__main__":
    unittest.main()
