"""Attacks on administration that test_admin.py does not cover, against a real
`idnode serve`: HS_VLIST groups that loop (a group containing itself, two
groups containing each other, a chain deeper than the nesting bound, a group
wider than the lookup budget) used as the admin of a handle, and oversized or
lying requests (a value over the record limit, a handle over the length limit,
a create with too many values, bodies whose length and count fields lie).
Each is refused with its code, quickly, and the store is unchanged: `idnode
dump` of the live store before and after is compared. A positive control (a
real member behind a looping group) shows the groups are read at all.

Requests are sent raw and answered with the legacy secret-key MAC
(SHA1(secret | nonce | digest | secret)), so each check sees the server's
own answer code. Every wait is bounded."""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import IDNODE, Node, parse_answer, request, tcp_exchange  # noqa: E402
from idnlib import admin_data, challenge_of, hexval, s, seckey_response, vlist_data  # noqa: E402

BOSS = b"boss-secret-2026"
MALLORY = b"mallory-secret-2026"


def value(index, typ, data):
    data = data.encode() if isinstance(data, str) else data
    return struct.pack(">IIBIB", index, 0, 0, 86400, 0x0e) + s(typ) + s(data) + struct.pack(">I", 0)


def values_body(handle, vals):
    return s(handle) + struct.pack(">I", len(vals)) + b"".join(vals)


CHAIN = 12  # longer than the server's HS_VLIST nesting bound (8)
WIDE = 300  # more references than the server's lookup budget (256)


