#!/usr/bin/env python3
"""scale_model.py - the page-cache hit rate of an LMDB store of N identifiers
whose popular identifiers are spread over the key space (docs/scale.md).

A lookup reads one leaf page (the branch pages, ~1 % of the store, are taken
as cached: they are on every lookup's path). A leaf page holds R records
(measured: entries / leaf pages of mdb_stat), so a popular record keeps its
whole page, R-1 unpopular records with it, in the cache. Queries: uniform, or
Zipf with s = 1 over ranks placed at random in the key space, as gendata's
(rank r is identifier (r-1)*P mod N, and the identifiers' names sort in
another order than their numbers).

A page's request rate is the sum of its records' probabilities. The cache
is LRU, by Che's approximation: with C pages cached, a page of rate l is in
the cache with probability 1 - exp(-l*T), T solving sum(1 - exp(-l*T)) = C;
the hit rate is sum(l * (1 - exp(-l*T))). The same formula, T = queries
answered so far, is the hit rate of a cache that evicts nothing while it
fills from cold (a restart with `--warm off`), which `check` compares with a
measurement. "best" is the hit rate of a cache holding the C most requested
pages (an upper bound for any replacement policy).

Pages are not enumerated: ranks 1..K (K = 100,000) each get a page of their
own (weight 1/r plus the mean of R-1 others; two of them share a page with
probability K*R/N), the other pages are sampled (S pages of R ranks drawn
uniformly from K+1..N), and the weights are grouped into log-spaced bins.
`exact` builds the real pages of gendata's store (its names sorted, R a
page, gendata's rank mapping) for N up to ~2e7 and prints both.

  scale_model.py table N R [--hits 0.5,0.9,0.95,0.99] [--page 4096]
  scale_model.py curve N R [--fractions 0.05,0.1,...]
  scale_model.py exact N R [--fractions ...]
  scale_model.py check N R STEPS.tsv   (run_cache_check.sh's: set, cached
                                         fraction, measured misses per answer)
Plain python3 (no numpy); a table at N = 1e10 takes a few seconds.
"""
import argparse
import math
import random
import sys

GAMMA = 0.5772156649015329
KINDS = ["MOTOR", "PUMP", "VALVE", "GEAR", "SENSOR", "CABLE"]


def harmonic(n):
    if n < 1000:
        return sum(1.0 / i for i in range(1, n + 1))
    return math.log(n) + GAMMA + 1 / (2 * n) - 1 / (12 * n * n)


def binned(weights, nbins=4000):
    """[(weight, count)] grouped into log-spaced bins (mean weight a bin)."""
    ws = [(w, c) for w, c in weights if w > 0]
    lo = math.log(min(w for w, _ in ws))
    hi = math.log(max(w for w, _ in ws)) + 1e-12
    step = (hi - lo) / nbins or 1.0
    acc = {}
    for w, c in ws:
        b = int((math.log(w) - lo) / step)
        s = acc.setdefault(b, [0.0, 0.0])
        s[0] += w * c
        s[1] += c
    return [(s[0] / s[1], s[1]) for s in acc.values()]


