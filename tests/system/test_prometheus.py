"""System test of GET /metrics (docs/statistics.md) with the real Prometheus
(Debian's `prometheus`, installed by scripts/deps.sh): the text is what
Prometheus client libraries write (# HELP and # TYPE before each family,
counters ending _total, cumulative histogram buckets ending at +Inf equal to
_count; `promtool check metrics` finds nothing wrong); a Prometheus server
started here on loopback ports with a temporary configuration and storage
(scrape interval 1 s) scrapes the node, and after N UDP resolutions its HTTP
API gives back N for the resolutions counter and for the requests counter;
every metric name the Grafana dashboard (dist/grafana/idnode.json) uses is
in a real scrape and in Prometheus; /metrics is 404 without --metrics and
403 to an address outside --metrics-allow; on a mirror, the lag metrics
follow its primary (connected, 0 transactions behind once caught up, the
primary's identifiers). The real-Prometheus case is skipped, saying why,
when the prometheus binary is missing."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode  # noqa: E402
from idnlib import Node, admin_prefix, free_port, hexval, keygen, request, udp_exchange  # noqa: E402
from test_mirror import ADMIN, Mirror, idn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DASHBOARD = os.path.join(HERE, "../../dist/grafana/idnode.json")
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
N = 7


def families(text):
    """{name: type}, and the samples [(name, labels, value)], checking the layout."""
    types, helps, samples = {}, set(), []
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, typ = line.split()
            assert name in helps, "TYPE before HELP: " + name
            assert name not in types, "family twice: " + name
            types[name] = typ
        elif line:
            m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$', line)
            assert m, "not a sample line: " + line
            samples.append((m.group(1), m.group(2) or "", float(m.group(3))))
    return types, samples


def family_of(name, types):
    for suffix in ("", "_bucket", "_sum", "_count"):
        base = name[:len(name) - len(suffix)] if suffix and name.endswith(suffix) else name
        if base in types and (not suffix or types[base] == "histogram"):
            return base
    return None


class MetricsNode(HttpNode):
    def __init__(self, *flags):
        super().__init__(records=[{"handle": "88.100.1/found",
                                   "values": [hexval(1, "URL", b"https://x".hex())]}],
                         http_args=["--stats-flush-s", "1"] + list(flags))

    def scrape(self):
        st, h, body = self.req("GET", "/metrics")
        return st, h, body.decode()


class MetricsText(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = MetricsNode("--metrics")

    @classmethod
    def tearDownClass(cls):
        cls.node.close()

    def test_exposition_format(self):
        for _ in range(3):
            udp_exchange(self.node.port, request("88.100.1/x"))
        st, h, text = self.node.scrape()
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/plain; version=0.0.4"))
        types, samples = families(text)
        for name, labels, value in samples:
            fam = family_of(name, types)
            self.assertIsNotNone(fam, "a sample outside any family: " + name)
            if types[fam] == "counter":
                self.assertTrue(fam.endswith("_total"), fam)
            self.assertGreaterEqual(value, 0, name)
        # histograms: cumulative buckets up to +Inf, which equals _count
        for fam in (f for f, t in types.items() if t == "histogram"):
            series = {}
            for name, labels, value in samples:
                if name == fam + "_bucket":
                    key = re.sub(r',?le="[^"]*"', "", labels)
                    series.setdefault(key, []).append((labels, value))
            self.assertTrue(series, fam)
            for key, buckets in series.items():
                values = [v for _, v in buckets]
                self.assertEqual(values, sorted(values), fam + key)
                self.assertIn('le="+Inf"', buckets[-1][0])
                count = [v for n, l, v in samples if n == fam + "_count" and
                         (l == key or (key == "{}" and l == ""))]
                self.assertEqual(count, [values[-1]], fam + key)
        for want in ("idnode_requests_total", "idnode_request_duration_seconds",
                     "idnode_group_commit_writes", "idnode_resolver_cache_hits_total",
                     "idnode_mirror_lag_seconds", "idnode_store_bytes",
                     "idnode_open_connections", "idnode_quota_refusals_total",
                     "idnode_limit_hits_total", "idnode_prefix_resolutions_total"):
            self.assertIn(want, types)
        if PROMTOOL:
            out = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_off_and_refused(self):
        off = HttpNode()
        try:
            st, _, body = off.req("GET", "/metrics")
            self.assertEqual(st, 404)
            self.assertIn("--metrics", json.loads(body)["message"])
        finally:
            off.close()
        far = MetricsNode("--metrics", "--metrics-allow", "10.0.0.0/8")
        try:
            st, _, body = far.req("GET", "/metrics")
            self.assertEqual(st, 403)
            self.assertIn("--metrics-allow", json.loads(body)["message"])
        finally:
            far.close()
        with tempfile.TemporaryDirectory(prefix="idn-m-") as d:
            out = subprocess.run([os.environ.get("IDNODE", "build/idnode"), "serve", "--data",
                                  d, "--home", "88.100.1",
                                  "--listen", "127.0.0.1:%d" % free_port(), "--http",
                                  "127.0.0.1:%d" % free_port(), "--metrics", "--metrics-allow",
                                  "10.0.0.0/33"], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("--metrics-allow 10.0.0.0/33", out.stderr)


class MirrorMetrics(unittest.TestCase):
    def test_mirror_lag(self):
        tmp = tempfile.mkdtemp(prefix="idn-mm-")
        key = os.path.join(tmp, "repl.pem")
        records = [admin_prefix(keygen(key))]
        records += [{"handle": "88.100.1/m-%d" % i,
                     "values": [hexval(1, "URL", b"https://m".hex())]} for i in range(50)]
        primary = Node(records=records, homes=("88.100.1", "0.NA"),
                       extra_args=["--server-admin", ADMIN])
        http = free_port()
        ini = os.path.join(tmp, "mirror.ini")
        with open(ini, "w") as f:
            f.write("[server]\nmirror_of = 127.0.0.1:%d\nmirror_id = %s\nmirror_key = %s\n"
                    "http = 127.0.0.1:%d\nmetrics = true\n" % (primary.port, ADMIN, key, http))
        mirror = None
        try:
            mirror = Mirror(os.path.join(tmp, "m"), primary.port, key,
                            os.path.join(tmp, "m.log"), ini)
            out = idn("create", "88.100.1/after", "--server", "127.0.0.1:%d" % primary.port,
                      "--id", ADMIN, "--key", key, "--value", "1:URL:https://after")
            self.assertEqual(out.returncode, 0, out.stderr)
            deadline, got = time.time() + 30, {}
            while time.time() < deadline:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % http,
                                            timeout=5) as r:
                    _, samples = families(r.read().decode())
                got = {n: v for n, l, v in samples if n.startswith(("idnode_mirror_",
                                                                     "idnode_store_iden"))}
                if got.get("idnode_mirror_connected") == 1 and \
                        got.get("idnode_mirror_lag_transactions") == 0 and \
                        got.get("idnode_store_identifiers") == 52:
                    break
                time.sleep(0.3)
            self.assertEqual(got.get("idnode_mirror_connected"), 1, got)
            self.assertEqual(got.get("idnode_mirror_lag_transactions"), 0, got)
            self.assertEqual(got.get("idnode_store_identifiers"), 52, got)
            self.assertIn("idnode_mirror_lag_seconds", got)
        finally:
            if mirror:
                mirror.kill()
            primary.close()
            shutil.rmtree(tmp, ignore_errors=True)


@unittest.skipUnless(PROMETHEUS, "the prometheus binary is missing: scripts/deps.sh installs "
                     "Debian's prometheus package")
class RealPrometheus(unittest.TestCase):
    def setUp(self):
        self.node = MetricsNode("--metrics")
        self.dir = tempfile.mkdtemp(prefix="idn-prom-")
        self.port = free_port()
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: idnode\n    scrape_interval: 1s\n"
                    "    scrape_timeout: 1s\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % self.node.http_port)
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.prom = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + cfg,
             "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT)

    def tearDown(self):
        self.prom.terminate()
        try:
            self.prom.wait(15)
        except subprocess.TimeoutExpired:
            self.prom.kill()
            self.prom.wait(5)
        self.log.close()
        self.node.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def api(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path),
                                    timeout=5) as r:
            return json.loads(r.read())

    def query(self, expr):
        """The value of expr now, or None when Prometheus has none yet."""
        doc = self.api("/api/v1/query?query=" + urllib.parse.quote(expr))
        self.assertEqual(doc["status"], "success")
        res = doc["data"]["result"]
        return float(res[0]["value"][1]) if res else None

    def wait_for(self, expr, want, timeout=30.0):
        deadline = time.time() + timeout
        got = None
        while time.time() < deadline:
            try:
                got = self.query(expr)
            except OSError:  # not listening yet
                got = None
            if got == want:
                return
            time.sleep(0.5)
        with open(self.log.name) as f:
            log = f.read()[-2000:]
        try:
            targets = self.api("/api/v1/targets")["data"]["activeTargets"]
        except OSError as e:
            targets = str(e)
        self.fail("%s: %r, wanted %r\ntargets: %s\nprometheus: %s" % (expr, got, want,
                                                                      targets, log))

    def test_prometheus_scrapes_and_queries(self):
        for _ in range(N):
            udp_exchange(self.node.port, request("88.100.1/found"))
        self.wait_for('sum(idnode_requests_total{opcode="resolution",transport="udp",'
                      'rcode="1"})', N)
        self.wait_for('sum(idnode_resolutions_total{transport="udp",outcome="found"})', N)
        self.wait_for('up{job="idnode"}', 1)
        # every metric the dashboard shows is in a real scrape and in Prometheus
        with open(DASHBOARD) as f:
            dash = json.load(f)
        exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
        names = set(re.findall(r"\bidnode_[a-z_]+", " ".join(exprs)))
        self.assertGreater(len(names), 15)
        st, _, text = self.node.scrape()
        self.assertEqual(st, 200)
        scraped = {line.split("{")[0].split(" ")[0] for line in text.splitlines()
                   if line and not line.startswith("#")}
        self.assertEqual(sorted(names - scraped), [], "dashboard metrics not in the scrape")
        known = set(self.api("/api/v1/label/__name__/values")["data"])
        self.assertEqual(sorted(names - known), [], "dashboard metrics Prometheus lacks")


if __name__ == "__main__":
    unittest.main()
