#!/usr/bin/env python3
"""check_layers.py - the layering check: every #include "dir/file.h" in src/
follows an arrow of scripts/layers.txt, and every idn_module(NAME DEPS ...) of
CMakeLists.txt names exactly the modules the sources of src/NAME include.

Prints one line per violation (file:line: what is wrong) and exits 1 when
there is any, 0 otherwise. tests/ and bench/ are not checked.

    check_layers.py [--root DIR] [--layers FILE]

--root is the repository (default: the one this script is in); --layers the
allowed arrows (default: ROOT/scripts/layers.txt).
"""
import argparse
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([A-Za-z0-9_]+)/[^"]+"')
MODULE = re.compile(r'\bidn_module\s*\(([^)]*)\)', re.S)


def read_layers(path):
    """{folder: set of folders it may include}, from the arrows file."""
    allowed = {}
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            name, sep, uses = line.partition(':')
            if not sep or not name.strip():
                sys.exit('%s:%d: expected "folder: folders it may use"' % (path, lineno))
            allowed[name.strip()] = set(uses.split())
    return allowed


def scan_includes(src):
    """[(folder, path, line, included folder)] for every #include "dir/..." in src/."""
    found = []
    for folder in sorted(os.listdir(src)):
        top = os.path.join(src, folder)
        if not os.path.isdir(top):
            continue
        for dirpath, _, files in os.walk(top):
            for name in sorted(files):
                if not name.endswith(('.c', '.h', '.h.in')):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, errors='replace') as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if m:
                            found.append((folder, path, lineno, m.group(1)))
    return found


def read_modules(cmake):
    """{module: (line of its idn_module call, set of idn_* DEPS)}."""
    with open(cmake) as f:
        text = f.read()
    modules = {}
    for m in MODULE.finditer(text):
        words = m.group(1).split()
        if not words or words[0] == 'name':  # the function's own definition
            continue
        line = text.count('\n', 0, m.start()) + 1
        deps = words[words.index('DEPS') + 1:] if 'DEPS' in words else []
        modules[words[0]] = (line, {d[4:] for d in deps if d.startswith('idn_')})
    return modules


def check(root, layers):
    """The violations, as printable lines."""
    src = os.path.join(root, 'src')
    cmake = os.path.join(root, 'CMakeLists.txt')
    allowed = read_layers(layers)
    bad = []
    uses = {}  # folder -> {included folder: first (path, line)}
    for folder in sorted(os.listdir(src)):
        if os.path.isdir(os.path.join(src, folder)) and folder not in allowed:
            bad.append('%s: folder %s is not in %s' % (os.path.relpath(os.path.join(src, folder), root),
                                                       folder, os.path.relpath(layers, root)))
    for folder, path, lineno, inc in scan_includes(src):
        rel = os.path.relpath(path, root)
        if inc == folder or not os.path.isdir(os.path.join(src, inc)):
            continue  # its own headers, or a system/generated header with a slash
        uses.setdefault(folder, {}).setdefault(inc, (rel, lineno))
        if folder in allowed and inc not in allowed[folder]:
            bad.append('%s:%d: %s -> %s is not an allowed arrow (%s may use: %s)' %
                       (rel, lineno, folder, inc, folder,
                        ' '.join(sorted(allowed[folder])) or 'nothing'))
    for name, (line, deps) in sorted(read_modules(cmake).items()):
        real = uses.get(name, {})
        for inc in sorted(set(real) - deps):
            rel, lineno = real[inc]
            bad.append('CMakeLists.txt:%d: idn_module(%s) DEPS lack idn_%s (%s:%d includes it)' %
                       (line, name, inc, rel, lineno))
        for dep in sorted(deps - set(real)):
            bad.append('CMakeLists.txt:%d: idn_module(%s) DEPS name idn_%s, which no file of '
                       'src/%s includes' % (line, name, dep, name))
    return bad


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--root', default=os.path.dirname(here))
    ap.add_argument('--layers')
    a = ap.parse_args()
    layers = a.layers or os.path.join(a.root, 'scripts', 'layers.txt')
    bad = check(a.root, layers)
    for b in bad:
        print(b)
    if bad:
        print('layering check: %d violation(s)' % len(bad))
        return 1
    print('layering check: every include follows an arrow of %s; CMake DEPS match' %
          os.path.relpath(layers, a.root))
    return 0


if __name__ == '__main__':
    sys.exit(main())
