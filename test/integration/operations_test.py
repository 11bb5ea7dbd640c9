#!/usr/bin/env python3
"""What an operator relies on, tried against the real binary and a broker of the test's own.

 1. Start-up failures name the setting, the value and the next step (a table: the metrics
    port taken, a key file others may read, a missing PSP CA file, a mistyped TURNOUT__
    override, a missing config file, a missing keys file).
 2. On a broker of its own (scripts/kafka-local on free ports, under var/test/<run>/kafka),
    a history of TURNOUT_OPS_HISTORY payments (default 150,000) is written into the state
    role's changelog; `turnout state` then starts on an empty state_dir, under a notify
    socket of the test's own (NOTIFY_SOCKET, WATCHDOG_USEC=2 s), with JSON logs:
      * /readyz answers 503 "restoring state stores" while the restore runs, then 200;
        /livez answers 200 all along;
      * READY=1 arrives only once /readyz is 200, WATCHDOG=1 keeps coming, STOPPING=1 on
        SIGTERM;
      * turnout_build_info names the version `turnout --version` prints, the role and the
        instance, and so does every JSON log line.
 3. The broker is stopped under the running role: /readyz turns 503 "no Kafka broker
    reachable"; the broker is started again and /readyz returns to 200.

Exit status 0 on success, 1 on failure; files are kept under var/test/<run>/ on failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from prometheus_test import Procs, finish, free_port, http_get, log, on_signal, run

ROOT = Path(__file__).resolve().parents[2]
TURNOUT = Path(os.environ.get("TURNOUT_BIN", ROOT / "build" / "turnout"))
KAFKA_LOCAL = ROOT / "scripts" / "kafka-local"
HISTORY = int(os.environ.get("TURNOUT_OPS_HISTORY", "150000"))

failures: list[str] = []


def check(ok: bool, what: str) -> bool:
    if ok:
        log(f"ok: {what}")
    else:
        log(f"FAIL: {what}")
        failures.append(what)
    return ok


def base_config(run_dir: Path, bootstrap: str, prefix: str) -> dict:
    c = yaml.safe_load((ROOT / "config" / "turnout.yaml").read_text())
    c["kafka"]["bootstrap_servers"] = bootstrap
    c["kafka"]["name_prefix"] = prefix
    c["kafka"]["partitions"] = 2
    c["state_dir"] = str(run_dir / "state")
    c["state"]["http_port"] = 0
    c["security"]["keys_file"] = str(ROOT / "config" / "dev-keys.yaml")
    for ch in c["channels"]:
        for k in ("keys_file", "layout"):
            if k in ch and not os.path.isabs(ch[k]):
                ch[k] = str(ROOT / ch[k])
    return c


def write(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def startup_errors(run_dir: Path) -> None:
    """Each failure: exit non-zero, quickly, with the setting, the value and the next step."""
    dead = f"127.0.0.1:{free_port()}"  # nothing listens: no case may get as far as Kafka
    cfg = base_config(run_dir, dead, "opsx.")
    good = write(run_dir / "good.yaml", cfg)

    taken = socket.socket()
    taken.bind(("0.0.0.0", 0))
    taken.listen(1)
    port = taken.getsockname()[1]

    open_keys = run_dir / "open-keys.yaml"
    shutil.copy(ROOT / "config" / "dev-keys.yaml", open_keys)
    open_keys.chmod(0o644)
    c = base_config(run_dir, dead, "opsx.")
    c["security"]["keys_file"] = str(open_keys)
    open_cfg = write(run_dir / "open-keys-config.yaml", c)

    c = base_config(run_dir, dead, "opsx.")
    c["security"]["keys_file"] = str(run_dir / "no-such-keys.yaml")
    nokeys_cfg = write(run_dir / "no-keys-config.yaml", c)

    c = base_config(run_dir, dead, "opsx.")
    psp = next(ch for ch in c["channels"] if ch["kind"] == "http_json")
    missing_ca = run_dir / "psp-certs" / "ca.pem"
    psp["tls"]["ca_file"] = str(missing_ca)
    ca_cfg = write(run_dir / "no-ca-config.yaml", c)

    cases = [
        ("metrics port taken",
         [TURNOUT, "risk", "--config", good, "--metrics-port", str(port)], {},
         [f"metrics.port {port}", f"127.0.0.1:{port}", "--metrics-port", "TURNOUT__METRICS__PORT"]),
        ("a key file others may read",
         [TURNOUT, "router", "--config", open_cfg, "--metrics-port", "0"], {},
         [f"security.keys_file: {open_keys}", "mode 0644", f"chmod 600 {open_keys}"]),
        ("no keys file",
         [TURNOUT, "router", "--config", nokeys_cfg, "--metrics-port", "0"], {},
         ["security.keys_file: " + str(run_dir / "no-such-keys.yaml"), "No such file"]),
        ("the PSP's CA file missing",
         [TURNOUT, "connector", "--channel", psp["id"], "--config", ca_cfg, "--metrics-port", "0"], {},
         [f"channels.{psp['id']}.tls.ca_file", str(missing_ca), "scripts/sims start"]),
        ("a mistyped override",
         [TURNOUT, "check-config", "--config", good], {"TURNOUT__METRICS__PROT": "9000"},
         ["unknown key `metrics.prot`", "TURNOUT__METRICS__PROT"]),
        ("an override of a channel that does not exist",
         [TURNOUT, "check-config", "--config", good], {"TURNOUT__CHANNELS__NOPE__LATENCY_MS": "1"},
         ["TURNOUT__CHANNELS__NOPE__LATENCY_MS", "`channels` has no element `NOPE`"]),
        ("no config file",
         [TURNOUT, "check-config", "--config", run_dir / "nope.yaml"], {},
         [f"{run_dir / 'nope.yaml'}: cannot open config file", "--config"]),
    ]
    for what, argv, env, wants in cases:
        t0 = time.monotonic()
        try:
            r = subprocess.run([str(a) for a in argv], cwd=ROOT, capture_output=True, text=True, timeout=30,
                               env={**os.environ, **env})
            out, rc = r.stdout + r.stderr, r.returncode
        except subprocess.TimeoutExpired:
            out, rc = "(no exit within 30 s)", None
        took = time.monotonic() - t0
        missing = [w for w in wants if w not in out]
        check(rc not in (0, None) and not missing,
              f"start-up failure, {what}: exit {rc} in {took:.1f} s"
              + (f"; missing {missing} in: {out.strip()[-600:]!r}" if missing or rc in (0, None) else ""))
    taken.close()


class NotifySocket:
    """A unix datagram socket standing in for systemd's: records every message with its time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.messages.append((time.monotonic(), data.decode("utf-8", "replace")))

    def first(self, text: str) -> float | None:
        return next((t for t, m in self.messages if text in m.split("\n")), None)

    def count(self, text: str) -> int:
        return sum(1 for _, m in self.messages if text in m.split("\n"))

    def close(self) -> None:
        self.stop = True
        self.thread.join(2)
        self.sock.close()