class Attack(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        p = "88.100.1/"
        recs = [
            {"handle": "0.NA/88.100.1", "values": [
                hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, p + "boss"))]},
            {"handle": p + "boss", "values": [hexval(300, "HS_SECKEY", BOSS.hex(), perms=0x0c)]},
            {"handle": p + "mallory",
             "values": [hexval(300, "HS_SECKEY", MALLORY.hex(), perms=0x0c)]},
            # A group that contains itself.
            {"handle": p + "g-self", "values": [hexval(200, "HS_VLIST",
                                                       vlist_data([(200, p + "g-self")]))]},
            # Two groups that contain each other.
            {"handle": p + "g-a", "values": [hexval(200, "HS_VLIST",
                                                    vlist_data([(200, p + "g-b")]))]},
            {"handle": p + "g-b", "values": [hexval(200, "HS_VLIST",
                                                    vlist_data([(200, p + "g-a")]))]},
            # Mallory in a group behind more references than the lookup budget.
            {"handle": p + "g-wide", "values": [hexval(200, "HS_VLIST", vlist_data(
                [(200, p + "nothing-%d" % i) for i in range(WIDE)] + [(200, p + "g-inner")]))]},
            {"handle": p + "g-inner", "values": [hexval(200, "HS_VLIST",
                                                        vlist_data([(300, p + "mallory")]))]},
            # Positive control: a real member next to the looping groups.
            {"handle": p + "g-ok", "values": [hexval(200, "HS_VLIST", vlist_data(
                [(200, p + "g-self"), (200, p + "g-a"), (300, p + "mallory")]))]},
        ]
        # A chain c0 -> c1 -> ... -> c{CHAIN-1}, whose last group holds Mallory.
        for i in range(CHAIN):
            nxt = (300, p + "mallory") if i == CHAIN - 1 else (200, p + "c%d" % (i + 1))
            recs.append({"handle": p + "c%d" % i,
                         "values": [hexval(200, "HS_VLIST", vlist_data([nxt]))]})
        for name, group in (("t-self", "g-self"), ("t-mutual", "g-a"), ("t-chain", "c0"),
                            ("t-wide", "g-wide"), ("t-ok", "g-ok")):
            recs.append({"handle": p + name, "values": [
                {"index": 1, "type": "URL", "data": "https://example.com/" + name},
                hexval(100, "HS_ADMIN", admin_data(0x0FFF, 200, p + group))]})
        cls.node = Node(records=recs, homes=("88.100.1",))

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        cls.node.close()

    def dump(self):
        out = subprocess.run([IDNODE, "dump", "--data", self.node.data], capture_output=True,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def admin(self, op, body, handle, secret):
        """Sends an admin request; answers a 402 challenge as handle:300 with secret.
        Returns (opcode, response code, body) of the final answer."""
        req = request("", op=op, flags=0x18000000, body=body)
        env, aop, rc, flags, ans = parse_answer(tcp_exchange(self.node.port, req, timeout=10))
        if rc != 402:
            return aop, rc, ans
        nonce, digest = challenge_of(ans)
        req = seckey_response(env["session"], nonce, digest, handle, secret)
        _, aop, rc, _, ans = parse_answer(tcp_exchange(self.node.port, req, timeout=10))
        return aop, rc, ans

    def mallory_adds(self, target):
        body = values_body("88.100.1/" + target, [value(7, "EMAIL", "m@evil.example")])
        c0 = self.node.cpu()  # the node's CPU, not wall time: other load stretches that
        res = self.admin(102, body, "88.100.1/mallory", MALLORY)
        return res, self.node.cpu() - c0

    def refused(self, op, body, codes, who=("88.100.1/boss", BOSS)):
        """Runs the request; asserts it is refused with one of codes and the store is unchanged."""
        before = self.dump()
        c0 = self.node.cpu()
        _, rc, ans = self.admin(op, body, *who)
        self.assertLess(self.node.cpu() - c0, 5.0)
        self.assertIn(rc, codes, ans)
        self.assertEqual(self.dump(), before)
        self.assertTrue(self.node.alive())
        return rc, ans

    # ---- HS_VLIST loops ----

    def test_vlist_loops_refused(self):
        for target in ("t-self", "t-mutual", "t-chain", "t-wide"):
            before = self.dump()
            (op, rc, ans), took = self.mallory_adds(target)
            self.assertEqual(rc, 400, "%s: %d %r" % (target, rc, ans))  # not an admin of it
            self.assertLess(took, 2.0, target)
            self.assertEqual(self.dump(), before, target)
        self.assertTrue(self.node.alive())

    def test_vlist_member_behind_loops_accepted(self):
        (op, rc, ans), took = self.mallory_adds("t-ok")
        self.assertEqual(rc, 1, ans)
        self.assertIn(b"m@evil.example", self.dump())

    # ---- oversized ----

    def test_value_over_record_limit(self):
        big = value(2, "BLOB", b"x" * 260000)  # fits a message, not a record
        rc, ans = self.refused(100, values_body("88.100.1/big", [value(1, "URL", "u"), big]),
                               (202,))
        self.assertIn(b"record too large", ans)
        # The same limit for a record that grows past it one value at a time.
        owner = hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, "88.100.1/boss"))
        own = struct.pack(">IIBIB", 100, 0, 0, 86400, 0x0e) + s("HS_ADMIN") + \
            s(bytes.fromhex(owner["data"]["value"])) + struct.pack(">I", 0)
        half = value(3, "BLOB", b"y" * 140000)
        _, rc, ans = self.admin(100, values_body("88.100.1/grow", [own, half]),
                                "88.100.1/boss", BOSS)
        self.assertEqual(rc, 1, ans)
        self.refused(102, values_body("88.100.1/grow", [value(4, "BLOB", b"z" * 140000)]),
                     (202,))

    def test_message_over_protocol_limit(self):
        # 300 KB: more than a message may be; the node refuses it and closes.
        before = self.dump()
        body = values_body("88.100.1/huge", [value(1, "BLOB", b"x" * 300000)])
        try:
            _, _, rc, _, _ = parse_answer(tcp_exchange(self.node.port,
                                                       request("", op=100, body=body)))
            self.assertNotEqual(rc, 1)
        except (ConnectionError, OSError):
            pass  # dropped before an answer: also a refusal
        self.assertEqual(self.dump(), before)
        self.assertTrue(self.node.alive())

    def test_handle_over_length_limit(self):
        h = "88.100.1/" + "h" * 2100
        self.refused(100, values_body(h, [value(1, "URL", "u")]), (102,))

    def test_too_many_values(self):
        # As many values as a message holds: refused by the record limit.
        n = 9700
        vals = [value(i + 1, "T", "") for i in range(n)]
        body = values_body("88.100.1/many", vals)
        self.assertLess(len(body), 262144 - 64)
        self.refused(100, body, (202,))
        # The duplicate-index check, which runs before any challenge, is not
        # quadratic: the 402 costs the node little CPU (it took ~0.5 s of a
        # worker before).
        took = []
        for _ in range(3):
            t0 = self.node.cpu()
            _, _, rc, _, _ = parse_answer(tcp_exchange(
                self.node.port, request("", op=100, flags=0x18000000, body=body), timeout=10))
            took.append(self.node.cpu() - t0)
            self.assertEqual(rc, 402)
        self.assertLess(min(took), 0.25, took)
        # Many duplicate indexes: the conflict is found without a quadratic scan.
        dup = [value(5, "T", "")] * 9000
        self.refused(100, values_body("88.100.1/many", dup), (201,))

    # ---- lying length and count fields ----

    def test_lying_fields(self):
        h = s("88.100.1/liar")
        one = value(1, "URL", "u")
        cases = [
            h + struct.pack(">I", 1000) + one,                   # count larger than the values
            h + struct.pack(">I", 0xFFFFFFFF) + one,             # count that cannot fit
            struct.pack(">I", 0x7FFFFFF0) + b"88.100.1/liar",    # handle length past the body
            h + struct.pack(">I", 1) + one[:20] + struct.pack(">I", 0x7FFFFFFF),  # type length
            h + struct.pack(">I", 1) + one[:-8] + struct.pack(">I", 0xFFFFFF00),  # refs count
        ]
        for body in cases:
            rc, _ = self.refused(100, body, (4,))
        # Op 103 with an index count past the body.
        self.refused(103, h + struct.pack(">I", 500) + struct.pack(">I", 1), (4,))


if __name__ == "__main__":
    unittest.main()
