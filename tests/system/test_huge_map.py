"""The store's map in 2 MiB pages (`serve --no-huge-map` turns it off,
docs/administration.md): a load writes the data file 4 KiB at a time, so the
page cache holds it in small pieces; the unpaced file warm-up drops the file's
clean pages once and reads them back through a map asking for huge pages, and
the kernel then maps the node's store with 2 MiB pages. Skipped where the
kernel does not give a freshly read file 2 MiB pages (probed on a scratch
file first)."""
import mmap
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import DEADLINE  # noqa: E402
from idnlib import Node, parse_answer, request, udp_exchange
from test_warmup import DONE, wait_for

N = 40000
ONCE = re.compile(r"store: huge map: (\d+) of (\d+) MB in 2 MiB pages already, read in")
HUGE = re.compile(r"store: huge map: (\d+) of (\d+) MB in 2 MiB pages \((\d+) before\), "
                  r"(\d+) MB re-read in ([0-9.]+) s")


def records():
    for i in range(N):
        h = "88.100.1/HUGE-%06d" % i
        yield {"handle": h, "values": [
            {"index": 1, "type": "URL", "data": "https://example.cn/%s?lot=%d" % (h, i * 7919)},
            {"index": 2, "type": "DESC", "data": "batch %d " % i + "x" * 400}]}


def smaps_kb(pid, path, field):
    """A field's kB summed over pid's mappings of path."""
    total, ours = 0, False
    with open("/proc/%s/smaps" % pid) as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                ours = line.rstrip("\n").endswith(" " + path)
            elif ours and line.startswith(field + ":"):
                total += int(line.split()[1])
    return total


def wait_for_after(node, start, pattern, timeout):
    """pattern in the node's log after its first `start` characters."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = pattern.search(node.output()[start:])
        if m:
            return m
        time.sleep(0.05)
    return None


def read_bytes(pid):
    """What pid has read with read(2)/pread(2) (rchar, /proc/PID/io): a read
    through a map is not counted."""
    with open("/proc/%s/io" % pid) as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar in /proc/%s/io" % pid)


def file_pmd_kb(path):
    """How much of path the kernel maps with 2 MiB pages when read through a
    map of our own (kB): what the page cache holds in 2 MiB pieces."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        m = mmap.mmap(f.fileno(), size, prot=mmap.PROT_READ)
        try:
            s = 0
            for off in range(0, size, 4096):
                s ^= m[off]
            return smaps_kb("self", os.path.realpath(path), "FilePmdMapped")
        finally:
            m.close()


def kernel_gives_huge_pages():
    """A freshly read 8 MiB scratch file, through a map asking for huge pages."""
    if not hasattr(mmap, "MADV_HUGEPAGE"):
        return False
    with tempfile.NamedTemporaryFile(dir=tempfile.gettempdir()) as t:
        t.write(os.urandom(8 << 20))
        t.flush()
        os.fsync(t.fileno())
        os.posix_fadvise(t.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        m = mmap.mmap(t.fileno(), 8 << 20, prot=mmap.PROT_READ)
        try:
            m.madvise(mmap.MADV_HUGEPAGE)
            s = 0
            for off in range(0, 8 << 20, 4096):
                s ^= m[off]
            return smaps_kb("self", os.path.realpath(t.name), "FilePmdMapped") > 0
        finally:
            m.close()


@unittest.skipUnless(kernel_gives_huge_pages(),
                     "this kernel does not map a freshly read file with 2 MiB pages "
                     "(no large folios in its page cache, or transparent huge pages off)")
class HugeMapTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.recs = list(records())

    def start(self, *args):
        node = Node(records=self.recs, threads=1,
                    extra_args=["--udp-rate-limit", "1000000"] + list(args))
        self.addCleanup(node.close)
        return node

    def lookups(self, node):
        for i in range(0, N, 20):
            rc = parse_answer(udp_exchange(node.port, request("88.100.1/HUGE-%06d" % i),
                                           timeout=2)[0])[2]
            self.assertEqual(rc, 1, i)

    def data_file(self, node):
        return os.path.realpath(os.path.join(node.data, "data.mdb"))

    def test_the_map_in_2mib_pages_after_start(self):
        node = self.start("--warm", "all")
        m = wait_for(node, HUGE, DEADLINE)
        self.assertIsNotNone(m, node.output())
        pmd, rss, before, mb, _ = (int(float(x)) for x in m.groups())
        size_mb = os.path.getsize(self.data_file(node)) >> 20
        self.assertEqual(mb, size_mb)
        self.assertGreater(pmd, before, node.output())
        self.assertIsNotNone(wait_for(node, DONE, DEADLINE), node.output())
        # the node's own map: its lookups find 2 MiB pages, and all answer
        self.lookups(node)
        self.assertGreater(smaps_kb(node.proc.pid, self.data_file(node), "FilePmdMapped"), 0)
        self.assertTrue(node.alive())

    def test_the_huge_step_replaces_the_file_read(self):
        # one read of the file where the huge step runs: through its map,
        # not the plain warm-up's read(2)s beforehand
        node = self.start("--warm", "file")
        m = wait_for(node, DONE, DEADLINE)
        self.assertIsNotNone(m, node.output())
        self.assertIn("huge map:", node.output())
        size = os.path.getsize(self.data_file(node))
        self.assertLess(read_bytes(node.proc.pid), size // 4, node.output())
        # the log counts both of its passes (the file was in small pieces)
        self.assertGreaterEqual(int(m.group(5)), 2 * (size >> 20) - 1, node.output())
        self.lookups(node)

    def test_a_cold_start_reads_the_file_once(self):
        # the file out of the page cache (nothing maps it once the node is
        # stopped): the warm-up's one read through its map brings it in
        # 2 MiB pieces, the branch pages the tree warm-up read first and the
        # readahead of the faults notwithstanding; no second read
        node = self.start("--warm", "all")
        self.assertIsNotNone(wait_for(node, DONE, DEADLINE), node.output())
        self.assertEqual(node.stop(), 0, node.output())
        start = len(node.output())
        fd = os.open(self.data_file(node), os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        node.proc = subprocess.Popen(node.args, stdout=node.log, stderr=subprocess.STDOUT)
        node.wait_ready()
        self.assertIsNotNone(wait_for_after(node, start, DONE, DEADLINE), node.output())
        m = ONCE.search(node.output()[start:])
        self.assertIsNotNone(m, node.output()[start:])
        pmd, rss = int(m.group(1)), int(m.group(2))
        self.assertGreaterEqual(pmd * 4, rss * 3, node.output()[start:])
        self.lookups(node)

    def test_off_leaves_the_file_alone(self):
        node = self.start("--warm", "all", "--no-huge-map")
        self.assertIsNotNone(wait_for(node, DONE, DEADLINE), node.output())
        # the plain warm-up read the file instead
        size = os.path.getsize(self.data_file(node))
        self.assertGreaterEqual(read_bytes(node.proc.pid), size, node.output())
        before = file_pmd_kb(self.data_file(node))
        self.lookups(node)
        self.assertNotIn("huge map", node.output())
        self.assertEqual(file_pmd_kb(self.data_file(node)), before)
        # what the load left small is still small: the warm-up did not re-read it
        size_kb = os.path.getsize(self.data_file(node)) >> 10
        self.assertLess(before, size_kb * 3 // 4)

    def test_paced_warm_up_leaves_the_file_alone(self):
        node = self.start("--warm", "file", "--warm-rate", "1000")
        self.assertIsNotNone(wait_for(node, DONE, DEADLINE), node.output())
        self.assertNotIn("huge map", node.output())


if __name__ == "__main__":
    unittest.main()
