"""System test of `idnode batch` (the reference GenericBatch format) against a
real `idnode serve`: a file mixing good and bad records, under an RSA identity
(AUTHENTICATE PUBKEY) and a secret-key one (AUTHENTICATE SECKEY). The good
records are applied, each bad one is reported with its line and reason, the
summary counts both, the exit status is 1, and the store shows exactly the
good records' effects. A clean file exits 0."""
import json
import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import admin_data, pubkey_pem, s, start_admin_node  # noqa: E402

SECRET = b"batch-secret-2026"


class BatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        records = [
            # A secret-key identity that may only add values under 88.100.1.
            {"handle": "88.100.1/clerk", "values": [
                {"index": 300, "type": "HS_SECKEY", "perms": 0x0c,
                 "data": {"format": "hex", "value": SECRET.hex()}}]},
            {"handle": "88.100.1/existing", "values": [
                {"index": 1, "type": "URL", "data": "http://old/"},
                {"index": 100, "type": "HS_ADMIN",
                 "data": {"format": "hex", "value": admin_data(0x0040, 300, "88.100.1/clerk")}}]},
        ]
        start_admin_node(cls, "batch", records, homes=("88.100.1",))
        cls.pubpem = pubkey_pem(cls.key, os.path.join(cls.tmp, "admin.pub.pem"))
        cls.server = "127.0.0.1:%d" % cls.node.port

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        cls.node.close()

    def batch(self, text, *more):
        path = os.path.join(self.tmp, "b%d.txt" % abs(hash(text)))
        with open(path, "w") as f:
            f.write(text)
        return path, self.node.cli("batch", path, "--server", self.server, *more, timeout=60)

    def resolved(self, h):
        r = self.node.resolve(h, "--tcp")
        return r.stdout if r.returncode == 0 else None

    def test_mixed_good_and_bad(self):
        text = (
            "AUTHENTICATE PUBKEY:300:0.NA/88.100.1\n"               # 1
            "%s\n"                                                  # 2
            "\n"                                                    # 3
            "CREATE 88.100.1/B-1\n"                                 # 4 good
            "100 HS_ADMIN 86400 1110 ADMIN 300:111111111111:0.NA/88.100.1\n"
            "1 URL 86400 1110 UTF8 http://example.com/b 1\n"
            "2 HS_PUBKEY 86400 1110 FILE %s\n"
            "\n"
            "CREATE 88.100.1/B-2\n"                                 # 9 bad: data type
            "1 URL 86400 1110 TEXT http://x/\n"
            "\n"
            "CREATE 88.100.1/existing\n"                            # 12 bad: exists
            "1 URL 86400 1110 UTF8 http://dup/\n"
            "\n"
            "ADD 88.100.1/B-1\n"                                    # 15 good
            "3 EMAIL 86400 1110 UTF8 qa@example.com\n"
            "\n"
            "MODIFY 88.100.1/B-1\n"                                 # 18 good
            "1 URL 86400 1110 UTF8 http://example.com/b1-new\n"
            "\n"
            "REMOVE 3:88.100.1/B-1\n"                               # 21 good
            "REMOVE 9:88.100.1/B-1\n"                               # 22 bad: no index 9
            "DELETE 88.100.1/nowhere\n"                             # 23 bad: not found
            "\n"
            "FROBNICATE 88.100.1/B-1\n"                             # 25 bad: unknown op
            "\n"
            "CREATE 88.200/elsewhere\n"                             # 27 bad: not homed
            "1 URL 86400 1110 UTF8 http://x/\n"
            "\n"
            "CREATE 88.100.1/B-3\n"                                 # 30 bad: perms
            "1 URL 86400 11x0 UTF8 http://x/\n"
            "\n"
            "AUTHENTICATE SECKEY:300:88.100.1/clerk\n"              # 33
            "%s\n"
            "\n"
            "ADD 88.100.1/existing\n"                               # 36 good: clerk may add
            "2 EMAIL 86400 1110 UTF8 clerk@example.com\n"
            "\n"
            "DELETE 88.100.1/existing\n"                            # 39 bad: no right
            "\n"
            "HOME 127.0.0.1:%d:TCP\n"                               # 41 bad: not a node admin
            "0.NA/88.300\n"
            "\n") % (self.key, self.pubpem, SECRET.decode(), self.node.port)
        path, r = self.batch(text)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        err = r.stderr
        name = os.path.basename(path)
        # Each bad record: its line and the reason.
        for line, words in ((9, "data type: unknown"), (12, "101 HANDLE_ALREADY_EXISTS"),
                            (22, "200"), (23, "100 HANDLE_NOT_FOUND"),
                            (25, "unknown operation 'FROBNICATE'"),
                            (27, "301"), (30, "permissions"),
                            (39, "delete handle"), (42, "400")):
            self.assertRegex(err, r"%s:%d: .*FAILED: .*%s" % (name, line, words), err)
        # The good ones: ok lines, and their effects.
        for line in (1, 4, 15, 18, 21, 33, 36):
            self.assertIn("%s:%d: " % (name, line), r.stdout)
        self.assertIn("16 records: 7 ok, 9 failed", r.stdout)
        b1 = self.resolved("88.100.1/B-1")
        self.assertIn("http://example.com/b1-new", b1)
        self.assertIn("HS_PUBKEY", b1)
        self.assertNotIn("qa@example.com", b1)
        self.assertIsNone(self.resolved("88.100.1/B-2"))
        self.assertIsNone(self.resolved("88.100.1/B-3"))
        ex = self.resolved("88.100.1/existing")
        self.assertIn("clerk@example.com", ex)
        self.assertIn("http://old/", ex)

    def test_clean_file_with_command_line_identity(self):
        lines = []
        for i in range(150):  # more than one pipelined window
            lines += ["CREATE 88.100.1/C-%03d" % i,
                      "100 HS_ADMIN 86400 1110 ADMIN 300:111111111111:0.NA/88.100.1",
                      "1 URL 86400 1110 UTF8 http://example.com/c/%d" % i, ""]
        path, r = self.batch("\n".join(lines) + "\n", "--id", "300:0.NA/88.100.1",
                             "--key", self.key, "--quiet")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("150 records: 150 ok, 0 failed", r.stdout)
        self.assertIn("http://example.com/c/149", self.resolved("88.100.1/C-149"))
        # The first value's type is sent as written, not read from the line after it.
        self.assertRegex(self.resolved("88.100.1/C-149"), r"\b100\s+HS_ADMIN\s")

    def test_admin_rights_digit_order(self):
        """The 12 rights digits of an ADMIN line map to HS_ADMIN bits as the
        reference GenericBatch maps them: digit i is bit 1 << i (read value is
        the 11th digit, 0x0400). Anything but 12 digits is refused."""
        cases = [("111111111111", 0x0FFF), ("100000000000", 0x0001),
                 ("000000010000", 0x0080),  # 8th digit: modify admin
                 ("000000000010", 0x0400),  # 11th digit: read value
                 ("000000000001", 0x0800), ("111111100000", 0x007F),
                 ("010011110010", 0x04F2)]
        lines = ["CREATE 88.100.1/RIGHTS"]
        for i, (digits, _) in enumerate(cases):
            lines.append("%d HS_ADMIN 86400 1110 ADMIN 300:%s:0.NA/88.100.1" % (100 + i, digits))
        lines += ["", "CREATE 88.100.1/RIGHTS-SHORT",
                  "100 HS_ADMIN 86400 1110 ADMIN 300:11111111111:0.NA/88.100.1", "",
                  "CREATE 88.100.1/RIGHTS-LONG",
                  "100 HS_ADMIN 86400 1110 ADMIN 300:1111111111111:0.NA/88.100.1", ""]
        path, r = self.batch("\n".join(lines) + "\n", "--id", "300:0.NA/88.100.1",
                             "--key", self.key)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("3 records: 1 ok, 2 failed", r.stdout)
        self.assertRegex(r.stderr, r":%d: .*FAILED: .*12 digits" % (len(cases) + 3))
        self.assertRegex(r.stderr, r":%d: .*FAILED: .*12 digits" % (len(cases) + 6))
        self.assertIsNone(self.resolved("88.100.1/RIGHTS-SHORT"))
        self.assertIsNone(self.resolved("88.100.1/RIGHTS-LONG"))
        out = self.node.resolve("88.100.1/RIGHTS", "--tcp", "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        got = {}
        for v in json.loads(out.stdout)["values"]:
            data = bytes.fromhex(v["data"]["value"])
            got[v["index"]] = struct.unpack(">H", data[:2])[0]
        for i, (digits, rights) in enumerate(cases):
            self.assertEqual(got[100 + i], rights, "%s -> %#06x, want %#06x"
                             % (digits, got[100 + i], rights))

    def test_no_identity(self):
        path, r = self.batch("DELETE 88.100.1/existing\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn(":1: DELETE 88.100.1/existing: FAILED: no identity", r.stderr)
        self.assertIsNotNone(self.resolved("88.100.1/existing"))

    def test_usage(self):
        r = self.node.cli("batch", "/nonexistent/file", "--server", self.server)
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent/file", r.stderr)


if __name__ == "__main__":
    unittest.main()
