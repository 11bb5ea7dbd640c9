"""The body of scripts/run (see there for usage): after scripts/setup, build Turnout, start a
fresh local Kafka broker, the channel host simulators and the switch, drive COUNT payments
through it with the load generator, shut all down (also on an error, Ctrl-C or SIGTERM)."""
import json
import os
import signal
import subprocess
import sys

import yaml

from supervise import NotReady, Supervisor, exit_on_signals, http_get, tail  # scripts/supervise.py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOG = "var/log/turnout.log"
REPORT = "var/log/loadgen-report.json"


def step(*argv):
    """Run a command; a failure ends the run with its exit status (after the clean-up)."""
    rc = subprocess.run(argv).returncode
    if rc:
        sys.exit(rc)


def status_of(rc):
    """An exit code as the shell reports it: 128 + N for a process ended by signal N."""
    return rc if rc >= 0 else 128 - rc


def answers(url):
    try:
        return http_get(url, 2.0)[0] < 400
    except OSError:
        return False


def main(argv):
    os.chdir(ROOT)
    config = os.environ.get("TURNOUT_CONFIG") or "config/turnout.yaml"
    os.environ["TURNOUT_KAFKA_PORT"] = os.environ.get("TURNOUT_KAFKA_PORT") or "9092"
    os.environ["TURNOUT_BOOTSTRAP"] = f"127.0.0.1:{os.environ['TURNOUT_KAFKA_PORT']}"
    exit_on_signals(signal.SIGINT, signal.SIGTERM)  # exit 130 / 143, through the clean-up below
    sup = Supervisor()
    switch = loadgen = None
    sims_started = False
    try:
        step("cmake", "-S", ".", "-B", "build", "-G", "Ninja", "-DCMAKE_BUILD_TYPE=RelWithDebInfo")
        step("cmake", "--build", "build", "-j2")
        step("scripts/kafka-local", "reset")
        step("scripts/kafka-local", "start", "--config", config)

        with open(config, encoding="utf-8") as f:
            port = (yaml.safe_load(f).get("metrics") or {}).get("port", 9464)
        metrics = f"http://127.0.0.1:{port}/metrics"
        if answers(metrics):
            print(f"run: {metrics} already answers: another switch is running", file=sys.stderr)
            return 1

        sims_started = True
        step("scripts/sims", "start", "--config", config)

        # Own sessions: Ctrl-C reaches this program, which stops them in order.
        switch = sup.start("switch", ["build/turnout", "all", "--config", config], LOG, append=False, detach=True)
        print(f"run: switch started (pid {switch.pid}, log {LOG})", flush=True)
        try:
            switch.wait_ready(lambda: answers(metrics), 60, interval=0.5)
        except NotReady:
            print(f"run: switch not serving {metrics}; tail of {LOG}:\n{tail(LOG, 30)}", file=sys.stderr)
            return 1
        print(f"run: switch serving {metrics}", flush=True)

        if os.path.exists(REPORT):
            os.remove(REPORT)
        loadgen = sup.start("load generator", ["build/turnout", "loadgen", "--config", config, "--count",
                                               os.environ.get("COUNT") or "100000", "--report-json", REPORT, *argv],
                            stdout="inherit", detach=True)
        status = status_of(loadgen.wait())
        loadgen = None
        print(f"run: loadgen exit status {status}", flush=True)
        # Status inquiry of the payment with the longest life cycle, read from payments.state.
        try:
            with open(REPORT, encoding="utf-8") as f:
                sample = json.load(f).get("sample_payment", "")
        except (OSError, ValueError, AttributeError):
            sample = ""
        if sample:
            print(f"run: turnout status {sample}", flush=True)
            subprocess.run(["build/turnout", "status", sample, "--config", config])
        return status
    finally:
        if loadgen is not None and loadgen.running():
            print(f"run: stopping the load generator (pid {loadgen.pid})", flush=True)
            loadgen.stop(timeout=None)
        if switch is not None:
            if switch.running():
                print(f"run: stopping the switch (pid {switch.pid})", flush=True)
                switch.stop(30, on_timeout=lambda p: print("run: switch still running after 30s; killing it",
                                                           flush=True))
            print(f"run: switch exited with status {status_of(switch.wait())} (log {LOG})", flush=True)
        if sims_started:
            subprocess.run(["scripts/sims", "stop", "--config", config])
        subprocess.run(["scripts/kafka-local", "stop"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