def probe(url: str) -> tuple[int, str]:
    try:
        return http_get(url, 2.0)
    except OSError as e:
        return 0, str(e)


def wait_ready(url: str, want: int, contains: str, proc, timeout: float,
               seen: list | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        status, body = probe(url)
        if seen is not None:
            seen.append((time.monotonic(), status, body))
        if status == want and contains in body:
            return True
        time.sleep(0.05)
    return False


def kafka_local(*args: str) -> int:
    r = subprocess.run([str(KAFKA_LOCAL), *args], cwd=ROOT, capture_output=True, text=True, timeout=180)
    log(f"$ scripts/kafka-local {' '.join(args)} -> exit {r.returncode}")
    if r.returncode:
        print((r.stdout + r.stderr)[-2000:])
    return r.returncode


def main() -> int:
    signal.signal(signal.SIGTERM, on_signal)
    # This test brings its own broker: TURNOUT_BOOTSTRAP (set by scripts/test for the shared
    # one) would point every turnout it starts elsewhere.
    os.environ.pop("TURNOUT_BOOTSTRAP", None)
    run_id = f"ops{int(time.time())}"
    run_dir = ROOT / "var" / "test" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    procs = Procs()
    broker_dir = run_dir / "kafka"
    kport, cport = free_port(), free_port()
    broker_args = ["--port", str(kport), "--controller-port", str(cport), "--dir", str(broker_dir)]
    notify = None
    try:
        log("1. start-up failures")
        startup_errors(run_dir)

        log("2. readiness through a restore, systemd notifications, build info")
        if kafka_local("start", *broker_args) != 0:
            raise RuntimeError("the test's own broker did not start")
        bootstrap = f"127.0.0.1:{kport}"
        cfg_path = write(run_dir / "turnout.yaml", base_config(run_dir, bootstrap, f"{run_id}."))
        r = run([TURNOUT, "topics", "--config", cfg_path], "topics")
        if r.returncode:
            raise RuntimeError("turnout topics failed")
        r = run([TURNOUT, "--log-level", "warn", "bench-history", "--config", cfg_path, "--payments", str(HISTORY),
                 "--prefix", "opsh"], "history", timeout=600)
        if r.returncode:
            raise RuntimeError("turnout bench-history failed")
        version = subprocess.run([str(TURNOUT), "--version"], capture_output=True, text=True).stdout.strip()
        check(re.fullmatch(r"turnout \d+\.\d+\.\d+\+\S+", version) is not None, f"`turnout --version`: {version!r}")

        notify = NotifySocket(run_dir / "notify.sock")
        mport = free_port()
        env = {**os.environ, "NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "2000000"}
        env.pop("WATCHDOG_PID", None)
        logfile = run_dir / "state.log"
        state = procs.start("state", [TURNOUT, "--log-format", "json", "state", "--config", cfg_path,
                                      "--instance", "ops-1", "--metrics-port", mport], logfile, env=env,
                            announce=False)
        ready_url, live_url = f"http://127.0.0.1:{mport}/readyz", f"http://127.0.0.1:{mport}/livez"
        seen: list = []
        lives: list = []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and state.poll() is None:
            status, body = probe(ready_url)
            seen.append((time.monotonic(), status, body))
            if status in (200, 503):
                lives.append(probe(live_url)[0])
            if status == 200:
                break
            time.sleep(0.05)
        t_ready = next((t for t, s, _ in seen if s == 200), None)
        restoring = [b for _, s, b in seen if s == 503 and "restoring state stores" in b]
        check(bool(restoring), f"/readyz answered 503 while restoring ({len(restoring)} times; first: "
                               f"{restoring[0].strip() if restoring else [b for _, _, b in seen[:3]]})")
        check(t_ready is not None, "/readyz answered 200 once the restore ended")
        check(bool(lives) and all(s == 200 for s in lives), f"/livez answered 200 throughout ({len(lives)} probes)")
        text = logfile.read_text(errors="replace")
        restored_line = next((json.loads(l) for l in text.splitlines()
                              if l.startswith("{") and "stores restored" in l), None)
        check(restored_line is not None and restored_line.get("msg", "").find(" 0 changelog records") < 0,
              f"the restore replayed the history: {restored_line and restored_line.get('msg')}")

        time.sleep(3)
        t_notify_ready = notify.first("READY=1")
        last_restoring = max((t for t, st, b in seen if st == 503 and "restoring" in b), default=None)
        check(t_notify_ready is not None and (last_restoring is None or t_notify_ready > last_restoring),
              "READY=1 sent, and only after the last /readyz that said restoring")
        check(notify.count("WATCHDOG=1") >= 2, f"WATCHDOG=1 keeps coming ({notify.count('WATCHDOG=1')} so far)")

        status, metrics = probe(f"http://127.0.0.1:{mport}/metrics")
        want = f'turnout_build_info{{instance="ops-1",role="state",version="{version.split(" ", 1)[-1]}"}} 1'
        check(status == 200 and want in metrics, f"/metrics has {want}")
        json_lines = [json.loads(l) for l in text.splitlines() if l.startswith("{")]
        check(bool(json_lines) and all(l.get("version") == version.split(" ", 1)[-1] and l.get("role") == "state"
                                       and l.get("instance") == "ops-1" for l in json_lines),
              f"every JSON log line names version, role and instance ({len(json_lines)} lines)")

        log("3. the broker stopped under the running role, then started again")
        kafka_local("stop", "--dir", str(broker_dir))
        check(wait_ready(ready_url, 503, "no Kafka broker reachable", state, 90),
              f"/readyz turned 503 with the broker down: {probe(ready_url)}")
        kafka_local("start", *broker_args)
        check(wait_ready(ready_url, 200, "", state, 120), f"/readyz back to 200 with the broker up: {probe(ready_url)}")

        rc = procs.stop(state)
        check(rc == 0, f"turnout state exited {rc} on SIGTERM")
        time.sleep(0.5)
        check(notify.count("STOPPING=1") == 1, "STOPPING=1 on SIGTERM")
    except Exception as e:  # noqa: BLE001 - report and clean up
        failures.append(f"{type(e).__name__}: {e}")
        log(f"FAIL: {type(e).__name__}: {e}")
    finally:
        procs.stop_all()
        if notify:
            notify.close()
        kafka_local("reset", "--dir", str(broker_dir))
    return finish(failures, run_dir, "OK: start-up failures, readiness, notifications and build info as documented")


if __name__ == "__main__":
    sys.exit(main())
