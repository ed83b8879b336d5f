"""The manual pages and the example configuration against the binary:
idnode.conf(5) (made at build time from the settings table) lists exactly the
INI keys `idnode serve --help` shows, the example file the same keys, each at
a value the binary accepts; idnode(1) names every command `idnode --help` lists."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import IDNODE  # noqa: E402

BUILD = os.environ.get("IDN_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SRC = os.path.join(os.path.dirname(__file__), "../..")


def run(*args):
    out = subprocess.run([IDNODE] + list(args), capture_output=True, text=True, timeout=30)
    return out.returncode, out.stdout + out.stderr


def help_keys():
    """The INI keys of `idnode serve --help`: each flag with '-' as '_', or the
    "(setting: KEY or ALIAS)" under it, and the rows "In the file only"."""
    rc, text = run("serve", "--help")
    assert rc == 0, text
    keys, last, file_only = set(), None, False
    for line in text.splitlines():
        if line.startswith("In the file only:"):
            file_only = True
            continue
        m = re.match(r"\s+\(setting: (\w+)(?: or \w+)?\)$", line)
        if m:
            keys.discard(last)
            keys.add(m.group(1))
            continue
        m = re.match(r"  (?:-\w, )?--([a-z0-9-]+)", line) or re.match(r"      --([a-z0-9-]+)", line)
        if m and not file_only:
            last = m.group(1).replace("-", "_")
            keys.add(last)
            continue
        m = re.match(r"  (\w+) =", line)
        if m and file_only:
            keys.add(m.group(1))
    keys.discard("config")  # -c FILE: the file itself
    keys.discard("help")
    return keys


def man_keys(path):
    """The settings idnode.conf(5) lists: each .TP entry's .B name under SETTINGS."""
    with open(path) as f:
        text = f.read()
    section = text.split(".SH SETTINGS\n", 1)[1].split(".SH ", 1)[0]
    return re.findall(r"^\.TP\n\.B (\S+)\n", section, re.M)


class ManPages(unittest.TestCase):
    def test_conf5_lists_exactly_the_settings_of_the_binary(self):
        page = os.path.join(BUILD, "dist", "idnode.conf.5")
        listed = man_keys(page)
        self.assertEqual(len(listed), len(set(listed)), "a setting listed twice")
        known = help_keys()
        self.assertGreater(len(known), 50)
        self.assertEqual(set(listed), known,
                         "only in the page: %s; only in the binary: %s"
                         % (sorted(set(listed) - known), sorted(known - set(listed))))
        # And the page is the binary's own, not a stale copy.
        rc, keys = run("settings-doc", "keys")
        self.assertEqual(rc, 0)
        self.assertEqual(keys.split(), listed)

    def test_example_has_every_setting_at_values_the_binary_takes(self):
        with open(os.path.join(BUILD, "dist", "idnode.conf.example")) as f:
            example = f.read()
        lines = re.findall(r"^#(\w+) = (.*)$", example, re.M)
        self.assertEqual({k for k, _ in lines}, help_keys())
        # Uncomment every setting whose default is a value (numbers, yes/no, a
        # choice): the file must parse; the node then stops only for want of a store.
        with tempfile.TemporaryDirectory() as d:
            conf = os.path.join(d, "all.conf")
            given = 0
            with open(conf, "w") as f:
                f.write("[server]\n")
                for k, v in lines:
                    if re.fullmatch(r"\d+|yes|no|prefix|ips", v):
                        f.write("%s = %s\n" % (k, v))
                        given += 1
            self.assertGreater(given, 30)
            rc, out = run("serve", "-c", conf)
            self.assertEqual(rc, 2, out)
            self.assertIn("no store", out)
            self.assertNotIn("invalid setting", out)

    def test_settings_doc_refuses_an_unknown_document(self):
        rc, out = run("settings-doc", "html")
        self.assertEqual(rc, 2)
        self.assertIn("usage: idnode settings-doc man|ini|keys", out)

    def test_idnode1_names_every_command(self):
        rc, text = run("--help")
        self.assertEqual(rc, 0)
        commands = re.findall(r"^  (\w+)\s", text, re.M)
        self.assertGreater(len(commands), 20)
        with open(os.path.join(SRC, "man", "idnode.1")) as f:
            page = f.read()
        named = set(re.findall(r"^\.BR? (.+)$", page, re.M))
        words = set()
        for n in named:
            words.update(w.strip('",') for w in n.split())
        missing = [c for c in commands if c not in words]
        self.assertEqual(missing, [], "commands idnode(1) does not describe")


if __name__ == "__main__":
    unittest.main()
