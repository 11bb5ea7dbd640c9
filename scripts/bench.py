"""The body of scripts/bench (see there for usage)."""
import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TURNOUT = os.path.join(ROOT, "build", "turnout")
MICRO = os.path.join(ROOT, "build", "test", "turnout_microbench")

TARGETS = {
    "end_to_end_payments_per_s": 50000,
    "p99_ms_at_10000": 50,
    "ratio_turnout_to_pipe": 0.7,
    "inproc_records_per_s_per_core": 500000,
}


def as_simulator_channels(cfg):
    """Remote-host channels (iso8583, http_json) become in-process `simulator` channels with
    their fees and circuit: this run needs no host simulator processes or fixed ports."""
    for i, ch in enumerate(cfg.get("channels") or []):
        if ch.get("kind") in ("iso8583", "http_json"):
            cfg["channels"][i] = {k: v for k, v in ch.items() if k in ("id", "fees", "circuit")}
            cfg["channels"][i].update(kind="simulator", latency_ms=2)
    return cfg


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Switch:
    """Every role as its own process, so each role's memory can be read."""

    def __init__(self, config, logdir):
        cfg = yaml.safe_load(open(config))
        roles = [("router", []), ("risk", []), ("settlement", [])]
        roles += [(f"connector.{c['id']}", ["--channel", c["id"]]) for c in cfg["channels"]]
        self.procs = {}
        for name, extra in roles:
            role = name.split(".")[0]
            log = open(os.path.join(logdir, f"{name}.log"), "w")
            self.procs[name] = subprocess.Popen(
                [TURNOUT, "--log-level", "warn", role, *extra, "--config", config, "--metrics-port", "0"],
                stdout=log, stderr=subprocess.STDOUT)
        self.samples = {name: [] for name in self.procs}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        t0 = time.time()
        while not self._stop.is_set():
            for name, p in self.procs.items():
                r = rss_kib(p.pid)
                if r is not None:
                    self.samples[name].append((round(time.time() - t0, 1), r))
            self._stop.wait(1.0)

    def alive(self):
        return all(p.poll() is None for p in self.procs.values())

    def stop(self):
        self._stop.set()
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = {}
        for name, p in self.procs.items():
            try:
                codes[name] = p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                codes[name] = p.wait()
        return codes


def memory_summary(samples, since=0.0):
    out = {}
    for name, s in samples.items():
        pts = [(t, r) for t, r in s if t >= since] or s
        if not pts:
            continue
        rs = [r for _, r in pts]
        # Growth over the second half against the first half, in MiB.
        half = len(rs) // 2 or 1
        first, second = rs[:half], rs[half:] or rs[:half]
        out[name] = {
            "start_mib": round(rs[0] / 1024, 1),
            "end_mib": round(rs[-1] / 1024, 1),
            "max_mib": round(max(rs) / 1024, 1),
            "second_half_minus_first_half_mib": round((sum(second) / len(second) - sum(first) / len(first)) / 1024, 1),
            "samples": len(rs),
        }
    return out


def loadgen(config, count, rate, report, timeout=180):
    cmd = [TURNOUT, "loadgen", "--config", config, "--count", str(count), "--rate", str(rate),
           "--no-settlement", "--report-json", report, "--timeout", str(timeout), "--invalid-share", "0.02"]
    p = subprocess.run(cmd, text=True, capture_output=True, env={**os.environ, "TERM": "dumb"})
    data = json.load(open(report)) if os.path.exists(report) else {}
    data["exit_code"] = p.returncode
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-2000:])
    return data


