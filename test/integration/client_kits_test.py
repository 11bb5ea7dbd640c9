#!/usr/bin/env python3
"""The client kits of examples/ (Java, Python, Go) against a running switch.

What it does (cwd does not matter; paths are taken from this file's location):

 1. Builds the kits: `mvn -q -B package` in examples/java (offline with -o first, online if
    the local Maven repository lacks something), `go build` in examples/go (the Go of
    var/go/bin when scripts/setup put one there, else `go` on PATH); the Python kit runs
    with this interpreter (it needs confluent-kafka: var/venv).
 2. Writes an isolated switch configuration under var/test/<run>/ from config/turnout.yaml:
    kafka.name_prefix "<run>." (own topics, groups and transactional ids), the remote-host
    channels as in-process `simulator` channels (no host simulator processes or fixed
    ports), state.original_wait_seconds 20 (a follow-up held for a result that never comes
    is refused within the kits' timeout); creates the topics (`turnout topics`) and starts
    `turnout all`.
 3. Runs each kit with --count N (TURNOUT_KITS_COUNT, default 50): N sales and N
    authorize -> capture -> refund life cycles, each on its client's default partitioner.
    Each must exit 0 (every payment approved, every life cycle complete); their summaries
    are printed.
 4. Stops `turnout all` (SIGTERM; it must exit 0), deletes the run's topics, and removes
    var/test/<run>/ on success (TURNOUT_KEEP_TEST_DIR=1 keeps it; always kept on failure).

Environment: TURNOUT_BOOTSTRAP (default 127.0.0.1:9092) names a running broker;
TURNOUT_BIN overrides build/turnout. Exit status 0 on success, 1 on failure.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from prometheus_test import Procs, as_simulator_channels, delete_topics, finish, free_port, log, on_signal, run

ROOT = Path(__file__).resolve().parents[2]
TURNOUT = Path(os.environ.get("TURNOUT_BIN", ROOT / "build" / "turnout"))
BOOTSTRAP = os.environ.get("TURNOUT_BOOTSTRAP", "127.0.0.1:9092")
COUNT = int(os.environ.get("TURNOUT_KITS_COUNT", "50"))
KIT_TIMEOUT_S = 90


def go_binary() -> str | None:
    local = ROOT / "var" / "go" / "bin" / "go"
    return str(local) if local.is_file() else shutil.which("go")


def build_kits(run_dir: Path) -> dict[str, list[str]]:
    """Each kit's command line; raises RuntimeError when one does not build."""
    java = ROOT / "examples" / "java"
    mvn = shutil.which("mvn")
    if not mvn or not shutil.which("java"):
        raise RuntimeError("mvn and java must be installed (scripts/setup)")
    # Offline when the local Maven repository has the client already (and online if that fails).
    version = re.search(r"<artifactId>kafka-clients</artifactId>\s*<version>([^<]+)<", (java / "pom.xml").read_text())
    local = Path.home() / ".m2" / "repository" / "org" / "apache" / "kafka" / "kafka-clients" / version.group(1)
    mvn_package = [mvn, "-q", "-B", "-f", java / "pom.xml", "package"]
    if not (local.is_dir() and run(mvn_package + ["-o"], "java kit, offline", timeout=300).returncode == 0):
        if run(mvn_package, "java kit", timeout=300).returncode != 0:
            raise RuntimeError("examples/java does not build")
    go = go_binary()
    if not go:
        raise RuntimeError("no go (scripts/setup puts one in var/go)")
    go_kit = run_dir / "turnout-client-go"
    r = subprocess.run([go, "build", "-mod=readonly", "-o", str(go_kit), "."], cwd=ROOT / "examples" / "go",
                       capture_output=True, text=True, timeout=300)
    log(f"$ {go} build -o {go_kit} .  (examples/go) -> exit {r.returncode}")
    for line in (r.stdout + r.stderr).rstrip().splitlines():
        print("    " + line)
    if r.returncode != 0:
        raise RuntimeError("examples/go does not build")
    try:
        import confluent_kafka  # noqa: F401
    except ImportError as e:
        raise RuntimeError(f"{sys.executable} lacks confluent-kafka (var/venv; scripts/setup)") from e
    return {
        "java": ["java", "-jar", str(java / "target" / "turnout-client.jar")],
        "python": [sys.executable, str(ROOT / "examples" / "python" / "turnout_client.py")],
        "go": [str(go_kit)],
    }


