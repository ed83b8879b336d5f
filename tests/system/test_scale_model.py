#!/usr/bin/env python3
"""bench/scale_model.py, the page-cache model of docs/scale.md: its LRU
(Che) and best-pages hit rates on cases whose answer is known, and its
sampled pages against the exact pages of a small gendata store."""
import importlib.util
import os
import subprocess
import sys
import unittest

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../bench/scale_model.py")
spec = importlib.util.spec_from_file_location("scale_model", SRC)
sm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sm)


class ScaleModel(unittest.TestCase):
    def test_equal_pages_hit_the_cached_fraction(self):
        pages = [(1.0 / 1000, 1000.0)]
        for f in (0.1, 0.5, 0.9):
            self.assertAlmostEqual(sm.lru_hit(pages, f * 1000), f, places=3)
            self.assertAlmostEqual(sm.best_hit(pages, f * 1000), f, places=6)
        self.assertEqual(sm.lru_hit(pages, 1000), 1.0)

    def test_skewed_pages(self):
        # one page of half the requests, 99 of the rest: caching one page
        # gives the best cache 50 %, LRU less, and both more than uniform
        pages = [(0.5, 1.0), (0.5 / 99, 99.0)]
        best, lru = sm.best_hit(pages, 1), sm.lru_hit(pages, 1)
        self.assertAlmostEqual(best, 0.5, places=6)
        self.assertLess(lru, best)
        self.assertGreater(lru, 0.01)
        self.assertAlmostEqual(sm.needed(pages, 0.5, sm.best_hit), 1.0, places=3)

    def test_sampled_pages_match_the_exact_store(self):
        n, r = 60000, 24
        sampled, exact = sm.zipf_pages(n, r), sm.exact_pages(n, r)
        for pages in (sampled, exact):
            self.assertAlmostEqual(sum(c for _, c in pages), n / r, delta=n / r * 0.01)
            self.assertAlmostEqual(sum(w * c for w, c in pages), 1.0, delta=0.01)
        for f in (0.1, 0.3, 0.6):
            c = f * n / r
            self.assertAlmostEqual(sm.lru_hit(sampled, c), sm.lru_hit(exact, c), delta=0.03)
            self.assertGreater(sm.lru_hit(exact, c), f)  # Zipf beats uniform

    def test_command_line(self):
        p = subprocess.run([sys.executable, SRC, "table", "1e6", "24.3", "--hits", "0.9"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("| 90 % |", p.stdout)
        p = subprocess.run([sys.executable, SRC, "table", "10", "24"], capture_output=True,
                           text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("N must be at least 1000", p.stderr)


if __name__ == "__main__":
    unittest.main()
