"""Run accupredix-fcgi in standalone (supervisor) mode for a test.

The config is a copy of the stack's config (so it reaches the same
PostgreSQL), with keys overridden or removed per test.  APX_* variables are
removed from the child's environment so that nothing overrides the file.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import fcgi_client
from apxtest import alive, children_of, free_port, poll


def render_config(base_path, set_keys=None, remove_keys=(), append_lines=()):
    """Copy of base_path with keys replaced/removed; new keys appended."""
    set_keys = dict(set_keys or {})
    out = []
    seen = set()
    for raw in Path(base_path).read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key = line.split("=", 1)[0].strip()
            if key in remove_keys:
                continue
            if key in set_keys:
                out.append("%s = %s" % (key, set_keys[key]))
                seen.add(key)
                continue
        out.append(raw)
    for key, value in set_keys.items():
        if key not in seen:
            out.append("%s = %s" % (key, value))
    out.extend(append_lines)
    return "\n".join(out) + "\n"


def clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("APX_")}


class Standalone:
    """One supervisor process and its workers."""

    def __init__(self, binary, workdir, config_text, workers=2, listen="tcp"):
        self.binary = str(binary)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "apx.conf"
        self.config_path.write_text(config_text)
        os.chmod(self.config_path, 0o600)
        self.pidfile = self.workdir / "supervisor.pid"
        self.log_path = self.workdir / "stderr.log"
        self.workers = workers
        if listen == "tcp":
            self.port = free_port()
            self.listen = "127.0.0.1:%d" % self.port
            self.address = ("127.0.0.1", self.port)
        else:
            # sun_path is short: keep the socket out of pytest's long tmp paths
            self._sockdir = tempfile.mkdtemp(prefix="apx-sa-", dir="/tmp")
            sock = Path(self._sockdir) / "apx.sock"
            self.listen = "unix:%s" % sock
            self.address = "unix:%s" % sock
            self.socket_path = sock
        self.proc = None
        self.known_pids = set()

    # -- lifecycle ---------------------------------------------------------

    def argv(self):
        return [self.binary, "--config", str(self.config_path), "--listen", self.listen,
                "--workers", str(self.workers), "--pidfile", str(self.pidfile)]

    def start(self):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=self._log, env=clean_env(), cwd=str(self.workdir),
                                     start_new_session=True)
        return self

    def wait_ready(self, timeout=15):
        """Wait until /healthz answers 200 and all workers are up."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("supervisor exited with %s during start-up; stderr:\n%s"
                                     % (self.proc.returncode, self.stderr_text()))
            try:
                r = self.request("GET", "/healthz", timeout=2)
                last = r
                if r.status == 200 and len(self.workers_pids()) >= self.workers:
                    return self
            except (OSError, fcgi_client.FcgiError) as e:
                last = e
            time.sleep(0.1)
        raise AssertionError("standalone supervisor not ready after %ss (last: %r); stderr:\n%s"
                             % (timeout, last, self.stderr_text()))

    def run_to_exit(self, timeout=10):
        """For start-up failures: wait for exit, return (code, stderr)."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("program kept running for %ss (expected it to refuse to start); "
                                 "stderr:\n%s" % (timeout, self.stderr_text()))
        return code, self.stderr_text()

    @property
    def pid(self):
        return self.proc.pid

    def workers_pids(self):
        kids = children_of(self.proc.pid)
        self.known_pids |= kids
        return kids

    def stderr_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def kill(self):
        """Kill the supervisor's process group and every worker seen."""
        if self.proc is None:
            return
        try:
            self.workers_pids()
        except OSError:
            pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        for pid in self.known_pids:
            if alive(pid):
                # only ever pids that were children of our supervisor
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            self._log.close()
        except Exception:
            pass
        if getattr(self, "_sockdir", None):
            shutil.rmtree(self._sockdir, ignore_errors=True)

    def stop(self, timeout=10):
        if self.proc is None or self.proc.poll() is not None:
            self.kill()
            return
        self.workers_pids()
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    # -- requests ----------------------------------------------------------

    def request(self, method="GET", path="/", **kw):
        return fcgi_client.request(self.address, method, path, **kw)

    def wait_new_workers(self, gone, timeout=10):
        """Wait until none of `gone` is alive and `workers` live workers exist."""
        def done():
            kids = self.workers_pids()
            return (not (kids & set(gone)) and not any(alive(p) for p in gone)
                    and len(kids) >= self.workers) and kids
        return poll(done, timeout, interval=0.1, what="replacement workers")


def wait_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


__all__ = ["Standalone", "render_config", "clean_env", "wait_gone"]
