"""test_cli.py - `idnode gs1` as a user runs it: parse (JSON out, exit 0; the
reason and exit 1 on a bad URI; the stdin form), handle and uri through a
rule (and back), and usage errors (exit 2). IDNODE names the binary."""
import json
import os
import subprocess
import unittest

IDNODE = os.environ.get("IDNODE", "build/idnode")
RULE = "9520123:01:88.100.1/01.{01}.21.{21}"


def run(*args, stdin=None):
    return subprocess.run([IDNODE, "gs1", *args], input=stdin, capture_output=True, text=True,
                          timeout=30)


class Gs1Cli(unittest.TestCase):
    def test_parse(self):
        r = run("parse", "https://example.com/shop/01/9520123456788/21/A%2F1?17=261231&lang=de")
        self.assertEqual(r.returncode, 0, r.stderr)
        d = json.loads(r.stdout)
        self.assertEqual(d["stem"], "https://example.com/shop")
        self.assertEqual(d["key"], {"ai": "01", "title": "GTIN", "value": "09520123456788"})
        self.assertEqual(d["qualifiers"][0]["value"], "A/1")
        self.assertEqual(d["attributes"][0]["ai"], "17")
        self.assertEqual(d["other"], {"lang": "de"})

    def test_parse_bad(self):
        r = run("parse", "/01/09520123456788", "/01/09520123456780")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stdout.splitlines()), 1)  # the first, then the failure
        self.assertIn("/01/09520123456780: 01: check digit 8 expected, got 0", r.stderr)

    def test_parse_stdin(self):
        r = run("parse", "-", stdin="/01/09520123456788\n/01/x\n")
        self.assertEqual(r.returncode, 0)
        lines = [json.loads(x) for x in r.stdout.splitlines()]
        self.assertTrue(lines[0]["ok"])
        self.assertFalse(lines[1]["ok"])
        self.assertIn("01: ", lines[1]["error"])

    def test_handle_and_back(self):
        r = run("handle", RULE, "https://example.com/01/09520123456788/21/A.B%2F7")
        self.assertEqual(r.returncode, 0, r.stderr)
        h = r.stdout.strip()
        self.assertEqual(h, "88.100.1/01.09520123456788.21.A.B%2F7")
        r = run("uri", RULE, h, "https://example.com")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "https://example.com/01/09520123456788/21/A.B%2F7")

    def test_rule_not_applying(self):
        r = run("handle", RULE, "/01/09520123456788")
        self.assertEqual(r.returncode, 1)
        self.assertIn("the rule names an AI the URI lacks", r.stderr)
        r = run("handle", RULE, "/01/09530123456787/21/1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("is not under company prefix 9520123", r.stderr)
        r = run("uri", RULE, "88.100.2/01.09520123456788.21.X")
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not match the rule's template", r.stderr)

    def test_usage(self):
        self.assertEqual(run().returncode, 2)
        self.assertEqual(run("frobnicate", "x").returncode, 2)
        r = run("handle", "9520123:21:88.100.1/{21}", "/01/09520123456788")
        self.assertEqual(r.returncode, 2)
        self.assertIn("21 is not a GS1 Digital Link primary key", r.stderr)
        r = run("handle", "nocolons", "/01/09520123456788")
        self.assertEqual(r.returncode, 2)
        self.assertIn("expected GCP:KEY:TEMPLATE", r.stderr)
        self.assertEqual(run("--help").returncode, 0)


if __name__ == "__main__":
    unittest.main()
