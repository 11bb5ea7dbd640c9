"""The process supervisor of Turnout's scripts and tests (kafka-local, run, bench, chaos, sims
and the integration tests): start a process with its log file, remember its PID, wait until
it is ready (a port accepts connections, an HTTP URL answers, a line is in its log), stop it
with SIGTERM and SIGKILL after a timeout, restart one that exited, stop everything at the end.

    from supervise import Supervisor
    with Supervisor() as sup:                 # stops what is left on the way out
        sw = sup.start("switch", ["build/turnout", "all"], log="var/log/turnout.log")
        sw.wait_http("http://127.0.0.1:9464/metrics", timeout=60)
        ...
        rc = sup.stop(sw)                     # SIGTERM, SIGKILL after 30 s; the exit code

Processes that outlive the script that started them (the Kafka brokers of kafka-local) are
started with detach=True and a pidfile; a later call stops them by that PID (stop_pids).
Only processes started here, or named by a PID file written here, are ever signalled.
"""
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STOP_TIMEOUT = 30.0


class NotReady(RuntimeError):
    """A process exited, or did not become ready in time."""


# ----------------------------------------------------------------- probes --

def alive(pid):
    """The PID exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError, ValueError):
        return False


def cmdline(pid):
    """The command line of a PID as one string (arguments joined by spaces), or None."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None


def read_pid(pidfile, match=None):
    """The PID in pidfile if that process still runs (and its command line contains match)."""
    try:
        with open(pidfile, encoding="utf-8") as f:
            text = f.read().strip()
    except OSError:
        return None
    if not text.isdigit() or not alive(int(text)):
        return None
    if match is not None and match not in (cmdline(int(text)) or ""):
        return None
    return int(text)


def port_open(port, host="127.0.0.1", timeout=0.5):
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def http_get(url, timeout=5.0):
    """(status, body) of a GET; an HTTP error status is returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def tail(path, n=20):
    """The last n lines of a file ("" if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-n:])
    except OSError:
        return ""


def signal_pid(pid, sig):
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def stop_pids(pids, timeout=STOP_TIMEOUT, sig=signal.SIGTERM, give_up=None, poll=0.1):
    """Stop processes that are not children of this one (e.g. found in PID files): sig to
    every PID at once, wait up to timeout seconds, SIGKILL what is left. give_up(left, waited)
    may end the wait early (left: the PIDs still running). Returns the PIDs that needed
    SIGKILL, in the order given."""
    pids = list(pids)
    for pid in pids:
        signal_pid(pid, sig)
    t0 = time.monotonic()
    while True:
        left = [p for p in pids if alive(p)]
        waited = time.monotonic() - t0
        if not left or waited >= timeout or (give_up is not None and give_up(left, waited)):
            break
        time.sleep(poll)
    for pid in left:
        signal_pid(pid, signal.SIGKILL)
    end = time.monotonic() + 5
    while any(alive(p) for p in left) and time.monotonic() < end:
        time.sleep(poll)
    return left


def wait_until(ready, timeout, what, exited=None, interval=0.2, late=None):
    """Poll ready() until it returns something true (returned). NotReady when exited() returns
    a reason (the process is gone), or after timeout seconds (late, or "WHAT: not ready ...")."""
    deadline = time.monotonic() + timeout
    while True:
        if exited is not None:
            why = exited()
            if why:
                raise NotReady(why)
        got = ready()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise NotReady(late or f"{what}: not ready after {timeout:.0f}s")
        time.sleep(interval)


# --------------------------------------------------------------- processes --

