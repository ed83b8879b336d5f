"""GS1 Digital Link through the search index (issue 19, docs/gs1-resolver.md,
"Search rules"): an enterprise that registers its products under identifiers
of its own naming (88.100.1/MOTOR-1) and gives each a value of type GS1 with
its key's path ("/01/<gtin>/21/<serial>") is found by a registry rule
"GCP KEY search:PREFIX" instead of a template. One node with a store serves
the registry, the records and the resolver; on LMDB, and on PostgreSQL in
PgGs1Search (IDN_TEST_PG; skipped without it unless IDN_TEST_PG_REQUIRED=1).
Every wait is bounded."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode  # noqa: E402
from idnlib import pg_database  # noqa: E402


def gtin(body13):
    tot = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body13)))
    return body13 + str((10 - tot % 10) % 10)


G1 = gtin("0061414112345")  # a serial registered, and the GTIN itself
G2 = gtin("0061414177777")  # only its GTIN level registered
G3 = gtin("0061414166666")  # a GS1 value only its admins may read: not found
G4 = gtin("0952012300001")  # company prefix 9520123: a template rule, beside the search rule


def val(index, typ, data, perms=None):
    v = {"index": index, "type": typ, "data": data}
    if perms is not None:
        v["perms"] = perms
    return v


RECORDS = [
    {"handle": "88/GS1-REGISTRY", "values": [
        val(1, "GS1.RULE", "0614141 01 search:88.100.1"),
        val(2, "GS1.RULE", "9520123 88.100.1/01.{01}")]},
    {"handle": "88.100.1/MOTOR-1", "values": [
        val(1, "URL", "https://motor.example/motor-1"),
        val(2, "GS1", "/01/%s/21/S1" % G1)]},
    {"handle": "88.100.1/MOTOR-LINE", "values": [
        val(1, "URL", "https://motor.example/line"),
        val(2, "GS1", "/01/%s" % G1)]},
    {"handle": "88.100.1/PUMP-7", "values": [
        val(1, "URL", "https://pump.example/7"),
        val(2, "GS1", "/01/%s" % G2)]},
    {"handle": "88.100.1/SECRET-1", "values": [
        val(1, "URL", "https://secret.example/1"),
        val(2, "GS1", "/01/%s" % G3, perms=0x0c)]},  # admin read and write only
    # the same key under another prefix: the rule searches 88.100.1 only
    {"handle": "88.100.2/COPY", "values": [
        val(1, "URL", "https://elsewhere.example/copy"),
        val(2, "GS1", "/01/%s" % G2)]},
    {"handle": "88.100.1/01.%s" % G4, "values": [val(1, "URL", "https://template.example/g4")]},
]


class Gs1Search(unittest.TestCase):
    store = None

    @classmethod
    def setUpClass(cls):
        cls.node = HttpNode(records=RECORDS, homes=("88", "88.100.1", "88.100.2"),
                            http_args=("--gs1-registry", "88/GS1-REGISTRY"), store=cls.store)

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        cls.node.close()

    def get(self, path):
        status, hd, body = self.node.req("GET", path, headers={"Accept": "text/html"})
        return status, hd.get("location", ""), body

    def test_serial_found_by_its_gs1_value(self):
        status, loc, _ = self.get("/01/%s/21/S1" % G1)
        self.assertEqual((status, loc), (307, "https://motor.example/motor-1"))

    def test_unregistered_serial_falls_back_to_the_gtin_level(self):
        status, loc, _ = self.get("/01/%s/21/S9" % G1)
        self.assertEqual((status, loc), (307, "https://motor.example/line"))

    def test_gtin_level(self):
        status, loc, _ = self.get("/01/%s" % G2)
        self.assertEqual((status, loc), (307, "https://pump.example/7"))

    def test_value_not_publicly_readable_is_not_found(self):
        status, _, body = self.get("/01/%s" % G3)
        self.assertEqual(status, 404, body)

    def test_template_rule_beside_search_rule(self):
        status, loc, _ = self.get("/01/%s" % G4)
        self.assertEqual((status, loc), (307, "https://template.example/g4"))

    def test_linkset_names_the_identifier_found(self):
        status, hd, body = self.node.req("GET", "/01/%s/21/S1?linkType=linkset" % G1)
        self.assertEqual(status, 200, body)
        self.assertIn(b"https://motor.example/motor-1", body)
        self.assertIn(b"88.100.1/MOTOR-1", body)


class PgGs1Search(Gs1Search):
    """The same on PostgreSQL, in a database of its own."""

    @classmethod
    def setUpClass(cls):
        cls.store = pg_database("gs1search", cls.addClassCleanup)
        super().setUpClass()


if __name__ == "__main__":
    unittest.main()