def main() -> int:
    signal.signal(signal.SIGTERM, on_signal)
    if not TURNOUT.is_file():
        log(f"FAIL: {TURNOUT} not found (build first)")
        return 1
    run_id = f"kits{int(time.time())}"
    run_dir = ROOT / "var" / "test" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    log(f"run {run_id}: {run_dir}, broker {BOOTSTRAP}, {COUNT} sales and {COUNT} life cycles per kit")
    prefix = run_id + "."
    procs = Procs()
    failures: list[str] = []
    outputs: list[tuple[str, int, str]] = []
    topics_created = False
    try:
        kits = build_kits(run_dir)

        c = as_simulator_channels(yaml.safe_load((ROOT / "config" / "turnout.yaml").read_text()))
        c["kafka"]["bootstrap_servers"] = BOOTSTRAP
        c["kafka"]["name_prefix"] = prefix
        c["settlement"]["output_dir"] = str(run_dir / "settlement")
        keys = Path(c["security"]["keys_file"])
        c["security"]["keys_file"] = str(keys if keys.is_absolute() else ROOT / keys)
        c["metrics"]["port"] = free_port()
        c.setdefault("state", {}).update(http_port=0, original_wait_seconds=20)
        cfg = run_dir / "turnout.yaml"
        cfg.write_text(yaml.safe_dump(c, sort_keys=False))

        topics_created = True
        if run([TURNOUT, "topics", "--config", cfg], "topics", timeout=60).returncode != 0:
            raise RuntimeError("turnout topics failed")
        switch = procs.start("turnout all", [TURNOUT, "all", "--config", cfg], run_dir / "turnout-all.log")
        time.sleep(1)

        for name, argv in kits.items():
            t = time.monotonic()
            argv = argv + ["--bootstrap", BOOTSTRAP, "--prefix", prefix, "--merchant", f"m-kit-{name}",
                           "--count", str(COUNT), "--timeout", f"{KIT_TIMEOUT_S}"]
            if name == "go":  # Go's flag package: -timeout takes a duration
                argv[-1] += "s"
            try:
                r = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=KIT_TIMEOUT_S + 60)
                rc, out = r.returncode, r.stdout + (r.stderr if r.returncode != 0 else "")
            except subprocess.TimeoutExpired as e:
                rc, out = -1, f"{e.stdout or ''}\n(killed after {KIT_TIMEOUT_S + 60} s)"
            log(f"{name} kit: exit {rc} in {time.monotonic() - t:.1f} s")
            outputs.append((name, rc, out))
            if rc != 0:
                failures.append(f"the {name} kit exited {rc}")
            if switch.poll() is not None:
                raise RuntimeError(f"turnout all exited {switch.returncode} (see {run_dir}/turnout-all.log)")

        rc = procs.stop(switch)
        if rc != 0:
            failures.append(f"turnout all exited {rc} on SIGTERM (see {run_dir}/turnout-all.log)")
    except Exception as e:  # noqa: BLE001 - report and clean up
        failures.append(f"{type(e).__name__}: {e}")
    finally:
        procs.stop_all()
        if topics_created:
            delete_topics(prefix)

    for name, rc, out in outputs:
        print(f"\n--- {name} kit (exit {rc})")
        print(out.rstrip())
    print()
    return finish(failures, run_dir, f"OK: the java, python and go kits each saw {COUNT} sales and {COUNT} life cycles approved")


if __name__ == "__main__":
    sys.exit(main())