def zipf_pages(n, r, samples=100000, head=100000, seed=1):
    """Sampled page weights (probabilities) of a Zipf s=1 store: [(w, count)]."""
    rnd = random.Random(seed)
    pages = n / r
    head = min(head, int(pages) // 10, n)
    hn = harmonic(n)
    tail_mean = (hn - harmonic(head)) / (n - head)  # mean 1/rank of a tail record
    out = [((1.0 / k + (r - 1) * tail_mean) / hn, 1.0) for k in range(1, head + 1)]
    per = (pages - head) / samples
    span = n - head
    for _ in range(samples):
        s = 0.0
        for _ in range(int(r)):
            s += 1.0 / (head + 1 + int(rnd.random() * span))
        if rnd.random() < r - int(r):  # a fractional R: one more record sometimes
            s += 1.0 / (head + 1 + int(rnd.random() * span))
        out.append((s / hn, per))
    return binned(out)


def lru_hit(pages, cached):
    """Che's approximation: the hit rate with `cached` pages (of sum(count))."""
    total = sum(c for _, c in pages)
    if cached >= total:
        return 1.0
    lo, hi = 1e-3, 1e3
    while sum(c * -math.expm1(-w * hi) for w, c in pages) < cached:
        hi *= 10
    for _ in range(100):
        t = math.sqrt(lo * hi)
        if sum(c * -math.expm1(-w * t) for w, c in pages) < cached:
            lo = t
        else:
            hi = t
    return sum(w * c * -math.expm1(-w * hi) for w, c in pages) / sum(w * c for w, c in pages)


def best_hit(pages, cached):
    """The hit rate of a cache holding the `cached` most requested pages."""
    tot = sum(w * c for w, c in pages)
    hit, left = 0.0, cached
    for w, c in sorted(pages, reverse=True):
        take = min(c, left)
        hit += w * take
        left -= take
        if left <= 0:
            break
    return hit / tot


def needed(pages, hit, fn):
    """The fewest cached pages giving `hit` (bisection on fn)."""
    total = sum(c for _, c in pages)
    lo, hi = 0.0, total
    for _ in range(40):
        mid = (lo + hi) / 2
        if fn(pages, mid) < hit:
            lo = mid
        else:
            hi = mid
    return hi


def exact_pages(n, r):
    """gendata's store: names sorted, R a page, Zipf ranks by (r-1)*P mod N."""
    step = 2654435761 % n
    while n > 1 and (step == 0 or math.gcd(step, n) != 1):
        step += 1
    inv = pow(step, -1, n)
    names = sorted(range(n), key=lambda i: "%s-2026-%06d" % (KINDS[i % 6], i))
    hn = harmonic(n)
    ri = int(round(r))
    pages = []
    for p in range(0, n, ri):
        pages.append((sum(1.0 / (i * inv % n + 1) for i in names[p:p + ri]) / hn, 1.0))
    return binned(pages)


def cmd_table(a):
    n, r = int(float(a.n)), float(a.r)
    leaf = n / r
    pages = zipf_pages(n, r)
    print("N=%d R=%.2f leaf pages=%.0f (%.1f GB of %d-byte pages)" % (n, r, leaf, leaf * a.page / 1e9, a.page))
    print("| hit rate | uniform: leaf cache | Zipf s=1, LRU (Che) | Zipf s=1, best pages |")
    print("|---|---|---|---|")
    for h in [float(x) for x in a.hits.split(",")]:
        lru = needed(pages, h, lru_hit)
        best = needed(pages, h, best_hit)
        print("| %.0f %% | %.1f GB (%.0f %%) | %.1f GB (%.1f %%) | %.1f GB (%.1f %%) |" % (
            100 * h, h * leaf * a.page / 1e9, 100 * h, lru * a.page / 1e9, 100 * lru / leaf,
            best * a.page / 1e9, 100 * best / leaf))


def curve(pages, fractions):
    total = sum(c for _, c in pages)
    print("| cached fraction of the leaf pages | uniform hit | Zipf LRU (Che) hit | Zipf best hit |")
    print("|---|---|---|---|")
    for f in fractions:
        print("| %.3f | %.3f | %.3f | %.3f |" % (f, f, lru_hit(pages, f * total), best_hit(pages, f * total)))


def cmd_curve(a):
    curve(zipf_pages(int(float(a.n)), float(a.r)), [float(x) for x in a.fractions.split(",")])


def cmd_exact(a):
    n, r = int(float(a.n)), float(a.r)
    fr = [float(x) for x in a.fractions.split(",")]
    print("sampled model:")
    curve(zipf_pages(n, r), fr)
    print("exact pages of gendata's store:")
    curve(exact_pages(n, r), fr)


def cmd_check(a):
    n, r = int(float(a.n)), float(a.r)
    pages = zipf_pages(n, r)
    total = sum(c for _, c in pages)
    print("| queries | cached fraction | measured misses per answer | model | measured / model |")
    print("|---|---|---|---|---|")
    for ln in open(a.steps):
        f = ln.split()
        if len(f) < 3 or f[0] not in ("uniform", "zipf"):
            continue
        frac, meas = float(f[1]), float(f[2])
        model = 1 - frac if f[0] == "uniform" else 1 - lru_hit(pages, frac * total)
        print("| %s | %.3f | %.3f | %.3f | %.2f |" % (f[0], frac, meas, model, meas / model))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name, fn in (("table", cmd_table), ("curve", cmd_curve), ("exact", cmd_exact), ("check", cmd_check)):
        p = sub.add_parser(name)
        p.add_argument("n", help="identifiers")
        p.add_argument("r", help="records per leaf page (mdb_stat: entries / leaf pages)")
        if name == "check":
            p.add_argument("steps")
        p.add_argument("--hits", default="0.5,0.8,0.9,0.95,0.99")
        p.add_argument("--fractions", default="0.05,0.1,0.2,0.3,0.5,0.7,0.9")
        p.add_argument("--page", type=int, default=4096)
        p.set_defaults(fn=fn)
    a = ap.parse_args()
    if float(a.n) < 1000 or float(a.r) < 1:
        sys.exit("scale_model.py: N must be at least 1000 and R at least 1")
    a.fn(a)


if __name__ == "__main__":
    main()
