"""The manual pages and the example configuration against the binary:
idnode.conf(5) (made at build time from the settings table) lists exactly the
INI keys `idnode serve --help` shows, the example file the same keys, each at
a value the binary accepts; idnode(1) names every command `idnode --help` lists;
the group pages idnode-GROUP(1) (made at build time from each command's --help)
hold every command exactly once, with the options of its --help, and every page
renders without a warning."""
import glob
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


OPTION_LINE = re.compile(r"^ {2,8}(--?[A-Za-z0-9][\w-]*(?:, ?--?[A-Za-z0-9][\w-]*)*)")


def help_options(text):
    """The options of a --help: the leading -X, --NAME run of each option line."""
    return [m.group(1).replace(" ", "") for m in map(OPTION_LINE.match, text.splitlines()) if m]


def unroff(line):
    return line.replace("\\fB", "").replace("\\fR", "").replace("\\-", "-").replace("\\e", "\\")


def page_sections(path):
    """{commands of a .SS heading: the options of its .TP entries} of a group page."""
    with open(path) as f:
        text = f.read()
    body = text.split(".SH COMMANDS\n", 1)[1].split(".SH SEE ALSO", 1)[0]
    sections = {}
    for part in body.split(".SS ")[1:]:
        heading, rest = part.split("\n", 1)
        tags = re.findall(r"^\.TP\n(.*)$", rest, re.M)
        opts = [m.group(1).replace(" ", "") for m in (OPTION_LINE.match("  " + unroff(t)) for t in tags)
                if m]
        sections[tuple(c.strip() for c in heading.split(","))] = opts
    return sections


def group_pages():
    return sorted(glob.glob(os.path.join(BUILD, "dist", "idnode-*.1")))


class GroupPages(unittest.TestCase):
    def test_every_command_is_in_exactly_one_page(self):
        rc, text = run("--help")
        self.assertEqual(rc, 0)
        commands = re.findall(r"^  (\w+)\s", text, re.M)
        rc, groups = run("man-doc", "groups")
        self.assertEqual(rc, 0, groups)
        self.assertEqual([os.path.basename(p) for p in group_pages()],
                         sorted("idnode-%s.1" % g for g in groups.split()))
        placed = {"serve": ["idnode-serve.1"]}  # hand-written, man/
        for page in group_pages():
            for heading in page_sections(page):
                for c in heading:
                    placed.setdefault(c, []).append(os.path.basename(page))
        for c in commands:
            self.assertEqual(len(placed.get(c, [])), 1, "%s is in %s" % (c, placed.get(c)))
        self.assertEqual(set(placed), set(commands), "pages hold commands idnode does not have")

    def test_each_commands_options_are_those_of_its_help(self):
        checked = 0
        for page in group_pages():
            for heading, opts in page_sections(page).items():
                for c in heading:  # commands sharing a section share their help
                    rc, text = run(c, "--help")
                    self.assertEqual(rc, 0, text)
                    self.assertEqual(opts, help_options(text), "%s in %s" % (c, page))
                    checked += len(opts)
        self.assertGreater(checked, 60)

    def test_pages_are_the_binarys_own_and_describe_each_command(self):
        rc, text = run("--help")
        summaries = dict(re.findall(r"^  (\w+)\s+(.+)$", text, re.M))
        for page in group_pages():
            group = os.path.basename(page)[len("idnode-"):-2]
            rc, fresh = run("man-doc", group)
            self.assertEqual(rc, 0, fresh)
            with open(page) as f:
                built = f.read()
            drop_date = lambda t: re.sub(r'^\.TH .*$', "", t, flags=re.M)  # noqa: E731
            self.assertEqual(drop_date(built), drop_date(fresh), page)
            described = re.findall(r"^\.TP\n\.B idnode (\w+)\n(.+)$", built, re.M)
            self.assertEqual([c for c, _ in described],
                             [c for h in page_sections(page) for c in h])
            for c, summary in described:
                self.assertEqual(unroff(summary), summaries[c])
            synopsis = built.split(".SH SYNOPSIS\n", 1)[1].split(".SH ", 1)[0]
            for c, _ in described:  # idnode C, or idnode A|C|B
                self.assertRegex(unroff(synopsis), r"(?m)^idnode (\S+\|)?%s[| ]" % c, page)

    def test_every_page_renders_without_warnings(self):
        pages = group_pages() + [os.path.join(SRC, "man", "idnode.1"),
                                 os.path.join(SRC, "man", "idnode-serve.1"),
                                 os.path.join(BUILD, "dist", "idnode.conf.5")]
        self.assertEqual(len(pages), 9)
        for page in pages:
            out = subprocess.run(["groff", "-ww", "-z", "-man", "-K", "utf-8", page],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual((out.returncode, out.stderr), (0, ""), page)
        # Every group page is named in idnode(1)'s SEE ALSO.
        with open(os.path.join(SRC, "man", "idnode.1")) as f:
            see_also = f.read().split(".SH SEE ALSO", 1)[1]
        for page in group_pages():
            name = os.path.basename(page)[:-2].replace("-", "\\-")
            self.assertIn(".BR %s (1)" % name, see_also)

    def test_man_doc_refuses_an_unknown_group(self):
        rc, out = run("man-doc", "serve")  # hand-written: no generated page
        self.assertEqual(rc, 2)
        self.assertIn("usage: idnode man-doc GROUP|groups", out)


if __name__ == "__main__":
    unittest.main()
