"""System tests for `idnode load` at scale, on small data: the bounded-memory
sort (runs spilled to --tmp and merged, or a file read in passes of one key
range each, give the same store as one in-memory run), the resumable load
(killed part-way by the hidden --abort-after, or in its final phase by
--abort-in-index, the same command run again finishes without rewriting what
was committed, and the store equals a clean load's) and loading into a store
that already holds identifiers
(merge: the file's record replaces the stored one whole; --no-overwrite keeps
the stored one and reports the line). In each, the search index the load
makes as it writes (entries sorted like the records, written in key order at
the end) must equal what `idnode index rebuild` makes from the records."""
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import IDNODE, free_port

TIMEOUT = 120  # seconds, for any one command
# A load this small keeps the index current put by put (bulkload.h's
# index_keep_max); this makes it build the entries as a big load does.
BIG = ("--index-keep-max", "1")
N = 10000      # identifiers in the file
DUPS = 150     # handles given a second, later line (last wins)


def line(obj):
    return json.dumps(obj, separators=(",", ":"))


def record(i, gen, ts=True):
    """Identifier i's line; gen tells versions apart. ts=False leaves the
    time stamp to the load."""
    v = [{"index": 1, "type": "URL", "data": "https://example.com/%d/g%d" % (i, gen)},
         {"index": 2, "type": "DESC", "data": "item %d %s" % (i, "x" * (i % 90))}]
    if ts:
        for x in v:
            x["timestamp"] = 1700000000 + i
    return line({"handle": "88.100.1/S-%07d" % i, "values": v})


def odd(ln, i):
    """Line ln of identifier i written so that only a full parse finds its
    handle: given after the values, or with an escaped '/'."""
    o = json.loads(ln)
    if i % 2:
        return json.dumps({"values": o["values"], "handle": o["handle"]})
    return ln.replace("88.100.1/", "88.100.1\\/", 1)


