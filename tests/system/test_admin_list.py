"""System test: `idnode list` of a prefix holding 20,000 handles against a real
`idnode serve`. The list does not fit one message, so the node streams it as
several CN-continued messages on the TCP connection; the client must print
every handle exactly once and nothing from a neighbouring prefix."""
import os
import shutil
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import Node
from idnlib import admin_data, s  # noqa: E402

N = 20000
SECRET = b"list-secret-2026"


class ListTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tmp = tempfile.mkdtemp(prefix="idn-list-")
        cls.secret = os.path.join(cls.tmp, "secret")
        with open(cls.secret, "wb") as f:
            f.write(SECRET)
        records = [{"handle": "0.NA/88.100.1", "values": [
            {"index": 100, "type": "HS_ADMIN",
             "data": {"format": "hex", "value": admin_data(0x0FFF, 300, "0.NA/88.100.1")}},
            {"index": 300, "type": "HS_SECKEY", "perms": 0x0c,
             "data": {"format": "hex", "value": SECRET.hex()}}]},
            # Another prefix that shares the first bytes: not listed.
            {"handle": "88.100.10/other", "values": [{"index": 1, "type": "URL",
                                                      "data": "http://other/"}]}]
        records += [{"handle": "88.100.1/P-%05d" % i,
                     "values": [{"index": 1, "type": "URL", "data": "http://x/%d" % i}]}
                    for i in range(N)]
        cls.node = Node(records=records, homes=("88.100.1", "88.100.10"))
        cls.server = "127.0.0.1:%d" % cls.node.port

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        cls.node.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_list_20000(self):
        r = self.node.cli("list", "88.100.1", "--server", self.server,
                          "--id", "300:0.NA/88.100.1", "--secret-file", self.secret, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        names = r.stdout.split()
        self.assertEqual(len(names), N)  # 0.NA/88.100.1 and 88.100.10/* are not under it
        want = set("88.100.1/P-%05d" % i for i in range(N))
        got = set(n for n in names if n.startswith("88.100.1/P-"))
        self.assertEqual(got, want)
        self.assertEqual(len(names), len(set(names)))
        self.assertNotIn("88.100.10/other", names)

    def test_list_unauthenticated_refused(self):
        # A wrong secret: 403, nothing listed.
        bad = os.path.join(self.tmp, "bad")
        with open(bad, "wb") as f:
            f.write(b"not-the-secret")
        r = self.node.cli("list", "88.100.1", "--server", self.server,
                          "--id", "300:0.NA/88.100.1", "--secret-file", bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("403", r.stderr)
        self.assertEqual(r.stdout, "")


if __name__ == "__main__":
    unittest.main()
