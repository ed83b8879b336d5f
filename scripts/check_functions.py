#!/usr/bin/env python3
"""check_functions.py - no function of src/ is longer than MAX lines (150).

A function is what the repository's clang-format makes of one: its opening
brace alone on a line at column 0, its closing brace alone at column 0. Data
tables (`static const T x[] = {` ... `};`) are not functions and never match.
Prints one line per function that is too long (file:line: name, length) and
exits 1 when there is any, 0 otherwise.

    check_functions.py [--root DIR] [--max N] [FILE...]
"""
import argparse
import glob
import os
import re
import sys

NAME = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*\(')


def long_functions(path, limit):
    """[(line of the signature, name, length in lines)] of path's functions over limit."""
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    found, start = [], None
    for i, line in enumerate(lines):
        if line == '{' and start is None:
            start = i
        elif line == '}' and start is not None:
            sig = start - 1  # the signature may span lines: walk up to its first
            while sig > 0 and lines[sig][:1] in (' ', '\t'):
                sig -= 1
            length = i - sig + 1
            if length > limit:
                m = NAME.search(' '.join(lines[sig:start]))
                found.append((sig + 1, m.group(1) if m else '?', length))
            start = None
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--root', default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument('--max', type=int, default=150)
    ap.add_argument('files', nargs='*')
    a = ap.parse_args()
    files = a.files or sorted(glob.glob(os.path.join(a.root, 'src', '*', '*.c')))
    bad = 0
    for path in files:
        for line, name, length in long_functions(path, a.max):
            print('%s:%d: %s is %d lines (at most %d)' %
                  (os.path.relpath(path, a.root), line, name, length, a.max))
            bad += 1
    if bad:
        print('function length check: %d function(s) too long' % bad)
        return 1
    print('function length check: every function of src/ is at most %d lines' % a.max)
    return 0


if __name__ == '__main__':
    sys.exit(main())
