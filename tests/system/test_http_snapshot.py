"""System test for what REST resolution remembers between requests: the node
keeps whether a prefix is homed from one GET to the next while the store's
snapshot is the same (LMDB: until a write commits). Homing and unhoming a
prefix, and creating and deleting a handle under it, between GETs on one
keep-alive connection to a one-thread node must each be seen by the very
next GET."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode  # noqa: E402
from idnlib import start_admin_node  # noqa: E402


class HttpSnapshotTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        start_admin_node(cls, "snap", node=HttpNode, threads=1)
        cls.conn = cls.node.conn(timeout=30)

    @classmethod
    def tearDownClass(cls):
        cls.conn.close()
        cls.node.stop()
        cls.node.close()

    def admin(self, cmd, arg, *more):
        r = self.node.cli(cmd, arg, "--server", "127.0.0.1:%d" % self.node.port,
                          "--id", "300:0.NA/88.100.1", "--key", self.key, *more)
        self.assertEqual(r.returncode, 0, r.stderr)

    def get(self, handle):
        """responseCode of GET /api/handles/handle on the one kept-alive connection."""
        self.conn.request("GET", "/api/handles/" + handle)
        r = self.conn.getresponse()
        body = r.read()
        self.assertEqual(r.getheader("Connection", "keep-alive").lower(), "keep-alive")
        return json.loads(body)["responseCode"]

    def test_home_unhome_create_delete_seen_at_once(self):
        h = "88.556/x"
        # Asked twice: the second answer may come from what the node keeps.
        self.assertEqual(self.get(h), 301)
        self.assertEqual(self.get(h), 301)
        self.admin("home", "88.556")
        self.assertEqual(self.get(h), 100)  # homed now, no such handle
        self.assertEqual(self.get(h), 100)
        self.admin("create", h, "--value", "1:URL:https://example.com/snap")
        self.assertEqual(self.get(h), 1)
        self.admin("delete", h)
        self.assertEqual(self.get(h), 100)
        self.admin("unhome", "88.556")
        self.assertEqual(self.get(h), 301)
        self.admin("home", "88.556")
        self.assertEqual(self.get(h), 100)
        # The prefix homed from the start stays so across all of it.
        self.assertEqual(self.get("88.100.1/none"), 100)


if __name__ == "__main__":
    unittest.main()
