"""test_layers.py - scripts/check_layers.py on synthetic trees built in a
temporary folder with the repository's own scripts/layers.txt: a correct tree
passes; an upward include, a folder the arrows file does not know, and DEPS
that lack or add a module each fail, naming the file:line and the arrow."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.environ.get('IDN_SRC') or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CHECK = os.path.join(ROOT, 'scripts', 'check_layers.py')
LAYERS = os.path.join(ROOT, 'scripts', 'layers.txt')

CMAKE = """function(idn_module name)
endfunction()
idn_module(core DEPS Threads::Threads)
idn_module(proto DEPS idn_core PkgConfig::CRYPTO)
idn_module(node DEPS idn_core idn_proto
                     Threads::Threads)
"""


class LayersTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix='idn-layers-')
        self.write('src/core/err.h', '#include <stdint.h>\n')
        self.write('src/proto/proto.h', '#include "core/err.h"\n')
        self.write('src/proto/proto.c', '#include "proto/proto.h"\n#include "core/err.h"\n')
        self.write('src/node/node.c', '#include "node/node.h"\n#include "proto/proto.h"\n'
                   '#include "core/err.h"\n#include <openssl/evp.h>\n')
        self.write('src/node/node.h', '#include "proto/proto.h"\n')
        self.write('CMakeLists.txt', CMAKE)

    def tearDown(self):
        shutil.rmtree(self.root)

    def write(self, rel, text):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(text)

    def run_check(self):
        p = subprocess.run([sys.executable, CHECK, '--root', self.root, '--layers', LAYERS],
                           capture_output=True, text=True)
        return p.returncode, p.stdout + p.stderr

    def test_correct_tree_passes(self):
        rc, out = self.run_check()
        self.assertEqual(rc, 0, out)

    def test_upward_include_fails(self):
        # core may use nothing: an include of proto/ from core/ is upward.
        self.write('src/core/err.c', '#include "core/err.h"\n\n#include "proto/proto.h"\n')
        rc, out = self.run_check()
        self.assertEqual(rc, 1, out)
        self.assertIn('src/core/err.c:3: core -> proto is not an allowed arrow', out)
        # and the module now uses a library its DEPS do not name
        self.assertIn('idn_module(core) DEPS lack idn_proto (src/core/err.c:3', out)

    def test_arrow_not_on_the_list_fails(self):
        # node -> client is a layer sideways, not on node's line either.
        self.write('src/client/client.h', '#include "proto/proto.h"\n')
        self.write('src/node/identity.c', '#include "client/client.h"\n')
        rc, out = self.run_check()
        self.assertEqual(rc, 1, out)
        self.assertIn('src/node/identity.c:1: node -> client is not an allowed arrow', out)

    def test_unknown_folder_fails(self):
        self.write('src/misc/x.c', '#include "core/err.h"\n')
        rc, out = self.run_check()
        self.assertEqual(rc, 1, out)
        self.assertIn('folder misc is not in', out)

    def test_deps_must_equal_includes(self):
        self.write('CMakeLists.txt', CMAKE.replace('idn_core idn_proto\n', 'idn_core\n')
                   .replace('DEPS idn_core PkgConfig', 'DEPS idn_core idn_node PkgConfig'))
        rc, out = self.run_check()
        self.assertEqual(rc, 1, out)
        self.assertIn('idn_module(node) DEPS lack idn_proto (src/node/node.c:2 includes it)', out)
        self.assertIn('idn_module(proto) DEPS name idn_node, which no file of src/proto includes',
                      out)
        # proto -> node in DEPS only: no include, so it is the DEPS line that is wrong
        self.assertNotIn('proto -> node', out)


if __name__ == '__main__':
    unittest.main()
