"""The Python binding (bindings/python/idnode.py, ctypes over the build's
libidnode.so) against real nodes, as a scanner or MES script uses it:
resolve from a server and through a root, with type filters; register an
identifier as the administrator (values as tuples and as --value text),
read it back, modify, list, delete; a batch file; errors raised with the
server's code. In an ASan+UBSan build the test runs again under the
sanitizers' runtime (LD_PRELOAD), which the instrumented library needs."""
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from libnodes import ADMIN, BUILD, SANITIZE, SRC, URL, Nodes  # noqa: E402

if SANITIZE and "IDN_PY_PRELOADED" not in os.environ:
    # The instrumented library takes the sanitizers' runtime from the program: Python has
    # none, so it is preloaded (leaks are Python's own business here).
    rt = subprocess.run(["clang", "-print-file-name=libclang_rt.asan-x86_64.so"],
                        capture_output=True, text=True, timeout=30).stdout.strip()
    env = dict(os.environ, LD_PRELOAD=rt, IDN_PY_PRELOADED="1",
               ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0")
    sys.exit(subprocess.run([sys.executable] + sys.argv, env=env, timeout=300).returncode)

# The runtime is in this process now; the nodes and the CLI this test starts bring their own.
os.environ.pop("LD_PRELOAD", None)
os.environ["IDNODE_LIBRARY"] = os.path.join(BUILD, "libidnode.so.0")
sys.path.insert(0, os.path.join(SRC, "bindings", "python"))
import idnode  # noqa: E402


class PythonBinding(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nodes = Nodes()
        cls.tmp = tempfile.mkdtemp(prefix="idn-py-")

    @classmethod
    def tearDownClass(cls):
        cls.nodes.close()
        subprocess.run(["rm", "-rf", cls.tmp], timeout=30)

    def admin(self):
        c = idnode.Client(server=self.nodes.server, timeout_ms=10000)
        index, handle = ADMIN.split(":", 1)
        c.set_identity_key(int(index), handle, self.nodes.key)
        return c

    def test_resolve(self):
        with idnode.Client(server=self.nodes.server) as c:
            rec = c.resolve("88.100.1/MOTOR-1")
            self.assertEqual(rec.handle, "88.100.1/MOTOR-1")
            self.assertEqual([(v.index, v.type, v.text) for v in rec.values],
                             [(1, "URL", URL), (2, "EMAIL", "plant@example.com")])
            rec = c.resolve("88.100.1/MOTOR-1", types=["EMAIL"])
            self.assertEqual([v.index for v in rec.values], [2])
            rec = c.resolve("88.100.1/MOTOR-1", indexes=[1])
            self.assertEqual(rec.find("url").text, URL)
            with self.assertRaises(idnode.IdnodeError) as e:
                c.resolve("88.100.1/NO-SUCH")
            self.assertEqual((e.exception.code, e.exception.rcode), (idnode.ENOTFOUND, 100))
        with idnode.Client(root=self.nodes.root_addr, transport="tcp") as c:
            self.assertEqual(c.resolve("88.100.1/MOTOR-1").find("URL").text, URL)

    def test_register_modify_list_delete(self):
        h = "88.100.1/PY-1"
        with self.admin() as c:
            self.assertIsNone(c.create(h, [(1, "URL", "https://example.com/py/1"),
                                           (2, "SERIAL", b"\x00\x01\x02"),
                                           "100:HS_ADMIN:" + ADMIN]))
            rec = c.resolve(h)
            self.assertEqual(rec.find("URL").text, "https://example.com/py/1")
            self.assertEqual(rec.find("SERIAL").data, b"\x00\x01\x02")
            self.assertEqual(rec.find("HS_ADMIN").index, 100)
            c.modify_values(h, [(1, "URL", "https://example.com/py/2")])
            c.remove_values(h, [2])
            rec = c.resolve(h)
            self.assertEqual(rec.find("URL").text, "https://example.com/py/2")
            self.assertIsNone(rec.find("SERIAL"))
            self.assertIn(h, c.list("88.100.1"))
            with self.assertRaises(idnode.IdnodeError) as e:
                c.create(h, [(1, "URL", "x")])
            self.assertEqual((e.exception.code, e.exception.rcode), (idnode.EEXIST, 101))
            c.delete(h)
            with self.assertRaises(idnode.IdnodeError) as e:
                c.resolve(h)
            self.assertEqual(e.exception.code, idnode.ENOTFOUND)
        # What the library wrote, the CLI reads (and the other way round).
        with self.admin() as c:
            minted = c.create("88.100.1/", [(1, "URL", "https://example.com/minted")],
                              mint=True)
            self.assertTrue(minted.startswith("88.100.1/"), minted)
        out = subprocess.run([os.environ["IDNODE"], "resolve", minted, "--server",
                              self.nodes.server], capture_output=True, text=True, timeout=30)
        self.assertIn("https://example.com/minted", out.stdout)

    def test_kept_session_survives_a_restart(self):
        """The client keeps its connection and session between calls; when the
        node restarted in between, the next call opens them again by itself."""
        ent = self.nodes.ent
        with self.admin() as c:
            c.create("88.100.1/PY-R1", [(1, "URL", "https://example.com/r1")])
            self.assertEqual(ent.stop(), 0)
            ent.proc = subprocess.Popen(ent.args, stdout=ent.log, stderr=subprocess.STDOUT)
            ent.wait_ready()
            c.create("88.100.1/PY-R2", [(1, "URL", "https://example.com/r2")])
            self.assertEqual(c.resolve("88.100.1/PY-R1").find("URL").text,
                             "https://example.com/r1")
            self.assertEqual(c.resolve("88.100.1/PY-R2").find("URL").text,
                             "https://example.com/r2")

    def test_bad_input_raises(self):
        with self.assertRaises(idnode.IdnodeError) as e:
            idnode.Client(server="127.0.0.1:99999")
        self.assertIn("port must be 1..65535", e.exception.message)
        with self.admin() as c:
            with self.assertRaises(idnode.IdnodeError) as e:
                c.create("88.100.1/PY-BAD", ["1:HS_ADMIN:not-a-ref"])
            self.assertIn("HS_ADMIN data must be", e.exception.message)
        with idnode.Client(server=self.nodes.server) as c:
            with self.assertRaises(idnode.IdnodeError) as e:
                c.delete("88.100.1/MOTOR-1")  # no identity
            self.assertEqual(e.exception.code, idnode.ENOIDENTITY)
        self.assertEqual(
            subprocess.run([os.environ["IDNODE"], "resolve", "88.100.1/MOTOR-1", "--server",
                            self.nodes.server], capture_output=True, timeout=30).returncode, 0)

    def test_batch_file(self):
        path = os.path.join(self.tmp, "batch.txt")
        with open(path, "w") as f:
            f.write("CREATE 88.100.1/PY-B1\n1 URL 86400 1110 UTF8 https://example.com/b1\n\n"
                    "CREATE 88.100.1/PY-B1\n1 URL 86400 1110 UTF8 https://example.com/b1\n\n")
        with self.admin() as c:
            res = c.batch_file(path)
            self.assertEqual([(r[1], r[2]) for r in res], [("CREATE", "88.100.1/PY-B1")] * 2)
            self.assertIsNone(res[0][3])
            self.assertIn("101", res[1][3])
            self.assertEqual(c.resolve("88.100.1/PY-B1").find("URL").text,
                             "https://example.com/b1")


if __name__ == "__main__":
    unittest.main()
