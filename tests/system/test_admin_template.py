"""System test of data templates against a real `idnode serve`: `idnode template
create` from a JSON file (a bad file refused before anything is sent, naming
the file and the problem), `idnode template show`, and identifiers naming the
template at index 1001: good fields accepted, a bad or missing field refused
with 202 naming it, and the store unchanged after each refusal."""
import json
import os
import shutil
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import Node
from idnlib import admin_data, s  # noqa: E402

SECRET = b"template-secret-2026"
T = "88.100.1/TEMPLATE-MOTOR"
DEF = {"name": "Motor", "fields": [
    {"name": "model", "type": "string", "required": True, "maxLength": 16,
     "pattern": "^YE[0-9]-"},
    {"name": "rated_power_kw", "type": "number", "required": True, "min": 0.1, "max": 1000},
    {"name": "production_date", "type": "date", "required": True},
    {"name": "manual", "type": "url"},
    {"name": "test_report", "type": "file"}]}


class TemplateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="idn-tmpl-")
        cls.secret = os.path.join(cls.tmp, "secret")
        with open(cls.secret, "wb") as f:
            f.write(SECRET)
        cls.deffile = os.path.join(cls.tmp, "motor.json")
        with open(cls.deffile, "w") as f:
            json.dump(DEF, f)
        records = [{"handle": "0.NA/88.100.1", "values": [
            {"index": 100, "type": "HS_ADMIN",
             "data": {"format": "hex", "value": admin_data(0x0FFF, 300, "0.NA/88.100.1")}},
            {"index": 300, "type": "HS_SECKEY", "perms": 0x0c,
             "data": {"format": "hex", "value": SECRET.hex()}}]},
            {"handle": "88.100.1/PLAIN", "values": [{"index": 1, "type": "URL",
                                                     "data": "http://x/"}]}]
        cls.node = Node(records=records, homes=("88.100.1",),
                        extra_args=["--server-admin", "300:0.NA/88.100.1"])
        cls.server = "127.0.0.1:%d" % cls.node.port
        r = cls.admin("template", "create", T, cls.deffile)
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        cls.node.stop()
        cls.node.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def admin(cls, *args):
        return cls.node.cli(*args, "--server", cls.server, "--id", "300:0.NA/88.100.1",
                            "--secret-file", cls.secret)

    def resolved(self, h):
        r = self.node.resolve(h, "--tcp")
        return r.stdout if r.returncode == 0 else None

    def test_show(self):
        r = self.node.cli("template", "show", T, "--server", self.server)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("(Motor): 5 fields", r.stdout)
        self.assertRegex(r.stdout, r"rated_power_kw\s+number\s+required min=0.1 max=1000")
        r = self.node.cli("template", "show", "88.100.1/PLAIN", "--server", self.server)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a template", r.stderr)

    def test_bad_definition_file(self):
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w") as f:
            json.dump({"fields": [{"name": "x", "type": "colour"}]}, f)
        r = self.admin("template", "create", "88.100.1/TEMPLATE-BAD", bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad.json", r.stderr)
        self.assertIn("field 'x': type must be one of", r.stderr)
        self.assertIsNone(self.resolved("88.100.1/TEMPLATE-BAD"))

    def fields(self, h, *values, cmd="create"):
        return self.admin(cmd, h, "--value", "1001:TEMPLATE:" + T,
                          *sum((["--value", v] for v in values), []))

    def test_identifiers_validated(self):
        good = ("2000:model:YE3-132M", "2001:rated_power_kw:7.5",
                "2002:production_date:2026-03-01")
        h = "88.100.1/MOTOR-000001"
        r = self.fields(h, *good, "2003:manual:https://example.com/m.pdf")
        self.assertEqual(r.returncode, 0, r.stderr)
        before = self.resolved(h)
        self.assertIn("YE3-132M", before)

        # Each refusal names the field; nothing is stored or changed.
        bad = [("2001:rated_power_kw:seven", "field 'rated_power_kw' (index 2001)"),
               ("2002:production_date:2026-02-30", "field 'production_date'"),
               ("2000:model:XX-1", "field 'model' (index 2000)")]
        for i, (value, want) in enumerate(bad):
            others = [g for g in good if g.split(":")[1] != value.split(":")[1]]
            h2 = "88.100.1/MOTOR-BAD-%d" % i
            r = self.fields(h2, *others, value)
            self.assertEqual(r.returncode, 1)
            self.assertIn("202", r.stderr)
            self.assertIn(want, r.stderr)
            self.assertIsNone(self.resolved(h2))
        r = self.fields("88.100.1/MOTOR-BAD-9", *good[:2])
        self.assertIn("required field 'production_date' is missing", r.stderr)
        self.assertIsNone(self.resolved("88.100.1/MOTOR-BAD-9"))

        r = self.admin("modify", h, "--value", "2001:rated_power_kw:-3")
        self.assertEqual(r.returncode, 1)
        self.assertIn("outside", r.stderr)
        r = self.admin("add", h, "--value", "2004:colour:red")
        self.assertIn("field 'colour' (index 2004) is not in the template", r.stderr)
        r = self.admin("remove", h, "--index", "2000")
        self.assertIn("required field 'model'", r.stderr)
        self.assertEqual(self.resolved(h), before)

        r = self.admin("modify", h, "--value", "2001:rated_power_kw:11")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("11", self.resolved(h))


if __name__ == "__main__":
    unittest.main()
