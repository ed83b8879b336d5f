"""test_api.py - scripts/check_api.py, the check that keeps libidnode's public API
(include/idnode.h) from changing by accident: the repository's header matches
its committed reference include/idnode.api; copies changed on purpose (a
parameter's type, a struct field, a function removed, an enum value, a macro)
fail, naming the declaration; a reworded comment or a reformatted
declaration pass; --update makes a changed header pass again."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.environ.get('IDN_SRC') or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CHECK = os.path.join(ROOT, 'scripts', 'check_api.py')


class ApiCheck(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix='idn-api-')
        shutil.copytree(os.path.join(ROOT, 'include'), os.path.join(self.root, 'include'))
        with open(self.header()) as f:
            self.orig = f.read()

    def tearDown(self):
        shutil.rmtree(self.root)

    def header(self):
        return os.path.join(self.root, 'include', 'idnode.h')

    def check(self, *args, root=None):
        p = subprocess.run([sys.executable, CHECK, '--root', root or self.root] + list(args),
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout + p.stderr

    def edit(self, old, new):
        self.assertIn(old, self.orig)
        with open(self.header(), 'w') as f:
            f.write(self.orig.replace(old, new, 1))

    def test_repository_header_matches_its_reference(self):
        rc, out = self.check(root=ROOT)
        self.assertEqual(rc, 0, out)

    def test_accidental_changes_fail(self):
        cases = [
            ('int idnode_client_set_timeout(idnode_client *c, unsigned ms)',
             'int idnode_client_set_timeout(idnode_client *c, uint64_t ms)'),
            ('\tuint8_t perms;', '\tuint8_t flags;\n\tuint8_t perms;'),
            ('IDNODE_API int idnode_home(idnode_client *c, const char *prefix);', ''),
            ('IDNODE_ENOTFOUND = -5,', 'IDNODE_ENOTFOUND = -4,'),
            ('#define IDNODE_VERSION_MAJOR 0', '#define IDNODE_VERSION_MAJOR 1'),
        ]
        for old, new in cases:
            with self.subTest(old=old):
                self.edit(old, new)
                rc, out = self.check()
                self.assertEqual(rc, 1, out)
                self.assertIn('differs from include/idnode.api', out)
                self.assertIn('--update', out)
                first = (new or old).strip().split('\n')[-1].strip().rstrip(';').split('(')[0]
                self.assertIn(first.split()[-1].lstrip('*'), out)

    def test_comments_and_layout_pass(self):
        self.edit('/* Deletes handle. */', '/* Deletes the handle given, and all its values. */')
        with open(self.header()) as f:
            text = f.read()
        text = text.replace('IDNODE_API int idnode_delete(idnode_client *c, const char *handle);',
                            'IDNODE_API int\nidnode_delete(idnode_client  *c,\n'
                            '              const char *handle);')
        with open(self.header(), 'w') as f:
            f.write(text)
        rc, out = self.check()
        self.assertEqual(rc, 0, out)

    def test_update_accepts_a_change_on_purpose(self):
        self.edit('IDNODE_API void idnode_free(void *p);',
                  'IDNODE_API void idnode_free(void *p);\nIDNODE_API int idnode_ping(void);')
        self.assertEqual(self.check()[0], 1)
        rc, out = self.check('--update')
        self.assertEqual(rc, 0, out)
        rc, out = self.check()
        self.assertEqual(rc, 0, out)
        with open(os.path.join(self.root, 'include', 'idnode.api')) as f:
            self.assertIn('IDNODE_API int idnode_ping(void);', f.read())


if __name__ == '__main__':
    unittest.main()
