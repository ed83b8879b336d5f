"""test_functions.py - scripts/check_functions.py on synthetic files: functions
of at most 150 lines (signatures on one or several lines) and data tables of
any length pass; a function of 151 lines fails, named with its file and line."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.environ.get('IDN_SRC') or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CHECK = os.path.join(ROOT, 'scripts', 'check_functions.py')


def function(sig, body_lines):
    """A function whose definition, signature to closing brace, spans len(sig) + body_lines + 2 lines."""
    return '\n'.join(sig + ['{'] + ['\tx++;'] * body_lines + ['}']) + '\n'


class FunctionsTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix='idn-functions-')
        os.makedirs(os.path.join(self.root, 'src', 'node'))

    def tearDown(self):
        shutil.rmtree(self.root)

    def check(self, text):
        with open(os.path.join(self.root, 'src', 'node', 'a.c'), 'w') as f:
            f.write(text)
        p = subprocess.run([sys.executable, CHECK, '--root', self.root],
                           capture_output=True, text=True)
        return p.returncode, p.stdout + p.stderr

    def test_150_lines_pass(self):
        rc, out = self.check('static int x;\n\n' + function(['int short_one(void)'], 147) + '\n' +
                             function(['int two_line(int a,', '             int b)'], 146))
        self.assertEqual(rc, 0, out)

    def test_151_lines_fail(self):
        text = ('static int x;\n\n' + function(['int fine(void)'], 10) + '\n' +
                function(['static int too_long(int a,', '                    int b)'], 147))
        rc, out = self.check(text)
        self.assertEqual(rc, 1, out)
        self.assertIn('src/node/a.c:17: too_long is 151 lines (at most 150)', out)
        self.assertNotIn('fine', out)

    def test_data_tables_are_not_functions(self):
        table = 'static const int table[] = {\n' + '    1,\n' * 400 + '};\n'
        rc, out = self.check(table)
        self.assertEqual(rc, 0, out)


if __name__ == '__main__':
    unittest.main()