def write_input(path, ts=True, seed=7, odds=False):
    """N identifiers in random order, DUPS of them repeated later with a new
    version, and two bad lines. odds: every 7th line's handle only a full
    parse finds, and a third bad line without a handle a cheap look finds.
    Returns {handle: expected URL data}."""
    rnd = random.Random(seed)
    ids = list(range(N))
    rnd.shuffle(ids)
    want = {}
    lines = []
    for i in ids:
        lines.append(record(i, 1, ts))
        want["88.100.1/S-%07d" % i] = "https://example.com/%d/g1" % i
    for i in rnd.sample(range(N), DUPS):
        lines.append(record(i, 2, ts))
        want["88.100.1/S-%07d" % i] = "https://example.com/%d/g2" % i
    if odds:
        lines = [odd(ln, k) if k % 7 == 3 else ln for k, ln in enumerate(lines)]
        lines.insert(N // 3, '{"values":[],"handle":"88.100.1/BAD3"')
    lines.insert(N // 2, '{"handle":"88.100.1/BAD","values":[')
    lines.append('{"handle":"88.100.1/BAD2","values":[{"index":0,"type":"U","data":"u"}]}')
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return want


class LoadScale(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="idn-load-scale-")
        self.input = os.path.join(self.tmp, "ids.jsonl")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_idnode(self, *args):
        return subprocess.run([IDNODE, *args], capture_output=True, text=True,
                              timeout=TIMEOUT)

    def load(self, store, *opts, expect=1):
        r = self.run_idnode("load", "--data", store, *opts, self.input)
        self.assertEqual(r.returncode, expect, r.stderr)
        return r

    def dump(self, store):
        r = self.run_idnode("dump", "--data", store)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def verify(self, store):
        r = self.run_idnode("verify", "--data", store)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("0 bad", r.stdout + r.stderr)

    def index_made(self, r):
        """The number of index entries the load wrote in key order (it made
        them as it went, no rebuild)."""
        m = re.search(r"search index: (\d+) entries made during the load", r.stderr)
        self.assertTrue(m, r.stderr)
        return int(m.group(1))

    def check_index(self, store, least=2 * N):
        """The store's search index is on and equals a rebuilt one: `index
        verify` finds no entry missing, different or extra, and a copy
        rebuilt from the records has the same entries. Returns the count."""
        r = self.run_idnode("index", "verify", "--data", store)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("0 entries missing or different, 0 extra", r.stdout + r.stderr)
        copy = store + ".rebuilt"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(store, copy)
        st = self.run_idnode("index", "status", "--data", store)
        self.assertEqual(st.returncode, 0, st.stderr)
        rb = self.run_idnode("index", "rebuild", "--data", copy)
        self.assertEqual(rb.returncode, 0, rb.stdout + rb.stderr)
        st2 = self.run_idnode("index", "status", "--data", copy)
        shutil.rmtree(copy, ignore_errors=True)
        m = re.search(r"index: on, (\d+) entries", st.stdout)
        self.assertTrue(m, st.stdout)
        self.assertEqual(st.stdout, st2.stdout)
        # two searchable values (URL, DESC) per identifier
        self.assertGreaterEqual(int(m.group(1)), least)
        return int(m.group(1))

    def urls(self, dump):
        out = {}
        for ln in dump.splitlines():
            o = json.loads(ln)
            if "handle" in o:
                out[o["handle"]] = [v["data"] for v in o["values"] if v["index"] == 1][0]
        return out

    def check_reports(self, results, odds):
        """Each load of write_input's file (odds as given) reports every bad
        line once, by its number, and the lines a later one superseded."""
        bad = [N // 2 + 1] + ([N // 3 + 1] if odds else [])
        for r in results:
            self.assertIn("loaded %d identifiers (%d errors)" % (N, len(bad) + 1), r.stdout)
            self.assertEqual(len(re.findall(r"ids\.jsonl:\d+: ", r.stderr)), len(bad) + 1,
                             r.stderr)
            for n in bad:
                self.assertEqual(r.stderr.count(":%d: " % n), 1, r.stderr)
            self.assertIn("%d lines not written: a later line" % DUPS, r.stderr)

    def bounded_vs_in_memory(self, mode, odds=False):
        """The input loaded in one in-memory run and with --load-memory 1
        (plus mode's options); checks what both report and that the stores
        are equal. Returns the bounded run's result."""
        want = write_input(self.input, odds=odds)
        spill = os.path.join(self.tmp, "spill")
        os.mkdir(spill)
        a, b = os.path.join(self.tmp, "a"), os.path.join(self.tmp, "b")
        ra = self.load(a, *BIG)
        self.assertNotIn("spilled", ra.stderr)
        self.assertNotIn("passes", ra.stderr)
        rb = self.load(b, "--load-memory", "1", "--tmp", spill, *mode, *BIG)
        self.check_reports((ra, rb), odds)
        self.assertEqual(os.listdir(spill), [], "spill files left behind")
        da, db = self.dump(a), self.dump(b)
        self.assertEqual(da, db)
        self.assertEqual(self.urls(db), want)
        self.verify(b)
        # the index made during both loads
        self.assertEqual(self.index_made(ra), self.check_index(a))
        self.assertEqual(self.index_made(rb), self.check_index(b))
        return rb

    def test_bounded_memory_sort_equals_in_memory(self):
        rb = self.bounded_vs_in_memory(("--no-passes",))
        m = re.search(r"sorted in (\d+) runs \((\d+) entries\) spilled", rb.stderr)
        self.assertTrue(m, rb.stderr)
        self.assertGreaterEqual(int(m.group(1)), 3, rb.stderr)

    def test_passes_by_key_range_equal_in_memory(self):
        """A file whose entries do not fit in --memory is read in passes, one
        key range each, nothing spilled: the same store as one in-memory run;
        lines whose handle only a full parse finds are kept in their range."""
        rb = self.bounded_vs_in_memory((), odds=True)
        m = re.search(r"read in (\d+) passes, one key range each \(each line's range "
                      r"noted in the first\)", rb.stderr)
        self.assertTrue(m, rb.stderr)
        self.assertGreaterEqual(int(m.group(1)), 3, rb.stderr)
        self.assertNotIn("spilled", rb.stderr)

    def test_passes_too_many_lines_to_note(self):
        """Lines so many and short that a byte per line would take more than
        a sixteenth of --load-memory: the passes look at every line's handle
        instead of noting its range, with the same result."""
        n = 60000
        ids = list(range(n))
        random.Random(5).shuffle(ids)
        with open(self.input, "w") as f:
            for i in ids:
                f.write(line({"handle": "88.100.1/T%d" % i,
                               "values": [{"index": 1, "type": "U", "data": "%d" % i,
                                           "timestamp": 1700000000}]})
                        + "\n")
        a, b = os.path.join(self.tmp, "a"), os.path.join(self.tmp, "b")
        self.load(a, expect=0)
        rb = self.load(b, "--load-memory", "1", "--tmp", self.tmp, expect=0)
        m = re.search(r"read in (\d+) passes, one key range each\n", rb.stderr)
        self.assertTrue(m and int(m.group(1)) >= 3, rb.stderr)
        self.assertEqual(self.dump(a), self.dump(b))

    def test_range_bigger_than_memory_in_passes(self):
        """Ranges chosen from a sample that misjudges the file: each long
        line follows a short one, so the sample (the line after each spread
        offset) takes few long lines and the long lines' ranges overflow the
        memory, forward and backward passes alike: the overflow is spilled
        and merged within its pass, and the store equals an in-memory
        load's."""
        n = 3000
        rnd = random.Random(11)
        short, long_ = list(range(n)), list(range(n))
        rnd.shuffle(short)
        rnd.shuffle(long_)
        with open(self.input, "w") as f:
            for a, b in zip(short, long_):
                f.write(line({"handle": "88.100.1/S%05d" % a,
                              "values": [{"index": 1, "type": "U", "data": "s%d" % a,
                                          "timestamp": 1700000000}]}) + "\n")
                f.write(line({"handle": "88.100.1/L%05d" % b, "values": [
                    {"index": 1, "type": "U", "data": "l%d" % b + "x" * 1400,
                     "timestamp": 1700000000}]}) + "\n")
        a, b = os.path.join(self.tmp, "a"), os.path.join(self.tmp, "b")
        self.load(a, expect=0)
        rb = self.load(b, "--load-memory", "1", "--tmp", self.tmp, expect=0)
        m = re.search(r"read in (\d+) passes, one key range each \(each line's range noted",
                      rb.stderr)
        self.assertTrue(m and int(m.group(1)) >= 4, rb.stderr)
        m = re.search(r"sorted in (\d+) runs \(\d+ entries\) spilled", rb.stderr)
        self.assertTrue(m and int(m.group(1)) >= 2, rb.stderr)
        self.assertEqual(self.dump(a), self.dump(b))
        self.verify(b)

    OVERLAP = "each parsed while the one before was written"

    def index_off_store(self, store):
        """A new empty store with the search index off."""
        for args in (("load", "-q", "--data", store, os.devnull),
                     ("index", "off", "--data", store)):
            r = self.run_idnode(*args)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_overlapped_passes_equal_in_memory(self):
        """Index off, a file read in passes with --overlap: each pass is
        parsed while the one before is written, two runs in memory at once
        with half of --load-memory each (about twice the passes); the
        store equals an in-memory load's, the last line of a handle wins and
        each bad line is reported once."""
        want = write_input(self.input, odds=True)
        bounded = ("--load-memory", "1", "--tmp", self.tmp)
        stores, res = {}, {}
        for name, opts in (("mem", ()), ("ov", bounded + ("--overlap",)), ("seq", bounded)):
            stores[name] = os.path.join(self.tmp, name)
            self.index_off_store(stores[name])
            res[name] = self.load(stores[name], *opts)
        self.assertIn(self.OVERLAP, res["ov"].stderr)
        self.assertNotIn(self.OVERLAP, res["seq"].stderr)
        self.assertNotIn("passes", res["mem"].stderr)
        passes = {k: re.search(r"read in (\d+) passes", res[k].stderr) for k in ("ov", "seq")}
        self.assertTrue(passes["ov"] and passes["seq"], res["ov"].stderr + res["seq"].stderr)
        pov, pseq = int(passes["ov"].group(1)), int(passes["seq"].group(1))
        self.assertGreaterEqual(pseq, 3)
        self.assertGreaterEqual(pov, 2 * pseq - 1)  # each run within half the memory
        self.check_reports(res.values(), True)
        d = self.dump(stores["mem"])
        self.assertEqual(self.dump(stores["ov"]), d)
        self.assertEqual(self.dump(stores["seq"]), d)
        self.assertEqual(self.urls(d), want)
        self.verify(stores["ov"])

    def test_resume_in_overlapped_passes(self):
        """Index off, killed while one pass is written and the next parsed:
        the second run skips what was committed and ends equal to a clean
        load."""
        want = write_input(self.input, ts=False)
        opts = ("--memory", "1", "--tmp", self.tmp, "--overlap")
        self.index_off_store(os.path.join(self.tmp, "r"))
        store, r2 = self.resumed(*opts)
        self.assertIn(self.OVERLAP, r2.stderr)
        self.verify(store)
        clean = os.path.join(self.tmp, "clean")
        self.index_off_store(clean)
        self.load(clean, *opts)
        got = self.dump(store)
        strip = lambda d: re.sub(r'"timestamp":\d+', "", d)
        self.assertEqual(strip(got), strip(self.dump(clean)))
        self.assertEqual(self.urls(got), want)

    def test_index_equals_rebuilt_across_batches(self):
        """Enough entries for several batches of a rebuild (50,000 entries
        each) and keys of many lengths: the index the load makes equals a
        rebuilt one (a rebuild once lost keys shorter than the one its batch
        resumed from)."""
        n = 40000
        ids = list(range(n))
        random.Random(3).shuffle(ids)
        with open(self.input, "w") as f:
            for i in ids:
                f.write(line({"handle": "88.100.1/V-%d" % i, "values": [
                    {"index": 1, "type": "URL", "data": "https://example.com/v/%d" % i},
                    {"index": 2, "type": "EMAIL", "data": "u%d@example.com" % (i % 977)}]})
                    + "\n")
        store = os.path.join(self.tmp, "v")
        r = self.load(store, *BIG, expect=0)
        self.assertEqual(self.index_made(r), 2 * n)
        self.assertEqual(self.check_index(store, 2 * n), 2 * n)

    def test_spill_dir_missing_is_an_error(self):
        write_input(self.input)
        r = self.run_idnode("load", "--data", os.path.join(self.tmp, "s"), "--memory", "1",
                            "--tmp", os.path.join(self.tmp, "nowhere"), "--no-passes",
                            self.input)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--tmp %s: spilling sorted runs: No such file or directory"
                      % os.path.join(self.tmp, "nowhere"), r.stderr)

    def resumed(self, *opts):
        """Kills a load after ~60% of it was written, runs it again; returns
        the store and both runs' results."""
        store = os.path.join(self.tmp, "r")
        args = ("load", "--data", store, "--txn-kib", "256", *opts, self.input)
        r1 = self.run_idnode(*args, "--abort-after", str(N * 6 // 10))
        self.assertEqual(r1.returncode, -9, r1.stderr)  # SIGKILL
        self.assertNotIn("loaded", r1.stdout)
        r2 = self.run_idnode(*args)
        self.assertEqual(r2.returncode, 1, r2.stderr)  # the two bad lines
        self.assertIn("resuming an interrupted load", r2.stderr)
        m = re.search(r"(\d+) identifiers were already written by the interrupted", r2.stderr)
        self.assertTrue(m, r2.stderr)
        done = int(m.group(1))
        self.assertGreaterEqual(done, N * 6 // 10 - DUPS)
        self.assertLess(done, N)
        loaded = int(re.search(r"loaded (\d+) identifiers", r2.stdout).group(1))
        self.assertEqual(done + loaded, N, r2.stdout + r2.stderr)
        return store, r2

    def check_resume(self, *opts):
        want = write_input(self.input, ts=False)
        store, r2 = self.resumed(*opts)
        if "--memory" in opts and "--no-passes" not in opts:
            m = re.search(r"read in (\d+) passes", r2.stderr)
            self.assertTrue(m and int(m.group(1)) >= 3, r2.stderr)
        self.verify(store)
        clean = os.path.join(self.tmp, "clean")
        rc = self.load(clean, *opts)
        # the resumed load made the entries of what the killed one wrote too
        self.assertEqual(self.index_made(r2), self.index_made(rc))
        self.assertEqual(self.check_index(store), self.check_index(clean))
        got = self.dump(store)
        # Without time stamps in the file, each load gives its start time;
        # the resumed load takes the interrupted one's: one time stamp only.
        stamps = set(re.findall(r'"timestamp":(\d+)', got))
        self.assertEqual(len(stamps), 1, stamps)
        strip = lambda d: re.sub(r'"timestamp":\d+', "", d)
        self.assertEqual(strip(got), strip(self.dump(clean)))
        self.assertEqual(self.urls(got), want)
        # A third run has nothing to resume: it loads afresh, same result.
        r3 = self.run_idnode("load", "--data", store, *opts, self.input)
        self.assertNotIn("resuming", r3.stderr)
        self.assertIn("loaded %d identifiers" % N, r3.stdout)
        # (into a store holding the same: each record replaces itself)
        self.assertEqual(self.check_index(store), self.check_index(clean))

    def test_resume_one_run(self):
        self.check_resume(*BIG)

    def test_resume_spilled_runs(self):
        self.check_resume("--memory", "1", "--tmp", self.tmp, "--no-passes", *BIG)

    def test_resume_in_passes(self):
        """Killed in the middle of a pass (one key range of several): the
        second run skips what was committed, in the earlier ranges and in
        that one, and ends equal to a clean load."""
        self.check_resume("--memory", "1", "--tmp", self.tmp, *BIG)

    def test_resume_point_of_another_file_is_not_used(self):
        write_input(self.input)
        store = os.path.join(self.tmp, "o")
        r1 = self.run_idnode("load", "--data", store, "--txn-kib", "256",
                             "--abort-after", str(N // 2), self.input)
        self.assertEqual(r1.returncode, -9, r1.stderr)
        write_input(self.input, seed=8)  # another file (another order) at that path
        r2 = self.load(store)
        self.assertNotIn("resuming", r2.stderr)
        self.assertIn("loaded %d identifiers" % N, r2.stdout)

    LAZY = re.compile(r"the store was empty: (\d+) of (\d+) commits not waited for")

    def test_empty_store_lazy_commits_durable_at_end(self):
        """A load into an empty store commits without waiting for the disk
        (all but its first and last commit) and clears its mark at the end: a
        load after another boot of the machine (--boot-id) is not refused.
        A load into a store holding identifiers waits for every commit."""
        want = write_input(self.input)
        store = os.path.join(self.tmp, "z")
        for opts in ((), ("--memory", "1", "--tmp", self.tmp)):
            with self.subTest(opts=opts):
                shutil.rmtree(store, ignore_errors=True)
                r = self.load(store, "--txn-kib", "64", "--boot-id", "boot-a", *opts)
                m = self.LAZY.search(r.stderr)
                self.assertTrue(m, r.stderr)
                lazy, total = int(m.group(1)), int(m.group(2))
                self.assertGreaterEqual(lazy, 10, r.stderr)
                self.assertEqual(lazy, total - 1, r.stderr)  # the first is durable
                self.verify(store)
                self.assertEqual(self.urls(self.dump(store)), want)
                r2 = self.load(store, "--txn-kib", "64", "--boot-id", "boot-b", *opts)
                self.assertNotIn("restart of the machine", r2.stderr)
                self.assertIsNone(self.LAZY.search(r2.stderr), r2.stderr)
                self.assertIn("loaded %d identifiers" % N, r2.stdout)

    def test_restart_during_lazy_load_refuses_store(self):
        """A lazy load killed part-way: after another boot (as after a power
        loss: --boot-id) the store is refused, unchanged, with what to do,
        by a load and by `idnode serve`; in the same boot (a kill) the load
        resumes and finishes."""
        want = write_input(self.input)
        store = os.path.join(self.tmp, "p")
        args = ("load", "--data", store, "--txn-kib", "64", "--memory", "1", "--tmp", self.tmp)
        r1 = self.run_idnode(*args, "--boot-id", "boot-a", "--abort-after", str(N // 2),
                             self.input)
        self.assertEqual(r1.returncode, -9, r1.stderr)
        before = self.dump(store)
        r2 = self.run_idnode(*args, "--boot-id", "boot-b", self.input)
        self.assertEqual(r2.returncode, 2, r2.stderr)
        self.assertIn("cut by a restart of the machine before it was made durable", r2.stderr)
        self.assertIn("delete it and load again", r2.stderr)
        self.assertEqual(self.dump(store), before)
        # nor does a node serve it (the machine's boot id is not boot-a)
        rs = self.run_idnode("serve", "--data", store, "--listen",
                             "127.0.0.1:%d" % free_port())
        self.assertNotEqual(rs.returncode, 0, rs.stderr)
        self.assertIn("cut by a restart of the machine before it was made durable", rs.stderr)
        r3 = self.run_idnode(*args, "--boot-id", "boot-a", self.input)
        self.assertEqual(r3.returncode, 1, r3.stderr)  # the two bad lines
        self.assertIn("resuming an interrupted load", r3.stderr)
        self.assertIsNone(self.LAZY.search(r3.stderr), r3.stderr)  # not empty: durable
        self.assertEqual(self.urls(self.dump(store)), want)
        self.verify(store)
        r4 = self.run_idnode(*args, "--boot-id", "boot-c", self.input)
        self.assertEqual(r4.returncode, 1, r4.stderr)  # the mark is gone

    def check_killed_in_index(self, at, *opts, store=None):
        """Killed in the final phase (--abort-in-index: once `at` search
        index entries were written in key order, before the index is marked
        on): the index is left stale, and the same command run again resumes
        and finishes with the index on and equal to a rebuilt one."""
        want = write_input(self.input)
        if store is None:
            store = os.path.join(self.tmp, "k")
        else:  # the store holds identifiers already (merge)
            want = {**self.urls(self.dump(store)), **want}
        args = ("load", "--data", store, "--txn-kib", "64", *BIG, *opts, self.input)
        r1 = self.run_idnode(*args, "--abort-in-index", str(at))
        self.assertEqual(r1.returncode, -9, r1.stderr)  # SIGKILL
        st = self.run_idnode("index", "status", "--data", store)
        self.assertIn("index: stale", st.stdout)
        r2 = self.run_idnode(*args)
        self.assertEqual(r2.returncode, 1, r2.stderr)  # the two bad lines
        self.assertIn("resuming an interrupted load", r2.stderr)
        self.assertEqual(self.index_made(r2), 2 * N)
        self.check_index(store)
        self.verify(store)
        self.assertEqual(self.urls(self.dump(store)), want)

    def test_killed_in_index_part_written(self):
        self.check_killed_in_index(N)

    def test_killed_in_index_all_written(self):
        self.check_killed_in_index(2 * N)  # every entry written, the index not yet on

    def test_killed_in_index_spilled_runs(self):
        self.check_killed_in_index(N, "--memory", "1", "--tmp", self.tmp)

    def test_killed_in_index_merge(self):
        store, _ = self.merge()
        self.check_killed_in_index(N // 2, store=store)

    def merge(self, *opts):
        """A store holding identifiers 0 .. N/2 of an older version plus
        others; the file loaded into it."""
        store = os.path.join(self.tmp, "m")
        old = os.path.join(self.tmp, "old.jsonl")
        with open(old, "w") as f:
            for i in range(0, N, 2):
                f.write(record(i, 0) + "\n")
            for i in range(N, N + 500):
                f.write(record(i, 0) + "\n")
        r = self.run_idnode("load", "--data", store, old)
        self.assertEqual(r.returncode, 0, r.stderr)
        want = write_input(self.input)
        return store, want

    def check_merge(self, *opts):
        store, want = self.merge()
        r = self.load(store, *BIG, *opts)
        self.index_made(r)
        self.check_index(store)
        self.assertIn("loaded %d identifiers (2 errors)" % N, r.stdout)
        got = self.urls(self.dump(store))
        for i in range(N, N + 500):  # only in the store: kept
            want["88.100.1/S-%07d" % i] = "https://example.com/%d/g0" % i
        self.assertEqual(got, want)  # in both: the file's record, whole
        self.verify(store)

    def test_merge_keeping_index(self):
        """The same merge, small beside the store: the index kept current by
        each put (no entries made at the end), equal to a rebuilt one."""
        store, _ = self.merge()
        r = self.load(store)
        self.assertNotIn("search index:", r.stderr)
        self.check_index(store)

    def test_merge_replaces(self):
        self.check_merge()

    def test_merge_replaces_spilled(self):
        self.check_merge("--memory", "1", "--tmp", self.tmp, "--no-passes")

    def test_merge_replaces_in_passes(self):
        self.check_merge("--memory", "1", "--tmp", self.tmp)

    def test_merge_no_overwrite_keeps_stored(self):
        for opts in ((), ("--memory", "1", "--tmp", self.tmp, "--no-passes"),
                     ("--memory", "1", "--tmp", self.tmp)):
            with self.subTest(opts=opts):
                shutil.rmtree(os.path.join(self.tmp, "m"), ignore_errors=True)
                store, want = self.merge()
                r = self.load(store, "--no-overwrite", *opts)
                clash = len(range(0, N, 2))
                self.assertIn("loaded %d identifiers (%d errors)" % (N - clash, clash + 2),
                              r.stdout)
                self.assertIn("is already in the store (--no-overwrite)", r.stderr)
                got = self.urls(self.dump(store))
                for i in range(0, N, 2):
                    want["88.100.1/S-%07d" % i] = "https://example.com/%d/g0" % i
                for i in range(N, N + 500):
                    want["88.100.1/S-%07d" % i] = "https://example.com/%d/g0" % i
                self.assertEqual(got, want)


if __name__ == "__main__":
    unittest.main()
