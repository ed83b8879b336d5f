#!/usr/bin/env python3
"""check_api.py - keeps libidnode's public API (include/idnode.h) from changing
by accident: the header's declarations, normalised (comments dropped,
whitespace collapsed, one declaration or preprocessor line a line), must equal
the committed reference include/idnode.api. A function, parameter, type,
struct field, enum value or macro that changes makes the check fail, naming
the lines; rewording a comment or reformatting does not.

    check_api.py [--root DIR]            check (exit 1 and a diff when they differ)
    check_api.py [--root DIR] --update   write the reference from the header

Changing the API on purpose: edit the header, run --update, commit both; a
change that breaks the ABI (a removed or changed function or field) also
bumps IDNODE_VERSION_MAJOR and the SONAME (docs/libidnode.md).
"""
import argparse
import difflib
import os
import re
import sys


def normalise(text):
    """The declarations of a C header, one a line, in order."""
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    text = re.sub(r'//[^\n]*', ' ', text)
    text = re.sub(r'extern\s+"C"\s*\{', ' ', text)  # C++ linkage: its closing } is dropped below
    out, pending = [], []
    lines = text.split('\n')
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith('#'):
            while line.endswith('\\') and i + 1 < len(lines):  # continued macro
                i += 1
                line = line[:-1] + ' ' + lines[i]
            out.append(' '.join(line.split()))
        else:
            pending.append(line)
            code = ' '.join(' '.join(pending).split())
            depth = code.count('{') - code.count('}')
            if code == '}' or not code:
                pending = []
            elif code.endswith(';') and depth == 0:
                out.append(code)
                pending = []
        i += 1
    rest = ' '.join(' '.join(pending).split())
    if rest:
        out.append(rest)
    return [l for l in out if l]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--root', default=os.path.dirname(here))
    ap.add_argument('--update', action='store_true')
    a = ap.parse_args()
    header = os.path.join(a.root, 'include', 'idnode.h')
    ref = os.path.join(a.root, 'include', 'idnode.api')
    with open(header) as f:
        now = normalise(f.read())
    if a.update:
        with open(ref, 'w') as f:
            f.write('// include/idnode.api - the public API of include/idnode.h, normalised by\n'
                    '// scripts/check_api.py; rewrite it with scripts/check_api.py --update\n')
            f.write('\n'.join(now) + '\n')
        print('api check: wrote %s (%d declarations)' % (os.path.relpath(ref, a.root), len(now)))
        return 0
    try:
        with open(ref) as f:
            want = [l.rstrip('\n') for l in f if l.strip() and not l.startswith('//')]
    except OSError as e:
        print('api check: %s: %s' % (ref, e.strerror))
        return 1
    if want == now:
        print('api check: include/idnode.h matches include/idnode.api (%d declarations)' %
              len(now))
        return 0
    print('api check: include/idnode.h differs from include/idnode.api:')
    sys.stdout.writelines(l + '\n' for l in difflib.unified_diff(
        want, now, 'include/idnode.api', 'include/idnode.h', lineterm='', n=1))
    print('If the change is meant, run scripts/check_api.py --update and commit the result '
          '(docs/libidnode.md, "Changing the API").')
    return 1


if __name__ == '__main__':
    sys.exit(main())
