"""The Debian package, end to end (root only, CI's Debian 12): builds the .deb
with dpkg-buildpackage from a copy of the source tree, checks lintian reports no
errors, installs it with dpkg -i, checks the installed files, the system user,
the conffile and the data directory, starts `idnode serve -c
/etc/idnode/idnode.conf` as the user idnode the way the unit's ExecStart does
(on loopback ports of the test's choosing), resolves through it over UDP and
HTTP, reloads it with SIGHUP as the unit's ExecReload does, verifies the
installed units with systemd-analyze, installs it again over an edited
conffile (kept), purges the package and checks nothing of it is left but the
system user (kept: docs/packaging.md).

Exit 77 (ctest: skipped) when not root or the Debian tools are missing, unless
IDN_PACKAGE_REQUIRED=1."""
import glob
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "system"))
from idnlib import free_port, request, udp_exchange  # noqa: E402

SRC = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOOLS = ("dpkg-buildpackage", "dh", "lintian", "systemd-analyze", "runuser")
FILES = ["/usr/bin/idnode", "/etc/idnode/idnode.conf", "/lib/systemd/system/idnode.service",
         "/lib/systemd/system/idnode@.service", "/usr/share/man/man1/idnode.1.gz",
         "/usr/share/man/man1/idnode-serve.1.gz", "/usr/share/man/man5/idnode.conf.5.gz",
         "/usr/share/doc/idnode/examples/idnode.conf.example",
         "/usr/share/doc/idnode/examples/idnode-lowports.conf.example",
         "/usr/share/doc/idnode/copyright"] + [
    "/usr/share/man/man1/idnode-%s.1.gz" % g
    for g in ("node", "data", "resolve", "admin", "keys", "secondary")]  # idnode man-doc
HARDENING = ["NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
             "CapabilityBoundingSet=\n", "ExecReload=/bin/kill -HUP $MAINPID",
             "StandardError=journal", "User=idnode"]


def sh(*args, timeout=120, check=True, env=None):
    out = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, env=env)
    if check and out.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(args), out.returncode, out.stdout,
                                                      out.stderr))
    return out


def source_files():
    """The tree's files: git's (tracked and new, not ignored), else all but build*/."""
    out = subprocess.run(["git", "-C", SRC, "ls-files", "-co", "--exclude-standard"],
                         capture_output=True, text=True)
    if out.returncode == 0:
        return [f for f in out.stdout.splitlines() if os.path.isfile(os.path.join(SRC, f))]
    files = []
    for d, dirs, names in os.walk(SRC):
        dirs[:] = [x for x in dirs if not x.startswith(("build", ".git"))]
        files += [os.path.relpath(os.path.join(d, n), SRC) for n in names]
    return files


def text(path):
    with open(path) as f:
        return f.read()


def purge():
    sh("dpkg", "--purge", "idnode", timeout=120, check=False)


class DebianPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="idn-deb-")
        # the tools' own temporary files go in here too, and leave with it:
        # lintian leaves two mldbm-elf-* files in $TMPDIR a run
        cls.tools_tmp = os.path.join(cls.tmp, "tmp")
        os.mkdir(cls.tools_tmp)
        tree = os.path.join(cls.tmp, "idnode")
        for f in source_files():
            os.makedirs(os.path.dirname(os.path.join(tree, f)), exist_ok=True)
            shutil.copy2(os.path.join(SRC, f), os.path.join(tree, f))
        env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck parallel=2", TMPDIR=cls.tools_tmp)
        t0 = time.time()
        out = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=tree, env=env,
                             capture_output=True, text=True, timeout=900)
        cls.build_seconds = time.time() - t0
        if out.returncode != 0:
            raise AssertionError("dpkg-buildpackage failed:\n" + out.stdout[-4000:] +
                                 out.stderr[-4000:])
        debs = glob.glob(os.path.join(cls.tmp, "idnode_*.deb"))
        assert len(debs) == 1, debs
        cls.deb = debs[0]
        cls.changes = glob.glob(os.path.join(cls.tmp, "idnode_*.changes"))[0]
        print("dpkg-buildpackage: %.0f s" % cls.build_seconds, file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_lintian_reports_no_errors(self):
        out = sh("lintian", "--pedantic", "-I", self.changes, timeout=300, check=False,
                 env=dict(os.environ, TMPDIR=self.tools_tmp))
        errors = [l for l in out.stdout.splitlines() if l.startswith("E:")]
        self.assertEqual(errors, [], out.stdout)
        self.assertIn(out.returncode, (0, 1), out.stderr)  # 1: warnings or worse said above

    def test_install_serve_reload_purge(self):
        purge()  # a run before this one that failed half way
        self.addCleanup(purge)
        sh("dpkg", "-i", self.deb, timeout=300)
        for f in FILES:
            self.assertTrue(os.path.isfile(f), f)
        self.assertTrue(os.access("/usr/bin/idnode", os.X_OK))
        # The system user, its group, the data directory it owns.
        u = pwd.getpwnam("idnode")
        self.assertLess(u.pw_uid, 1000)
        self.assertEqual(u.pw_shell, "/usr/sbin/nologin")
        st = os.stat("/var/lib/idnode")
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (u.pw_uid, 0o750))
        conffiles = sh("dpkg-query", "-W", "-f=${Conffiles}", "idnode").stdout
        self.assertIn("/etc/idnode/idnode.conf ", conffiles)
        with open("/etc/idnode/idnode.conf") as f:
            self.assertIn("data = /var/lib/idnode\n", f.read())
        for unit in ("idnode.service", "idnode@.service"):
            with open("/lib/systemd/system/" + unit) as f:
                body = f.read()
            for d in HARDENING:
                self.assertIn(d, body, unit)
            self.assertNotIn("\nAmbientCapabilities", body)
        with open("/lib/systemd/system/idnode@.service") as f:
            self.assertIn("ExecStart=/usr/bin/idnode serve -c /etc/idnode/%i.conf", f.read())
        self.check_units_verify()
        self.check_serves_as_the_unit_does(u)
        # Installed again over itself (as an upgrade does): the edited conffile and
        # the user stay, the data directory keeps its store.
        with open("/etc/idnode/idnode.conf", "a") as f:
            f.write("# edited by the operator\n")
        sh("dpkg", "-i", "--force-confold", self.deb, timeout=300)
        self.assertIn("# edited by the operator\n", text("/etc/idnode/idnode.conf"))
        self.assertEqual(pwd.getpwnam("idnode").pw_uid, u.pw_uid)
        self.assertTrue(os.path.isfile("/var/lib/idnode/data.mdb"))
        # Purge: nothing of the package is left; the user stays (docs/packaging.md).
        sh("dpkg", "--purge", "idnode", timeout=120)
        status = sh("dpkg-query", "-W", "-f=${Status}", "idnode", check=False).stdout
        self.assertNotIn("installed", status.replace("not-installed", ""))
        for f in FILES + ["/etc/idnode", "/var/lib/idnode"]:
            self.assertFalse(os.path.exists(f), f)
        self.assertEqual(pwd.getpwnam("idnode").pw_uid, u.pw_uid)

    def check_units_verify(self):
        # The template through an instance of it, as systemd would load idnode@a.
        inst = os.path.join(self.tmp, "idnode@a.service")
        shutil.copy("/lib/systemd/system/idnode@.service", inst)
        for unit in ("/lib/systemd/system/idnode.service", inst):
            out = sh("systemd-analyze", "verify", unit, check=False, timeout=60)
            self.assertEqual((out.returncode, out.stdout + out.stderr), (0, ""), unit)

    def check_serves_as_the_unit_does(self, user):
        records = os.path.join(self.tmp, "in.jsonl")
        with open(records, "w") as f:
            f.write(json.dumps({"handle": "88.100.1/deb", "values": [
                {"index": 1, "type": "URL", "data": "https://example.com/deb"}]}) + "\n")
        os.chmod(self.tmp, 0o755)
        os.chmod(records, 0o644)
        sh("runuser", "-u", "idnode", "--", "/usr/bin/idnode", "load", "--data",
           "/var/lib/idnode", "-q", records)
        port, http = free_port(), free_port()
        log = open(os.path.join(self.tmp, "serve.log"), "w+")
        self.addCleanup(log.close)
        # The unit's ExecStart, the ports this test's.
        proc = subprocess.Popen(["runuser", "-u", "idnode", "--", "/usr/bin/idnode", "serve",
                                 "-c", "/etc/idnode/idnode.conf", "--home", "88.100.1",
                                 "--listen", "127.0.0.1:%d" % port,
                                 "--http", "127.0.0.1:%d" % http, "--threads", "2"],
                                stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait(5)))
        deadline = time.time() + 15
        while time.time() < deadline:
            self.assertIsNone(proc.poll(), text(log.name))
            try:
                udp_exchange(port, request("88.100.1/deb"), timeout=0.3)
                break
            except (TimeoutError, OSError):
                time.sleep(0.1)
        out = sh("/usr/bin/idnode", "resolve", "88.100.1/deb", "--server", "127.0.0.1:%d" % port)
        self.assertIn("https://example.com/deb", out.stdout)
        with urllib.request.urlopen("http://127.0.0.1:%d/api/handles/88.100.1/deb" % http,
                                    timeout=5) as r:
            self.assertIn(b"https://example.com/deb", r.read())
        # The node's process runs as idnode, and its store is idnode's.
        pid = int(sh("pgrep", "-u", "idnode", "-f", "idnode serve -c /etc/idnode").stdout.split()[0])
        self.assertEqual(os.stat("/proc/%d" % pid).st_uid, user.pw_uid)
        for f in os.listdir("/var/lib/idnode"):
            self.assertEqual(os.stat(os.path.join("/var/lib/idnode", f)).st_uid, user.pw_uid, f)
        # ExecReload: kill -HUP $MAINPID; the node lives on and says what it did.
        os.kill(pid, signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and "reload: done" not in text(log.name):
            time.sleep(0.1)
        self.assertIn("idnode: reload: done: 0 settings applied, 0 need a restart", text(log.name))
        self.assertIsNone(proc.poll())
        udp_exchange(port, request("88.100.1/deb"), timeout=2)
        os.kill(pid, signal.SIGTERM)
        self.assertEqual(proc.wait(15), 0, text(log.name))


def main():
    required = os.environ.get("IDN_PACKAGE_REQUIRED") == "1"
    missing = [t for t in TOOLS if not shutil.which(t)]
    why = ("not root" if os.geteuid() != 0 else
           "missing " + ", ".join(missing) if missing else None)
    if why:
        print("test_deb: %s: %s (scripts/deps.sh installs the tools; run as root)"
              % ("cannot run" if required else "skipped", why))
        sys.exit(1 if required else 77)
    unittest.main()


if __name__ == "__main__":
    main()
