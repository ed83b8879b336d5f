"""libidnode as another program uses it: installed by `cmake --install` (its
components only) into a temporary prefix, the examples compiled there with
the flags `pkg-config --cflags --libs idnode` gives (shared, and static with
--static), then run against real nodes: examples/resolve.c from a server and
through a root, examples/register.c creating, reading back and listing an
identifier as an administrator with a key. The library exports exactly the
functions its header declares (nm -D), under SONAME libidnode.so.0."""
import glob
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import IDNODE  # noqa: E402
from libnodes import ADMIN, BUILD, SRC, URL, Nodes, compiler  # noqa: E402


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


def header_functions():
    """The functions include/idnode.h declares: the names before '(' after IDNODE_API."""
    with open(os.path.join(SRC, "include", "idnode.h")) as f:
        text = f.read()
    return set(re.findall(r"IDNODE_API\b[^;(]*?\b(idnode_\w+)\s*\(", text))


class LibIdnode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nodes = Nodes()
        cls.tmp = tempfile.mkdtemp(prefix="idn-libinst-")
        cls.prefix = os.path.join(cls.tmp, "usr")
        for comp in ("libidnode", "libidnode-dev"):
            out = run(["cmake", "--install", BUILD, "--prefix", cls.prefix, "--component", comp])
            assert out.returncode == 0, out.stdout + out.stderr
        pcs = glob.glob(os.path.join(cls.prefix, "lib*", "**", "idnode.pc"), recursive=True)
        assert len(pcs) == 1, pcs
        cls.pcdir = os.path.dirname(pcs[0])
        cls.libdir = os.path.dirname(cls.pcdir)
        cls.bin = {}

    @classmethod
    def tearDownClass(cls):
        cls.nodes.close()
        subprocess.run(["rm", "-rf", cls.tmp], timeout=30)

    def pkg_config(self, *args):
        env = dict(os.environ, PKG_CONFIG_PATH=self.pcdir)
        out = run(["pkg-config", "--define-prefix"] + list(args) + ["idnode"], env=env)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout.split()

    def build_example(self, name, static=False):
        """examples/NAME.c compiled and linked as pkg-config says; the program's path."""
        key = (name, static)
        if key not in self.bin:
            exe = os.path.join(self.tmp, name + ("-static" if static else ""))
            cflags = self.pkg_config("--cflags")
            if static:  # libidnode.a, its dependencies from Requires.private/Libs.private
                libs = ["-Wl,-Bstatic", "-lidnode", "-Wl,-Bdynamic"] + [
                    f for f in self.pkg_config("--static", "--libs") if f != "-lidnode"]
            else:
                libs = self.pkg_config("--libs") + ["-Wl,-rpath," + self.libdir]
            out = run(compiler() + ["-Wall", "-Werror", "-o", exe] + cflags +
                      [os.path.join(SRC, "examples", name + ".c")] + libs)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.bin[key] = exe
        return self.bin[key]

    def test_installed_layout(self):
        inc = os.path.join(self.prefix, "include", "idnode.h")
        self.assertTrue(os.path.isfile(inc))
        self.assertTrue(os.path.islink(os.path.join(self.libdir, "libidnode.so")))
        self.assertTrue(os.path.isfile(os.path.join(self.libdir, "libidnode.a")))
        so = os.path.join(self.libdir, "libidnode.so.0")
        self.assertTrue(os.path.exists(so))
        dyn = run(["readelf", "-d", so]).stdout
        self.assertIn("Library soname: [libidnode.so.0]", dyn)
        # The header stands alone: no include of idnode's sources.
        with open(inc) as f:
            includes = re.findall(r'#include\s+[<"]([^>"]+)', f.read())
        self.assertEqual(sorted(includes), ["stddef.h", "stdint.h"])

    def test_exports_only_the_public_api(self):
        so = os.path.join(BUILD, "libidnode.so")
        out = run(["nm", "-D", "--defined-only", so])
        self.assertEqual(out.returncode, 0, out.stderr)
        names = set()
        for line in out.stdout.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TDBRVW" and parts[1] != "A":
                names.add(parts[2].split("@")[0])
        declared = header_functions()
        self.assertGreater(len(declared), 30)
        self.assertEqual(names, declared)

    def resolve(self, exe, *args):
        return run([exe, "88.100.1/MOTOR-1"] + list(args))

    def test_resolve_from_server(self):
        for static in (False, True):
            exe = self.build_example("resolve", static)
            out = self.resolve(exe, "--server", self.nodes.server)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("88.100.1/MOTOR-1: 2 values", out.stdout)
            self.assertIn("1 URL " + URL, out.stdout)
            self.assertIn("2 EMAIL plant@example.com", out.stdout)
            out = self.resolve(exe, "--server", self.nodes.server, "--type", "EMAIL")
            self.assertEqual(out.stdout.splitlines()[1:], ["2 EMAIL plant@example.com"])

    def test_resolve_through_root(self):
        exe = self.build_example("resolve")
        out = self.resolve(exe, "--root", self.nodes.root_addr)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("1 URL " + URL, out.stdout)
        # The root itself holds no such identifier.
        out = self.resolve(exe, "--server", self.nodes.root_addr)
        self.assertNotEqual(out.returncode, 0)

    def test_resolve_errors(self):
        exe = self.build_example("resolve")
        out = run([exe, "88.100.1/NO-SUCH", "--server", self.nodes.server])
        self.assertEqual(out.returncode, 1)
        self.assertIn("100 HANDLE_NOT_FOUND", out.stderr)
        out = run([exe, "88.100.1/MOTOR-1", "--server", "127.0.0.1:notaport"])
        self.assertEqual(out.returncode, 2)
        self.assertIn("port must be 1..65535", out.stderr)

    def test_register_example(self):
        built = os.path.join(BUILD, "examples", "register")  # the build's own copy
        for i, exe in enumerate((self.build_example("register"), built)):
            handle = "88.100.1/LABEL-%d" % i
            url = "https://example.com/label/%d" % i
            out = run([exe, self.nodes.server, ADMIN, self.nodes.key, handle, url])
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertIn("created " + handle, out.stdout)
            self.assertIn("resolved %s URL %s" % (handle, url), out.stdout)
            self.assertIn("listed " + handle, out.stdout)
            self.assertIn("listed 88.100.1/MOTOR-1", out.stdout)
            # The CLI reads what the library wrote.
            cli = run([IDNODE, "resolve", handle, "--server", self.nodes.server, "--json"])
            self.assertIn(url, cli.stdout)
            # Again: the server says it exists, and the example says so.
            out = run([exe, self.nodes.server, ADMIN, self.nodes.key, handle, url])
            self.assertEqual(out.returncode, 1)
            self.assertIn("101 HANDLE_ALREADY_EXISTS", out.stderr)

    def test_register_with_a_key_that_is_not_the_admins(self):
        other = os.path.join(self.tmp, "other.pem")
        self.assertEqual(run([IDNODE, "keygen", "--type", "rsa", "--out", other]).returncode, 0)
        exe = self.build_example("register")
        out = run([exe, self.nodes.server, ADMIN, other, "88.100.1/NOPE", "https://x"])
        self.assertEqual(out.returncode, 1)
        self.assertRegex(out.stderr, r"register: create: .*4\d\d ")
        self.assertEqual(run([IDNODE, "resolve", "88.100.1/NOPE", "--server",
                              self.nodes.server]).returncode, 1)


if __name__ == "__main__":
    unittest.main()