def main():
    ap = argparse.ArgumentParser(description="Turnout benchmark")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--soak-minutes", type=float, default=10)
    ap.add_argument("--payments", type=int, default=200000)
    args = ap.parse_args()
    smoke = args.smoke
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    outdir = os.path.join(ROOT, "var", "bench", stamp)
    os.makedirs(outdir, exist_ok=True)

    started_broker = subprocess.run([os.path.join(ROOT, "scripts", "kafka-local"), "status"],
                                    capture_output=True).returncode != 0
    if started_broker:
        run([os.path.join(ROOT, "scripts", "kafka-local"), "start"])
    bootstrap = os.environ.get("TURNOUT_BOOTSTRAP", "127.0.0.1:" + os.environ.get("TURNOUT_KAFKA_PORT", "9092"))
    os.environ["TURNOUT_BOOTSTRAP"] = bootstrap

    cfg = as_simulator_channels(yaml.safe_load(open(os.path.join(ROOT, "config", "turnout.yaml"))))
    cfg["kafka"]["name_prefix"] = f"bench{stamp}."
    cfg["kafka"]["bootstrap_servers"] = bootstrap
    cfg["settlement"]["output_dir"] = os.path.join(outdir, "settlement")
    cfg["security"]["keys_file"] = os.path.join(ROOT, "config", "dev-keys.yaml")
    cfg["metrics"]["port"] = 0
    config = os.path.join(outdir, "turnout.yaml")
    yaml.safe_dump(cfg, open(config, "w"), sort_keys=False)
    run([TURNOUT, "topics", "--config", config])

    report = {"time": stamp, "smoke": smoke, "machine": {"cores": os.cpu_count()}, "targets": TARGETS}
    n_pipe = 20000 if smoke else args.payments
    switch = None
    try:
        # (a) the Kafka limit: same record size, same hops, same runtime, with/without transactions
        print("bench: (a) plain Kafka pipe, 3 hops ...", flush=True)
        for tx in (True, False):
            cmd = [TURNOUT, "bench-pipe", "--config", config, "--count", str(n_pipe), "--hops", "3", "--bytes", "700"]
            if not tx:
                cmd.append("--no-transactions")
            out = run(cmd).stdout.strip().splitlines()[-1]
            report["pipe_transactional" if tx else "pipe_plain"] = json.loads(out)

        switch = Switch(config, outdir)
        time.sleep(5)  # every role joins its group
        if not switch.alive():
            raise SystemExit("bench: a role exited at start; see " + outdir)

        # (b) end to end at saturation
        print("bench: (b) end to end at saturation ...", flush=True)
        n_sat = 20000 if smoke else args.payments
        report["saturation"] = loadgen(config, n_sat, 0, os.path.join(outdir, "saturation.json"))
        soak_start = None

        # (c) latency at fixed offered loads
        report["fixed_load"] = {}
        secs = 2 if smoke else 20
        for rate in (1000, 5000, 10000):
            print(f"bench: (c) {rate} payments/s for {secs} s ...", flush=True)
            report["fixed_load"][str(rate)] = loadgen(config, rate * secs, rate, os.path.join(outdir, f"rate{rate}.json"))

        # (e) memory over a constant-load soak
        soak_minutes = 0 if smoke else args.soak_minutes
        if soak_minutes > 0:
            rate = 5000
            print(f"bench: (e) memory soak, {rate} payments/s for {soak_minutes} min ...", flush=True)
            soak_start = max((s[-1][0] for s in switch.samples.values() if s), default=0)
            report["soak"] = loadgen(config, int(rate * 60 * soak_minutes), rate, os.path.join(outdir, "soak.json"),
                                     timeout=300)
        report["memory"] = memory_summary(switch.samples, since=soak_start or 0)
        report["memory_note"] = ("over the soak" if soak_start is not None else "over the whole run")
        report["role_exit_codes"] = switch.stop()
        switch = None

        # (d) the decision path in process
        print("bench: (d) in-process decode → validate → route → score → encode ...", flush=True)
        report["inproc"] = json.loads(run([MICRO, "1" if smoke else "10"]).stdout.strip().splitlines()[-1])
    finally:
        if switch:
            switch.stop()
        if started_broker:
            subprocess.run([os.path.join(ROOT, "scripts", "kafka-local"), "stop"], capture_output=True)

    sat = report["saturation"].get("throughput", 0)
    pipe = report["pipe_transactional"]["records_per_s"]
    p99_10k = report["fixed_load"]["10000"].get("latency_ms", {}).get("p99", 0)
    figures = {
        "end_to_end_payments_per_s": sat,
        "p99_ms_at_10000": p99_10k,
        "ratio_turnout_to_pipe": sat / pipe if pipe else 0,
        "inproc_records_per_s_per_core": report["inproc"]["records_per_s_per_core"],
    }
    report["figures"] = figures
    ok_runs = all(r.get("ok") for r in [report["saturation"], *report["fixed_load"].values()] +
                  ([report["soak"]] if "soak" in report else []))
    report["all_payments_answered"] = ok_runs
    path = os.path.join(ROOT, "var", "bench", f"report-{stamp}.json")
    json.dump(report, open(path, "w"), indent=2)
    json.dump(report, open(os.path.join(ROOT, "var", "bench", "latest.json"), "w"), indent=2)

    def row(name, value, target, better):
        met = value >= target if better == "higher" else value <= target
        print(f"  {name:<46} {value:>14,.1f}   target {'≥' if better == 'higher' else '≤'} {target:>10,}   "
              f"{'met' if met else 'MISSED'}")

    print(f"\n== Turnout benchmark {'(smoke) ' if smoke else ''}{stamp} ==")
    print(f"  (a) Kafka pipe, 3 hops, transactions on      {pipe:>14,.0f} records/s")
    print(f"  (a) Kafka pipe, 3 hops, transactions off     {report['pipe_plain']['records_per_s']:>14,.0f} records/s")
    row("(b) Turnout end to end, saturation (payments/s)", sat, TARGETS["end_to_end_payments_per_s"], "higher")
    row("    (b)/(a) with transactions", figures["ratio_turnout_to_pipe"], TARGETS["ratio_turnout_to_pipe"], "higher")
    for rate, r in report["fixed_load"].items():
        lat = r.get("latency_ms", {})
        print(f"  (c) {int(rate):>6,}/s offered: {r.get('throughput', 0):>8,.0f}/s done   "
              f"p50 {lat.get('p50', 0):>7.1f} ms  p95 {lat.get('p95', 0):>7.1f} ms  p99 {lat.get('p99', 0):>7.1f} ms")
    row("    p99 at 10,000/s (ms)", p99_10k, TARGETS["p99_ms_at_10000"], "lower")
    row("(d) in-process records/s per core", figures["inproc_records_per_s_per_core"],
        TARGETS["inproc_records_per_s_per_core"], "higher")
    print(f"      {report['inproc']['ns_per_record']:.0f} ns and {report['inproc']['allocations_per_record']:.1f} "
          f"allocations per record")
    if "route_score_ns_per_record" in report["inproc"]:
        print(f"      route + score alone: {report['inproc']['route_score_ns_per_record']:.0f} ns and "
              f"{report['inproc']['route_score_allocations_per_record']:.2f} allocations per record")
    print(f"  (e) resident memory per role ({report['memory_note']}), MiB: start → end (max; 2nd-half − 1st-half)")
    for name, m in report["memory"].items():
        print(f"      {name:<24} {m['start_mib']:>7.1f} → {m['end_mib']:>7.1f}  (max {m['max_mib']:.1f}; "
              f"{m['second_half_minus_first_half_mib']:+.1f})")
    print(f"  every payment answered exactly once in every run: {'yes' if ok_runs else 'NO'}")
    print(f"  roles exited: {report['role_exit_codes']}")
    print(f"  report: {os.path.relpath(path, ROOT)}")
    bad_exit = any(c != 0 for c in report["role_exit_codes"].values())
    return 0 if ok_runs and not bad_exit else 1


if __name__ == "__main__":
    sys.exit(main())
