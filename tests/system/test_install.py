"""`cmake --install` of the build tree into a temporary prefix: the whole
layout (binary, manual pages, configuration, examples, units, docs) lands
under the prefix, the units and the configuration name the installed paths,
and the installed binary runs."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BUILD = os.environ.get("IDN_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))

LAYOUT = ["bin/idnode", "share/man/man1/idnode.1", "share/man/man1/idnode-serve.1",
          "share/man/man5/idnode.conf.5", "etc/idnode/idnode.conf",
          "share/doc/idnode/examples/idnode.conf.example",
          "share/doc/idnode/examples/idnode-lowports.conf.example",
          "share/doc/idnode/README.md", "share/doc/idnode/packaging.md",
          "share/doc/idnode/architecture.md",
          "lib/systemd/system/idnode.service", "lib/systemd/system/idnode@.service"]


class Install(unittest.TestCase):
    def test_layout_under_a_prefix(self):
        cmake = shutil.which("cmake")
        self.assertIsNotNone(cmake)
        with tempfile.TemporaryDirectory(prefix="idn-install-") as prefix:
            out = subprocess.run([cmake, "--install", BUILD, "--prefix", prefix],
                                 capture_output=True, text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            for f in LAYOUT:
                self.assertTrue(os.path.isfile(os.path.join(prefix, f)), f)
            # The units were configured for the build's own prefix (CMAKE_INSTALL_PREFIX);
            # each names an idnode and a configuration under one etc/ and one var/.
            with open(os.path.join(prefix, "lib/systemd/system/idnode@.service")) as f:
                unit = f.read()
            self.assertRegex(unit, r"\nExecStart=/\S*/idnode serve -c /\S*etc/idnode/%i\.conf\n")
            self.assertRegex(unit, r"\nReadWritePaths=-/\S*var/lib/idnode/%i\n")
            self.assertIn("\nExecReload=/bin/kill -HUP $MAINPID\n", unit)
            self.assertNotIn("@IDN_", unit)
            with open(os.path.join(prefix, "etc/idnode/idnode.conf")) as f:
                conf = f.read()
            self.assertRegex(conf, r"\ndata = /\S*var/lib/idnode\n")
            self.assertNotIn("@IDN_", conf)
            # The installed binary runs, and its page is the one installed.
            idnode = os.path.join(prefix, "bin/idnode")
            page = subprocess.run([idnode, "settings-doc", "keys"], capture_output=True,
                                  text=True, timeout=30)
            self.assertEqual(page.returncode, 0)
            with open(os.path.join(prefix, "share/man/man5/idnode.conf.5")) as f:
                man = f.read()
            for key in page.stdout.split():
                self.assertIn("\n.B %s\n" % key, man)
            # The example parses as idnode's own configuration with its defaults.
            ex = os.path.join(prefix, "share/doc/idnode/examples/idnode.conf.example")
            out = subprocess.run([idnode, "serve", "-c", ex], capture_output=True, text=True,
                                 timeout=30)
            self.assertIn("no store", out.stderr)


if __name__ == "__main__":
    unittest.main()