class Process:
    """One supervised process: its command, log file and (re)starts. The Popen methods the
    callers use (pid, poll, wait, returncode, send_signal, kill) work on the current start.

    log: a file for stdout and stderr (appended to, or written anew with append=False); without
    one, stdout=subprocess.PIPE (text) or "inherit" (this program's), else nothing. detach: a
    session of its own (no Ctrl-C from the terminal; it may outlive this program). pidfile: its
    PID is written there. header: a line (or header(proc)) written to the log before each start."""

    def __init__(self, name, argv, log=None, *, cwd=ROOT, env=None, append=True, detach=False,
                 pidfile=None, header=None, stdout=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log = str(log) if log is not None else None
        self.cwd, self.env, self.append, self.detach = cwd, env, append, detach
        self.pidfile, self.header, self.output = pidfile, header, stdout
        self.popen = None
        self.starts = 0
        self.log_pos = 0          # where the current start's output begins in the log
        self.killed = False       # the last stop needed SIGKILL
        self._out = None

    def start(self):
        if self._out is not None:
            self._out.close()
            self._out = None
        out = self.output if self.output is not None else subprocess.DEVNULL
        err = subprocess.STDOUT
        if out == "inherit":  # this program's stdout and stderr
            out = err = None
        if self.log is not None:
            os.makedirs(os.path.dirname(os.path.abspath(self.log)), exist_ok=True)
            out = self._out = open(self.log, "ab" if self.append else "wb")
            if self.header:
                out.write(self.header(self).encode() if callable(self.header) else self.header.encode())
                out.flush()
            self.log_pos = out.tell()
        self.popen = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                      stdout=out, stderr=err, start_new_session=self.detach,
                                      text=True if self.output == subprocess.PIPE else None)
        if self.pidfile:
            with open(self.pidfile, "w", encoding="utf-8") as f:
                f.write(f"{self.popen.pid}\n")
        self.starts += 1
        self.killed = False
        return self

    # Popen's face
    @property
    def pid(self):
        return self.popen.pid

    @property
    def stdout(self):
        return self.popen.stdout

    @property
    def returncode(self):
        return self.popen.returncode

    def poll(self):
        return self.popen.poll()

    def wait(self, timeout=None):
        return self.popen.wait(timeout)

    def send_signal(self, sig):
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def running(self):
        return self.popen is not None and self.popen.poll() is None

    def kill(self):
        """SIGKILL (a crash) and reap it; the exit code."""
        self.send_signal(signal.SIGKILL)
        return self.popen.wait()

    def stop(self, timeout=STOP_TIMEOUT, sig=signal.SIGTERM, on_timeout=None):
        """sig (None: already sent), then SIGKILL if it still runs after timeout seconds
        (on_timeout(self) is called first, e.g. to save its stacks); the exit code."""
        if self.popen is None:
            return None
        if sig is not None:
            self.send_signal(sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            if on_timeout is not None:
                on_timeout(self)
            self.killed = True
            self.kill()
        self.close()
        return self.popen.returncode

    def close(self):
        if self._out is not None:
            self._out.close()
            self._out = None

    # readiness: NotReady (a RuntimeError) if the process exits first or time runs out
    def wait_ready(self, ready, timeout, what=None, interval=0.2, late=None):
        what = what or self.name
        def exited():
            rc = self.popen.poll()
            return None if rc is None else f"{what} exited with {rc}"
        return wait_until(ready, timeout, what, exited, interval, late)

    def wait_port(self, port, host="127.0.0.1", timeout=60.0):
        return self.wait_ready(lambda: port_open(port, host), timeout, f"{self.name} on {host}:{port}")

    def wait_http(self, url, timeout=60.0, contains=None, status=200, what=None):
        """The body, once url answers status (and the body contains `contains`)."""
        what = what or self.name
        def ready():
            try:
                st, body = http_get(url, 2.0)
            except (OSError, urllib.error.URLError):
                return None
            return body if st == status and (contains is None or contains in body) else None
        def exited():
            rc = self.popen.poll()
            return None if rc is None else f"{what} exited with {rc} before serving {url}"
        return wait_until(ready, timeout, what, exited, 0.25, f"{what} did not serve {url} within {timeout:.0f}s")

    def log_text(self):
        """What the current start wrote to its log."""
        try:
            with open(self.log, "rb") as f:
                f.seek(self.log_pos)
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def wait_log(self, text, timeout=60.0):
        return self.wait_ready(lambda: text in self.log_text(), timeout, f"{self.name}: {text!r} in its log")


class Supervisor:
    """The processes one script or test started. say(msg), if given, is told of every start
    and stop; on_start(proc) is called after each start (e.g. to record the PID)."""

    def __init__(self, say=None, on_start=None):
        self.procs = []
        self.say = say
        self.on_start = on_start

    def start(self, name, argv, log=None, announce=True, **kw):
        return self.add(Process(name, argv, log, **kw), announce)

    def add(self, proc, announce=True):
        """Start proc (a Process not started yet, or one to start again) under this supervisor."""
        proc.start()
        if proc not in self.procs:
            self.procs.append(proc)
        if self.say and announce:
            self.say(f"started {proc.name} (pid {proc.pid}): {' '.join(proc.argv)}")
        if self.on_start:
            self.on_start(proc)
        return proc

    def restart(self, proc):
        return self.add(proc)

    def stop(self, proc, timeout=STOP_TIMEOUT, sig=signal.SIGTERM, on_timeout=None, forget=True):
        """Stop one process (sig, None if already sent; SIGKILL after timeout); its exit code."""
        if proc.running():
            if sig is not None:
                proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                if self.say:
                    self.say(f"{proc.name} (pid {proc.pid}) did not stop in {timeout:.0f}s; SIGKILL")
                if on_timeout is not None:
                    on_timeout(proc)
                proc.killed = True
                proc.kill()
        proc.close()
        if forget and proc in self.procs:
            self.procs.remove(proc)
        if self.say:
            self.say(f"stopped {proc.name} (pid {proc.pid}), exit {proc.returncode}")
        return proc.returncode

    def stop_all(self, timeout=STOP_TIMEOUT, together=False, on_timeout=None):
        """Stop every process still known, the last started first; together=True signals them
        all at once and gives them timeout seconds in all. {name: exit code}."""
        procs = list(reversed(self.procs))
        if not together:
            return {p.name: self.stop(p, timeout, on_timeout=on_timeout) for p in procs}
        for p in procs:
            p.send_signal(signal.SIGTERM)
        end = time.monotonic() + timeout
        return {p.name: self.stop(p, max(0.1, end - time.monotonic()), None, on_timeout) for p in procs}

    def exited(self):
        """The processes that are no longer running."""
        return [p for p in self.procs if p.popen is not None and not p.running()]

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.stop_all()
        return False


def exit_on_signals(*sigs):
    """SIGTERM (and the other sigs) end the script through its finally blocks and with
    statements, as Ctrl-C does: SystemExit(128 + signal)."""
    def handler(signum, _frame):
        raise SystemExit(128 + signum)
    for sig in sigs or (signal.SIGTERM,):
        signal.signal(sig, handler)
