"""The body of scripts/bench (see there for usage)."""
import argparse
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

import yaml

from supervise import NotReady, Process, port_open  # scripts/supervise.py, beside this file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TURNOUT = os.path.join(ROOT, "build", "turnout")
MICRO = os.path.join(ROOT, "build", "test", "turnout_microbench")

TARGETS = {
    "end_to_end_payments_per_s": 50000,
    "ratio_turnout_to_pipe": 0.7,
    "inproc_records_per_s_per_core": 1000000,
    "cpu_us_per_payment_switch": 100,
    "cpu_us_per_payment_broker": 80,
    "records_per_payment": 6,
    "p99_ms_at_100": 50,
    "p99_ms_at_1000": 50,
    "p99_ms_at_half_saturation": 150,
}
# Offered loads of the latency profile: fixed rates, and shares of the measured saturation.
LATENCY_RATES = (100, 1000)
LATENCY_SHARES = (0.5, 0.8)


def as_simulator_channels(cfg):
    """Remote-host channels (iso8583, http_json) become in-process `simulator` channels with
    their fees and circuit: this run needs no host simulator processes or fixed ports."""
    for i, ch in enumerate(cfg.get("channels") or []):
        if ch.get("kind") in ("iso8583", "http_json"):
            cfg["channels"][i] = {k: v for k, v in ch.items() if k in ("id", "fees", "circuit")}
            cfg["channels"][i].update(kind="simulator", latency_ms=2)
    return cfg


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_channel_hosts(cfg, outdir):
    """The configuration's remote-host channels (iso8583, http_json) on loopback ports of this
    run, for channel host simulators (scripts/sims) started with it: the connectors speak
    their protocols over real sockets, as the main job does."""
    for ch in cfg.get("channels") or []:
        if ch.get("kind") == "iso8583":
            ch["endpoint"] = f"127.0.0.1:{free_port()}"
            ch["journal_dir"] = os.path.join(outdir, "iso8583")
        elif ch.get("kind") == "http_json":
            ch["endpoint"] = f"https://127.0.0.1:{free_port()}"
            ch.setdefault("webhook", {})["listen"] = f"127.0.0.1:{free_port()}"
    return cfg


def sims(cmd, config, outdir):
    run([os.path.join(ROOT, "scripts", "sims"), cmd, "--config", config, "--dir", os.path.join(outdir, "sims")])


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def broker_serves(bootstrap):
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    return port_open(port, host or "127.0.0.1", timeout=3)


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
    """Every role as its own process, so each role's memory can be read. `with_state` adds the
    state role; `log_level` info keeps the stores' restore lines in the logs."""

    def __init__(self, config, logdir, with_state=False, log_level="warn", tag="", all_in_one=False):
        cfg = yaml.safe_load(open(config))
        roles = [("router", []), ("risk", [])]
        if with_state:
            roles.append(("state", []))
        roles.append(("settlement", []))
        roles += [(f"connector.{c['id']}", ["--channel", c["id"]]) for c in cfg["channels"]]
        if all_in_one:
            roles = [("all", [])]  # every role in one process: `turnout all`
        self.config, self.logdir, self.log_level, self.tag = config, logdir, log_level, tag
        self.roles = dict(roles)
        self.procs = {}
        self.metrics_ports = {}
        self.started = {}
        self.log_offset = {}
        for name in self.roles:
            self.start(name)
        self.samples = {name: [] for name in self.procs}
        self.t0 = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def log_path(self, name):
        return os.path.join(self.logdir, f"{self.tag}{name}.log")

    def start(self, name):
        """Starts (or starts again) one role; its log is appended to."""
        role = name.split(".")[0]
        self.started[name] = time.time()
        self.metrics_ports[name] = free_port()
        self.procs[name] = Process(name, [TURNOUT, "--log-level", self.log_level, role, *self.roles[name],
                                          "--config", self.config, "--metrics-port", self.metrics_ports[name]],
                                   self.log_path(name), cwd=None).start()
        self.log_offset[name] = self.procs[name].log_pos

    def scrape(self):
        """(metric, label) → [sum, count] of the stage latency, commit and channel latency
        histograms, added up over every role process."""
        import urllib.request
        out = {}
        pat = re.compile(r'^(turnout_(?:stage_latency|stage_commit|channel_latency)_seconds)_(sum|count)\{(?:stage|channel)="([^"]+)"\} (\S+)')
        for name, port in self.metrics_ports.items():
            try:
                text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            except OSError:
                continue
            for line in text.splitlines():
                m = pat.match(line)
                if m:
                    slot = out.setdefault((m.group(1), m.group(3)), [0.0, 0.0])
                    slot[0 if m.group(2) == "sum" else 1] += float(m.group(4))
        return out

    def pids(self):
        return {name: p.pid for name, p in self.procs.items() if p.poll() is None}

    def kill(self, name):
        """SIGKILL: no clean stop, the open transaction is left to be aborted."""
        self.procs[name].kill()

    def rss_mib(self):
        out = {}
        for name, p in list(self.procs.items()):
            r = rss_kib(p.pid)
            if r is not None:
                out[name] = round(r / 1024, 1)
        return out

    def _sample(self):
        while not self._stop.is_set():
            for name, p in list(self.procs.items()):
                r = rss_kib(p.pid)
                if r is not None:
                    self.samples[name].append((round(time.time() - self.t0, 1), r))
            self._stop.wait(1.0)

    def alive(self):
        return all(p.poll() is None for p in self.procs.values())

    def check_alive(self):
        """Raises RuntimeError naming each role that exited, its exit code and the last
        critical or error line of its log."""
        dead = {name: p.poll() for name, p in self.procs.items() if p.poll() is not None}
        if not dead:
            return
        why = []
        for name, code in dead.items():
            first = ""  # the first critical line is the cause; the last says the role exits
            try:
                with open(self.log_path(name), errors="replace") as f:
                    f.seek(self.log_offset[name])
                    for line in f:
                        if " critical " in line and not first:
                            first = line.strip()
            except OSError:
                pass
            why.append(f"{name} exited {code}" + (f" ({first})" if first else ""))
        raise RuntimeError("; ".join(why))

    def stop(self):
        self._stop.set()
        for p in self.procs.values():
            p.send_signal(signal.SIGTERM)
        return {name: p.stop(30, sig=None) for name, p in self.procs.items()}


def costed_loadgen(config, cfg, switch, count, report_path, topics=True):
    """A saturation run (`count` payments as fast as they go) with its cost: CPU seconds of
    every role process, the broker JVM, the channel host simulators and the load generator,
    and (`topics`) the records, markers and bytes written on each topic, all per payment
    answered (bench_cost.py)."""
    import resource
    import bench_cost
    bootstrap = cfg["kafka"]["bootstrap_servers"]
    prefix = cfg["kafka"]["name_prefix"]
    pids = {name: pid for name, pid in switch.pids().items()}
    broker = bench_cost.broker_pid()
    if broker:
        pids["broker (JVM)"] = broker
    for cid in sim_ids(cfg):
        try:
            pids[f"channel host {cid}"] = int(open(os.path.join(os.path.dirname(report_path), "sims",
                                                                 cid + ".pid")).read())
        except (OSError, ValueError):
            pass
    before_topics = bench_cost.topic_snapshot(bootstrap, prefix) if topics else None
    before_cpu = bench_cost.cpu_snapshot(pids)
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = loadgen(config, count, 0, report_path)
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    after_cpu = bench_cost.cpu_snapshot(pids)
    answered = out.get("received", 0)
    cpu = bench_cost.cpu_cost(before_cpu, after_cpu, answered)
    lg = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
    cpu["load generator"] = {"cpu_seconds": round(lg, 3),
                             "us_per_payment": round(lg * 1e6 / answered, 1) if answered else 0}
    switch_roles = [n for n in cpu if n in switch.roles]
    out["cpu"] = cpu
    out["cpu_us_per_payment_switch"] = round(sum(cpu[n]["us_per_payment"] for n in switch_roles), 1)
    out["cpu_us_per_payment_broker"] = cpu.get("broker (JVM)", {}).get("us_per_payment")
    out["payments_answered"] = answered
    if topics:
        time.sleep(1)  # the last transaction's markers
        out["kafka"] = bench_cost.topic_cost(bootstrap, prefix, before_topics,
                                             bench_cost.topic_snapshot(bootstrap, prefix), answered)
    return out


def sim_ids(cfg):
    return [c["id"] for c in cfg.get("channels") or [] if c.get("kind") in ("iso8583", "http_json")]


def latency_profile(config, switch, saturation, secs, outdir, tag):
    """End-to-end latency at 100/s, 1,000/s and at 50 % and 80 % of `saturation`, `secs` each."""
    rates = [(str(r), r) for r in LATENCY_RATES]
    rates += [(f"{int(share * 100)}%", max(1, round(saturation * share))) for share in LATENCY_SHARES if saturation]
    out = {}
    for label, rate in rates:
        print(f"bench: (c) {tag}: {rate:,}/s ({label}) for {secs} s ...", flush=True)
        before = switch.scrape()
        out[label] = loadgen(config, max(1, int(rate * secs)), rate, os.path.join(outdir, f"{tag}-rate{label}.json"))
        out[label]["offered_per_s"] = rate
        out[label]["hops_ms"] = hop_means(before, switch.scrape())
        switch.check_alive()
    return out


def hop_means(before, after):
    """Where the milliseconds went between two Switch.scrape()s: per stage, the mean age of a
    record when the stage took it (its wait in the topic, the upstream commit included) and
    the mean time of the stage's commits; per channel, the mean call time."""
    names = {"turnout_stage_latency_seconds": "record_age", "turnout_stage_commit_seconds": "commit",
             "turnout_channel_latency_seconds": "channel_call"}
    out = {}
    for (metric, label), (s1, c1) in sorted(after.items()):
        s0, c0 = before.get((metric, label), (0.0, 0.0))
        if c1 > c0:
            out.setdefault(names[metric], {})[label] = round((s1 - s0) * 1000 / (c1 - c0), 2)
    return out


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


def loadgen_cmd(config, count, rate, report, timeout=180, run_id=None):
    cmd = [TURNOUT, "loadgen", "--config", config, "--count", str(count), "--rate", str(rate),
           "--no-settlement", "--report-json", report, "--timeout", str(timeout), "--invalid-share", "0.02",
           "--duplicate-share", "0.01"]
    return cmd + (["--run-id", run_id] if run_id else [])


def loadgen(config, count, rate, report, timeout=180, run_id=None):
    cmd = loadgen_cmd(config, count, rate, report, timeout, run_id)
    p = subprocess.run(cmd, text=True, capture_output=True, env={**os.environ, "TERM": "dumb"})
    data = json.load(open(report)) if os.path.exists(report) else {}
    data["exit_code"] = p.returncode
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-2000:])
    return data


# ---------------------------------------------------------------------------------------
# The history case (--history N): the roles on a state of N payments.

HISTORY_TARGETS = {
    "rss_mib_per_role": 256,
    "rss_ratio_to_compare": 1.10,
    "first_result_s_intact_state_dir": 5,
    "router_kill_to_results_s": 5,
}
# One line per restore a role does when partitions are assigned (kafka/state_store.cpp).
RESTORED = re.compile(r"(\w+): (\d+) stores restored \((\d+) without a local copy\): (\d+) changelog records "
                      r"replayed in ([\d.]+) s")


class Probe:
    """Times `start → first result of a new payment`: one new sale is published to
    payments.requests (keyed and partitioned like every request: murmur2 of its root id)
    and its result awaited on payments.results, which is read from its end as of the probe's
    creation."""

    def __init__(self, cfg):
        from confluent_kafka import Consumer, Producer, TopicPartition
        k = cfg["kafka"]
        self.requests = k["name_prefix"] + k["topics"]["requests"]
        results = k["name_prefix"] + k["topics"]["results"]
        self.c = Consumer({"bootstrap.servers": k["bootstrap_servers"], "group.id": k["name_prefix"] + "bench-probe",
                           "isolation.level": "read_committed", "enable.auto.commit": False,
                           "fetch.wait.max.ms": 10, "log_level": 3})
        parts = sorted(self.c.list_topics(results, timeout=30).topics[results].partitions)
        self.c.assign([TopicPartition(results, p, self.c.get_watermark_offsets(TopicPartition(results, p),
                                                                                timeout=30)[1]) for p in parts])
        self.p = Producer({"bootstrap.servers": k["bootstrap_servers"], "partitioner": "murmur2_random",
                           "enable.idempotence": True, "linger.ms": 0, "log_level": 3})
        self.p.list_topics(self.requests, timeout=30)  # metadata before any clock starts
        self.run = f"probe{int(time.time() * 1000)}"
        self.n = 0

    def send(self):
        self.n += 1
        pid = f"{self.run}-{self.n}"
        req = {"payment_id": pid, "type": "sale", "merchant": {"id": "m-1", "mcc": "5411", "country": "DE"},
               "amount": {"value": 1000 + 100 * self.n, "currency": "EUR"},
               "instrument": {"kind": "card", "pan": "4111111111111111", "expiry": "3012"},
               "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        self.p.produce(self.requests, key=pid, value=json.dumps(req))
        self.p.flush(30)
        return pid

    def wait(self, pid, timeout, switch=None):
        """The time its result arrived (None: none within `timeout` s). Raises when a role of
        `switch` exits meanwhile: then no result comes."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for m in self.c.consume(500, 0.1):
                if not m.error() and m.key() == pid.encode():
                    return time.time()
            if switch:
                switch.check_alive()
        return None

    def close(self):
        self.c.close()


def restores_seen(switch, name):
    """The store restore lines a role logged since its last start."""
    try:
        with open(switch.log_path(name), errors="replace") as f:
            f.seek(switch.log_offset[name])
            return RESTORED.findall(f.read())
    except OSError:
        return []


def await_restores(switch, expected, timeout):
    """Waits until each role in `expected` (name → restore lines: stores × partitions) logged
    them all; per role: seconds from its start until then (to ~0.5 s), records replayed, the
    seconds the restores took, and their kinds (full: no local copy, tail: from a checkpoint)."""
    done = {}
    deadline = time.time() + timeout
    while len(done) < len(expected) and time.time() < deadline:
        for name, n in expected.items():
            lines = restores_seen(switch, name)
            if name not in done and sum(int(x[1]) for x in lines) >= n:
                done[name] = {
                    "seconds_from_start": round(time.time() - switch.started[name], 1),
                    "records": sum(int(x[3]) for x in lines),
                    "restore_seconds": round(sum(float(x[4]) for x in lines), 2),
                    "kinds": sorted({k for x in lines for k, has in (("full", int(x[2]) > 0),
                                                                      ("tail", int(x[2]) < int(x[1]))) if has}),
                }
        if len(done) < len(expected):
            switch.check_alive()
            time.sleep(0.5)
    for name in expected:
        done.setdefault(name, {"incomplete": True, "lines_seen": len(restores_seen(switch, name))})
    return done


def delete_topics(cfg):
    from confluent_kafka.admin import AdminClient
    prefix = cfg["kafka"]["name_prefix"]
    try:
        admin = AdminClient({"bootstrap.servers": cfg["kafka"]["bootstrap_servers"], "log_level": 3})
        names = [t for t in admin.list_topics(timeout=30).topics if t.startswith(prefix)]
        for f in (admin.delete_topics(names, operation_timeout=60).values() if names else []):
            f.result()
    except Exception as e:  # noqa: BLE001
        print(f"bench: could not delete topics {prefix}*: {e}", file=sys.stderr)


def disk_free_gib(path):
    st = os.statvfs(path)
    return round(st.f_bavail * st.f_frsize / 2**30, 1)


def dir_mib(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return round(total / 2**20, 1)


def history_case(base_cfg, outdir, stamp, n, load_seconds, keep):
    """One history size: write it, start every role on an empty state_dir, load, restart on
    the intact state_dir, SIGKILL + restart the router. Returns the figures."""
    tag = f"h{n}"
    cfg = json.loads(json.dumps(base_cfg))
    cfg["kafka"]["name_prefix"] = f"bench{stamp}.{tag}."
    cfg["state_dir"] = os.path.join(outdir, f"state-{tag}")
    cfg["state"]["http_port"] = 0
    cfg["settlement"]["output_dir"] = os.path.join(outdir, f"settlement-{tag}")
    config = os.path.join(outdir, f"turnout-{tag}.yaml")
    yaml.safe_dump(cfg, open(config, "w"), sort_keys=False)
    parts = cfg["kafka"]["partitions"]
    stateful = {"router": parts, "state": parts}  # ledger, state; per partition
    long_wait = 600 + n // 2000  # a full restore of a large history takes minutes on a small machine
    out = {"payments": n, "disk_free_gib_before": disk_free_gib(outdir)}
    if not broker_serves(cfg["kafka"]["bootstrap_servers"]):
        raise RuntimeError(f"no broker serves at {cfg['kafka']['bootstrap_servers']}")

    probe = None
    switch = None
    try:
        run([TURNOUT, "topics", "--config", config])
        print(f"bench: history {n:,}: writing the changelogs ...", flush=True)
        out["write"] = json.loads(run([TURNOUT, "--log-level", "warn", "bench-history", "--config", config,
                                       "--payments", str(n), "--prefix", f"h{stamp}"]).stdout.strip().splitlines()[-1])
        out["disk_free_gib_after_write"] = disk_free_gib(outdir)
        probe = Probe(cfg)

        # 1. Every role on an empty state_dir: each store is rebuilt from its whole changelog.
        print(f"bench: history {n:,}: every role with an empty state_dir (full restore) ...", flush=True)
        switch = Switch(config, outdir, with_state=True, log_level="info", tag=f"{tag}-")
        t0 = min(switch.started.values())
        t = probe.wait(probe.send(), long_wait, switch)
        out["first_result_s_empty_state_dir"] = round(t - t0, 2) if t else None
        out["restore_empty_state_dir"] = await_restores(switch, stateful, long_wait)
        restored_at = time.time() - switch.t0
        out["rss_mib_max_during_full_restore"] = {
            name: round(max([r for t_, r in s if t_ <= restored_at] or [0]) / 1024, 1)
            for name, s in switch.samples.items()}
        time.sleep(1)
        out["rss_mib_after_full_restore"] = switch.rss_mib()
        out["state_dir_mib"] = dir_mib(cfg["state_dir"])
        if not switch.alive():
            raise RuntimeError(f"a role exited; see {outdir}/{tag}-*.log")

        # 2. 2,000 payments/s; resident memory sampled every second.
        print(f"bench: history {n:,}: 2,000 payments/s for {load_seconds} s ...", flush=True)
        since = time.time() - switch.t0
        out["load"] = loadgen(config, 2000 * load_seconds, 2000, os.path.join(outdir, f"{tag}-load.json"),
                              run_id=f"{tag}load")
        until = time.time() - switch.t0
        out["rss_mib_under_load_max"] = {
            name: round(max([r for t_, r in s if since <= t_ <= until] or [0]) / 1024, 1)
            for name, s in switch.samples.items()}
        out["exit_codes_first_run"] = switch.stop()
        switch = None

        # 3. Started again on the intact state_dir: only the changelogs' tails are replayed.
        print(f"bench: history {n:,}: every role again, state_dir intact (tail restore) ...", flush=True)
        switch = Switch(config, outdir, with_state=True, log_level="info", tag=f"{tag}-")
        t0 = min(switch.started.values())
        t = probe.wait(probe.send(), 300, switch)
        out["first_result_s_intact_state_dir"] = round(t - t0, 2) if t else None
        out["restore_intact_state_dir"] = await_restores(switch, stateful, 300)
        time.sleep(1)
        out["rss_mib_after_tail_restore"] = switch.rss_mib()

        # 4. SIGKILL the router under load and start it again at once.
        print(f"bench: history {n:,}: SIGKILL + restart of the router under 500 payments/s ...", flush=True)
        bg_report = os.path.join(outdir, f"{tag}-kill-load.json")
        bg = Process("loadgen", loadgen_cmd(config, 500 * 30, 500, bg_report, run_id=f"{tag}kill"),
                     cwd=None, env={**os.environ, "TERM": "dumb"}).start()
        time.sleep(10)
        t_kill = time.time()
        switch.kill("router")
        switch.start("router")
        t = probe.wait(probe.send(), 300, switch)
        out["router_kill_to_results_s"] = round(t - t_kill, 2) if t else None
        out["restore_router_after_kill"] = await_restores(switch, {"router": 2 * parts}, 120)
        bg.wait(timeout=600)
        out["kill_load"] = json.load(open(bg_report)) if os.path.exists(bg_report) else {}
        out["kill_load"]["exit_code"] = bg.returncode
        out["exit_codes"] = switch.stop()
        switch = None
    except Exception as e:  # noqa: BLE001 - reported with what was measured before it
        out["error"] = f"{type(e).__name__}: {e}"
        if switch:
            out["restores_before_the_error"] = {
                name: [{"stores": int(x[1]), "records": int(x[3]), "seconds": float(x[4])}
                       for x in restores_seen(switch, name)] for name in stateful}
    finally:
        if switch:
            switch.stop()
        if probe:
            probe.close()
        if not keep:
            delete_topics(cfg)
            shutil.rmtree(cfg["state_dir"], ignore_errors=True)
    return out


def history_main(args, base_cfg, outdir, stamp):
    sizes = [args.history]
    if 0 < args.history_compare < args.history:
        sizes.insert(0, args.history_compare)  # the smaller first: its figures are in early
    report = {"time": stamp, "case": "history", "machine": {"cores": os.cpu_count()}, "targets": HISTORY_TARGETS,
              "history": {}}
    path = os.path.join(ROOT, "var", "bench", f"report-{stamp}-history.json")
    for n in sizes:
        try:
            report["history"][str(n)] = history_case(base_cfg, outdir, stamp, n, args.history_load_seconds,
                                                     args.history_keep)
        except Exception as e:  # noqa: BLE001 - the sizes done so far are still reported
            report["history"][str(n)] = {"payments": n, "error": f"{type(e).__name__}: {e}"}
        json.dump(report, open(path, "w"), indent=2)  # what is done so far, should a later size fail
        if "error" in report["history"][str(n)]:
            break
    json.dump(report, open(os.path.join(ROOT, "var", "bench", "latest-history.json"), "w"), indent=2)
    ok = print_history(report, sizes, args.history_compare if len(sizes) > 1 else None)
    print(f"  report: {os.path.relpath(path, ROOT)}")
    return 0 if ok else 1


def print_history(report, sizes, compare_n):
    """The summary of a history report; False when a target was missed or a run failed."""
    print(f"\n== Turnout benchmark, history case {report['time']} ==")
    ok = True

    def row(name, value, target, better="lower", unit=""):
        nonlocal ok
        if value is None:
            ok = False
            print(f"  {name:<62} {'none':>10}   target {'≤' if better == 'lower' else '≥'} {target:>6,}{unit}   MISSED")
            return
        met = value <= target if better == "lower" else value >= target
        ok = ok and met
        print(f"  {name:<62} {value:>10,.2f}   target {'≤' if better == 'lower' else '≥'} {target:>6,}{unit}   "
              f"{'met' if met else 'MISSED'}")

    compare = report["history"].get(str(compare_n)) if compare_n else None
    if compare is not None and "error" in compare:
        compare = None
    for n in sizes:
        h = report["history"].get(str(n))
        w = (h or {}).get("write")
        if w:
            print(f"  history of {n:,} payments: {w['records']:,} changelog records ({w['bytes'] / 2**30:.2f} GiB) "
                  f"written in {w['seconds']:.0f} s ({w['records_per_s']:,.0f} records/s)"
                  + (f"; state_dir {h['state_dir_mib']:,.0f} MiB" if "state_dir_mib" in h else ""))
        if h is None or "error" in h:
            ok = False
            for role, rs in (h or {}).get("restores_before_the_error", {}).items():
                print(f"    before it: {role} restored {sum(r['stores'] for r in rs)} store partitions, {sum(r['records'] for r in rs):,} "
                      f"records in {sum(r['seconds'] for r in rs):.1f} s")
            print(f"  history of {n:,} payments: FAILED: {(h or {}).get('error', 'not run')}")
            continue
        for phase, label in (("restore_empty_state_dir", "full"), ("restore_intact_state_dir", "tail")):
            parts = []
            for role, r in h.get(phase, {}).items():
                if r.get("incomplete"):
                    parts.append(f"{role} incomplete")
                else:
                    parts.append(f"{role} {r['records']:,} records in {r['restore_seconds']:.1f} s "
                                 f"({'/'.join(r['kinds'])}; ready {r['seconds_from_start']:.1f} s after its start)")
            print(f"    {label} restore: {'; '.join(parts)}")
        v = h.get("first_result_s_empty_state_dir")
        print(f"  {'start → first result of a new payment, empty state_dir (s)':<62} "
              f"{'none' if v is None else f'{v:>10,.2f}'}   (reported, no target)")
        row("start → first result of a new payment, intact state_dir (s)", h.get("first_result_s_intact_state_dir"),
            HISTORY_TARGETS["first_result_s_intact_state_dir"])
        row("router SIGKILL + restart → results flowing again (s)", h.get("router_kill_to_results_s"),
            HISTORY_TARGETS["router_kill_to_results_s"])
        kl = h.get("kill_load", {})
        print(f"    500/s across the kill: {kl.get('received', 0):,} answered of {kl.get('expected_results', 0):,}, "
              f"missing {kl.get('missing', 0)}, doubled {kl.get('doubled', 0)}, "
              f"max latency {kl.get('latency_ms', {}).get('max', 0):,.0f} ms")
        ld = h.get("load", {})
        lat = ld.get("latency_ms", {})
        print(f"    2,000/s offered: {ld.get('throughput', 0):,.0f}/s done, p50 {lat.get('p50', 0):.1f} ms, "
              f"p99 {lat.get('p99', 0):.1f} ms, every payment answered once: {'yes' if ld.get('ok') else 'NO'}")
        if not ld.get("ok") or not kl.get("ok"):
            ok = False
        print(f"    resident memory per role, MiB: after full restore / max under 2,000/s / after tail restore"
              f" [max during the full restore, no target]")
        for role in h.get("rss_mib_under_load_max", {}):
            vals = [h.get(k, {}).get(role) for k in ("rss_mib_after_full_restore", "rss_mib_under_load_max",
                                                     "rss_mib_after_tail_restore")]
            peak = max(x for x in vals if x is not None)
            during = h.get("rss_mib_max_during_full_restore", {}).get(role)
            row(f"  {role:<20} {' / '.join('-' if x is None else f'{x:.1f}' for x in vals)}"
                f"{'' if during is None else f' [{during:.1f}]'}", peak, HISTORY_TARGETS["rss_mib_per_role"], unit=" MiB")
            if compare is not None and compare is not h:
                cvals = [compare.get(k, {}).get(role) for k in ("rss_mib_after_full_restore", "rss_mib_under_load_max",
                                                                "rss_mib_after_tail_restore")]
                cpeak = max(x for x in cvals if x is not None)
                row(f"  {role:<20} peak vs {compare_n:,} history ({cpeak:.1f} MiB), ratio",
                    round(peak / cpeak, 3) if cpeak else None, HISTORY_TARGETS["rss_ratio_to_compare"])
        codes = {**h.get("exit_codes_first_run", {}), **h.get("exit_codes", {})}
        if any(c != 0 for c in codes.values()):
            ok = False
        print(f"    roles exited: first run {h.get('exit_codes_first_run')}, last run {h.get('exit_codes')}")
    return ok


# ---------------------------------------------------------------------------------------
# The gateway case: POST /v1/payments over keep-alive HTTP (scripts/gateway_load.py).

GATEWAY_MERCHANT = "m-bench"


def gateway_config(cfg, outdir):
    """Adds the gateway to a bench configuration: a free port, one generated API key of
    GATEWAY_MERCHANT, no per-merchant rate limit to speak of. Returns the key."""
    import hashlib
    import secrets
    key = "tk_" + secrets.token_urlsafe(24)
    keys_file = os.path.join(outdir, "gateway-keys.txt")
    with open(keys_file, "w") as f:
        f.write(f"{GATEWAY_MERCHANT} {hashlib.sha256(key.encode()).hexdigest()}\n")
    port = free_port()
    cfg["gateway"] = {**(cfg.get("gateway") or {}), "enabled": False, "address": "127.0.0.1", "port": port,
                      "api_keys_file": keys_file, "rate_per_second": 1000000, "burst": 1000000,
                      "max_connections": 4096, "openapi_file": os.path.join(ROOT, "docs", "openapi.yaml")}
    return key


def gateway_case(config, cfg, key, outdir, smoke, stamp):
    """Starts `turnout gateway` next to the running roles and measures POST /v1/payments:
    results/s at saturation (closed loop, keep-alive connections) and latency at 1,000/s."""
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import gateway_load
    port = cfg["gateway"]["port"]
    gw = Process("turnout gateway", [TURNOUT, "--log-level", "warn", "gateway", "--config", config,
                                     "--metrics-port", "0"], os.path.join(outdir, "gateway.log"), cwd=None).start()
    out = {}
    try:
        try:
            gw.wait_port(port, timeout=60)
        except NotReady:
            if gw.poll() is not None:
                raise RuntimeError(f"turnout gateway exited {gw.returncode} at start; see {outdir}/gateway.log")
            raise RuntimeError("turnout gateway does not listen after 60 s")
        count, conns = (1000, 32) if smoke else (30000, 128)
        out["saturation"] = gateway_load.run_saturation("127.0.0.1", port, key, GATEWAY_MERCHANT, count, conns,
                                                        f"gw{stamp}-sat")
        out["saturation"]["connections"] = conns
        secs = 2 if smoke else 20
        out["fixed_1000"] = gateway_load.run_fixed_rate("127.0.0.1", port, key, GATEWAY_MERCHANT, 1000, secs, 64,
                                                        f"gw{stamp}-r1000")
        out["fixed_1000"]["connections"] = 64
    finally:
        out["exit_code"] = gw.stop(30)
    # Every request answered with a result (200) or pending (202), nothing else.
    out["ok"] = all(set(r["statuses"]) <= {"200", "202"} and r["requests"] == n and not r["connection_errors"]
                    for r, n in ((out["saturation"], count), (out["fixed_1000"], 1000 * secs)))
    return out


def print_gateway(g):
    sat, fixed = g["saturation"], g["fixed_1000"]
    lat = fixed["latency_ms"]
    print(f"  (f) gateway POST /v1/payments, saturation    {sat['results_per_s']:>14,.0f} payments/s "
          f"({sat['connections']} keep-alive connections; answers {sat['statuses']})")
    print(f"  (f) gateway at 1,000/s offered: {fixed['results_per_s']:>8,.0f}/s done   p50 {lat['p50']:>7.1f} ms  "
          f"p95 {lat['p95']:>7.1f} ms  p99 {lat['p99']:>7.1f} ms  (answers {fixed['statuses']})")


def gateway_main(cfg, outdir, stamp, smoke):
    """--gateway-only: topics, the roles, the gateway case, clean-up."""
    cfg["state_dir"] = os.path.join(outdir, "state")
    key = gateway_config(cfg, outdir)
    config = os.path.join(outdir, "turnout.yaml")
    yaml.safe_dump(cfg, open(config, "w"), sort_keys=False)
    run([TURNOUT, "topics", "--config", config])
    switch = None
    try:
        switch = Switch(config, outdir)
        time.sleep(5)  # every role joins its group
        switch.check_alive()
        print("bench: (f) the gateway: POST /v1/payments at saturation, then 1,000/s ...", flush=True)
        report = {"time": stamp, "smoke": smoke, "gateway": gateway_case(config, cfg, key, outdir, smoke, stamp)}
        report["role_exit_codes"] = switch.stop()
        switch = None
    finally:
        if switch:
            switch.stop()
        delete_topics(cfg)
    path = os.path.join(ROOT, "var", "bench", f"report-{stamp}-gateway.json")
    json.dump(report, open(path, "w"), indent=2)
    print(f"\n== Turnout benchmark, gateway only {'(smoke) ' if smoke else ''}{stamp} ==")
    print_gateway(report["gateway"])
    print(f"  roles exited: {report['role_exit_codes']}; gateway exited {report['gateway']['exit_code']}")
    print(f"  report: {os.path.relpath(path, ROOT)}")
    ok = report["gateway"]["ok"] and report["gateway"]["exit_code"] == 0 and \
        all(c == 0 for c in report["role_exit_codes"].values())
    return 0 if ok else 1


def interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    ap = argparse.ArgumentParser(description="Turnout benchmark")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--soak-minutes", type=float, default=10)
    ap.add_argument("--payments", type=int, default=200000)
    ap.add_argument("--history", type=int, default=0,
                    help="run only the history case with a history of N payments (0: the normal run)")
    ap.add_argument("--history-compare", type=int, default=1000000,
                    help="also run it with this smaller history and compare memory (0: no comparison)")
    ap.add_argument("--history-load-seconds", type=int, default=30)
    ap.add_argument("--history-keep", action="store_true",
                    help="keep the history's topics and state_dir (deleted by default)")
    ap.add_argument("--gateway-only", action="store_true",
                    help="run only the gateway case (f): POST /v1/payments at saturation and at 1,000/s")
    args = ap.parse_args()
    # SIGTERM (and SIGINT, also when started in the background) stop the run through its
    # clean-up: the roles started here are stopped, the history's topics deleted.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, interrupted)
    if args.history and args.smoke:
        ap.error("--history and --smoke do not go together")
    if args.history and args.gateway_only:
        ap.error("--history and --gateway-only do not go together")
    smoke = args.smoke
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    outdir = os.path.join(ROOT, "var", "bench", stamp)
    os.makedirs(outdir, exist_ok=True)

    bootstrap = os.environ.get("TURNOUT_BOOTSTRAP", "127.0.0.1:" + os.environ.get("TURNOUT_KAFKA_PORT", "9092"))
    os.environ["TURNOUT_BOOTSTRAP"] = bootstrap
    # A broker already serving at the bootstrap address (whoever started it) is used and left
    # running; only a broker started here is stopped at the end.
    started_broker = not broker_serves(bootstrap) and subprocess.run(
        [os.path.join(ROOT, "scripts", "kafka-local"), "status"], capture_output=True).returncode != 0
    if started_broker:
        run([os.path.join(ROOT, "scripts", "kafka-local"), "start"])

    cfg = yaml.safe_load(open(os.path.join(ROOT, "config", "turnout.yaml")))
    cfg["kafka"]["name_prefix"] = f"bench{stamp}."
    cfg["kafka"]["bootstrap_servers"] = bootstrap
    cfg["settlement"]["output_dir"] = os.path.join(outdir, "settlement")
    cfg["security"]["keys_file"] = os.path.join(ROOT, "config", "dev-keys.yaml")
    cfg["metrics"]["port"] = 0
    if args.history or args.gateway_only:
        # The history and gateway-only cases measure the stores and the gateway: channels in
        # process, no host simulators.
        cfg = as_simulator_channels(cfg)
    if args.history:
        try:
            return history_main(args, cfg, outdir, stamp)
        finally:
            if started_broker:
                subprocess.run([os.path.join(ROOT, "scripts", "kafka-local"), "stop"], capture_output=True)
    if args.gateway_only:
        try:
            return gateway_main(cfg, outdir, stamp, smoke)
        finally:
            if started_broker:
                subprocess.run([os.path.join(ROOT, "scripts", "kafka-local"), "stop"], capture_output=True)
    cfg = with_channel_hosts(cfg, outdir)
    cfg["state_dir"] = os.path.join(outdir, "state")
    cfg["state"]["http_port"] = 0
    gateway_key = gateway_config(cfg, outdir)
    config = os.path.join(outdir, "turnout.yaml")
    yaml.safe_dump(cfg, open(config, "w"), sort_keys=False)
    # The same for `turnout all`, on topics, groups and a state_dir of its own.
    cfg_all = json.loads(json.dumps(cfg))
    cfg_all["kafka"]["name_prefix"] = f"bench{stamp}.all."
    cfg_all["state_dir"] = os.path.join(outdir, "state-all")
    config_all = os.path.join(outdir, "turnout-all.yaml")
    yaml.safe_dump(cfg_all, open(config_all, "w"), sort_keys=False)
    run([TURNOUT, "topics", "--config", config])

    report = {"time": stamp, "smoke": smoke, "machine": {"cores": os.cpu_count()}, "targets": TARGETS}
    n_pipe = 20000 if smoke else args.payments
    switch = None
    sims_up = False
    try:
        # (a) the Kafka limit: same record size, same hops, same runtime, with/without transactions
        print("bench: (a) plain Kafka pipe, 3 hops ...", flush=True)
        for tx in (True, False):
            cmd = [TURNOUT, "bench-pipe", "--config", config, "--count", str(n_pipe), "--hops", "3", "--bytes", "700"]
            if not tx:
                cmd.append("--no-transactions")
            out = run(cmd).stdout.strip().splitlines()[-1]
            report["pipe_transactional" if tx else "pipe_plain"] = json.loads(out)

        sims("start", config, outdir)
        sims_up = True
        switch = Switch(config, outdir, with_state=True)
        time.sleep(5)  # every role joins its group
        switch.check_alive()

        # (b) end to end at saturation, with what each payment costs
        print("bench: (b) end to end at saturation, a process per role ...", flush=True)
        n_sat = 20000 if smoke else args.payments
        report["saturation"] = costed_loadgen(config, cfg, switch, n_sat, os.path.join(outdir, "saturation.json"))
        sat = report["saturation"].get("throughput", 0)
        soak_start = None

        # (c) latency at fixed offered loads
        secs = 2 if smoke else 20
        report["fixed_load"] = latency_profile(config, switch, sat, secs, outdir, "roles")

        # (f) the same switch through the HTTP gateway
        print("bench: (f) the gateway: POST /v1/payments at saturation, then 1,000/s ...", flush=True)
        report["gateway"] = gateway_case(config, cfg, gateway_key, outdir, smoke, stamp)

        # (e) memory over a constant-load soak
        soak_minutes = 0 if smoke else args.soak_minutes
        if soak_minutes > 0:
            # Half the measured saturation: a constant load the switch keeps up with, so the
            # memory figure is the switch's own, not a backlog's.
            rate = max(100, round(sat * 0.5))
            print(f"bench: (e) memory soak, {rate} payments/s for {soak_minutes} min ...", flush=True)
            soak_start = max((s[-1][0] for s in switch.samples.values() if s), default=0)
            report["soak"] = loadgen(config, int(rate * 60 * soak_minutes), rate, os.path.join(outdir, "soak.json"),
                                     timeout=300)
        report["memory"] = memory_summary(switch.samples, since=soak_start or 0)
        report["memory_note"] = ("over the soak" if soak_start is not None else "over the whole run")
        report["role_exit_codes"] = switch.stop()
        switch = None

        # (g) every role in one process: saturation and the same latency profile
        print("bench: (g) turnout all: saturation ...", flush=True)
        run([TURNOUT, "topics", "--config", config_all])
        switch = Switch(config_all, outdir, with_state=True, tag="all-", all_in_one=True)
        time.sleep(5)
        switch.check_alive()
        report["all_saturation"] = costed_loadgen(config_all, cfg_all, switch, n_sat,
                                                  os.path.join(outdir, "all-saturation.json"), topics=False)
        report["all_fixed_load"] = latency_profile(config_all, switch, report["all_saturation"].get("throughput", 0),
                                                   secs, outdir, "all")
        report["role_exit_codes"]["all"] = switch.stop()["all"]
        switch = None

        # (d) the decision path in process
        print("bench: (d) in-process decode → validate → route → score → encode ...", flush=True)
        report["inproc"] = json.loads(run([MICRO, "1" if smoke else "10"]).stdout.strip().splitlines()[-1])
    finally:
        if switch:
            switch.stop()
        if sims_up:
            sims("stop", config, outdir)
        # The run's topics are of no use afterwards; left behind, every run adds a hundred
        # partitions (and their open files) to the broker.
        delete_topics(cfg)  # bench<stamp>.* : `turnout all`'s topics too
        if started_broker:
            subprocess.run([os.path.join(ROOT, "scripts", "kafka-local"), "stop"], capture_output=True)

    sat = report["saturation"].get("throughput", 0)
    pipe = report["pipe_transactional"]["records_per_s"]

    def p99(runs, label):
        return runs.get(label, {}).get("latency_ms", {}).get("p99", 0)

    kafka_total = report["saturation"].get("kafka", {}).get("total", {})
    figures = {
        "end_to_end_payments_per_s": sat,
        "ratio_turnout_to_pipe": sat / pipe if pipe else 0,
        "inproc_records_per_s_per_core": report["inproc"]["records_per_s_per_core"],
        "cpu_us_per_payment_switch": report["saturation"].get("cpu_us_per_payment_switch", 0),
        "cpu_us_per_payment_broker": report["saturation"].get("cpu_us_per_payment_broker") or 0,
        "records_per_payment": kafka_total.get("switch_topics_records_per_payment", 0),
        "p99_ms_at_100": max(p99(report["fixed_load"], "100"), p99(report["all_fixed_load"], "100")),
        "p99_ms_at_1000": max(p99(report["fixed_load"], "1000"), p99(report["all_fixed_load"], "1000")),
        "p99_ms_at_half_saturation": max(p99(report["fixed_load"], "50%"), p99(report["all_fixed_load"], "50%")),
    }
    report["figures"] = figures
    runs = [report["saturation"], report["all_saturation"], *report["fixed_load"].values(),
            *report["all_fixed_load"].values(), report["gateway"]] + ([report["soak"]] if "soak" in report else [])
    ok_runs = all(r.get("ok") for r in runs)
    report["all_payments_answered"] = ok_runs
    path = os.path.join(ROOT, "var", "bench", f"report-{stamp}.json")
    json.dump(report, open(path, "w"), indent=2)
    json.dump(report, open(os.path.join(ROOT, "var", "bench", "latest.json"), "w"), indent=2)
    picture = write_picture(report, path)

    def row(name, value, target, better):
        met = value >= target if better == "higher" else value <= target
        shown = f"{value:>14,.3f}" if abs(value) < 1 else f"{value:>14,.1f}"  # a ratio: 0.044, not 0.0
        print(f"  {name:<46} {shown}   target {'≥' if better == 'higher' else '≤'} {target:>10,}   "
              f"{'met' if met else 'MISSED'}")

    print(f"\n== Turnout benchmark {'(smoke) ' if smoke else ''}{stamp} ==")
    print(f"  (a) Kafka pipe, 3 hops, transactions on      {pipe:>14,.0f} records/s")
    print(f"  (a) Kafka pipe, 3 hops, transactions off     {report['pipe_plain']['records_per_s']:>14,.0f} records/s")
    print("  (b) every role its own process, channel host simulators over sockets, the main job's mix")
    row("(b) Turnout end to end, saturation (payments/s)", sat, TARGETS["end_to_end_payments_per_s"], "higher")
    row("    (b)/(a) with transactions", figures["ratio_turnout_to_pipe"], TARGETS["ratio_turnout_to_pipe"], "higher")
    print_cost(report["saturation"])
    row("    CPU per payment, switch roles together (µs)", figures["cpu_us_per_payment_switch"],
        TARGETS["cpu_us_per_payment_switch"], "lower")
    row("    CPU per payment, broker JVM (µs)", figures["cpu_us_per_payment_broker"],
        TARGETS["cpu_us_per_payment_broker"], "lower")
    row("    Kafka records per payment (switch topics)", figures["records_per_payment"],
        TARGETS["records_per_payment"], "lower")
    print_latency("(c) a process per role", report["fixed_load"])
    a_sat = report["all_saturation"]
    print(f"  (g) turnout all, saturation                  {a_sat.get('throughput', 0):>14,.0f} payments/s   "
          f"CPU {a_sat.get('cpu', {}).get('all', {}).get('us_per_payment', 0):,.1f} µs per payment (broker "
          f"{a_sat.get('cpu_us_per_payment_broker') or 0:,.1f} µs)")
    print_latency("(g) turnout all", report["all_fixed_load"])
    row("    p99 at 100/s, worse layout (ms)", figures["p99_ms_at_100"], TARGETS["p99_ms_at_100"], "lower")
    row("    p99 at 1,000/s, worse layout (ms)", figures["p99_ms_at_1000"], TARGETS["p99_ms_at_1000"], "lower")
    row("    p99 at 50 % of saturation, worse layout (ms)", figures["p99_ms_at_half_saturation"],
        TARGETS["p99_ms_at_half_saturation"], "lower")
    print_gateway(report["gateway"])
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
    print(f"  picture: {os.path.relpath(picture, ROOT)}")
    bad_exit = any(c != 0 for c in report["role_exit_codes"].values()) or report["gateway"]["exit_code"] != 0
    return 0 if ok_runs and not bad_exit else 1


def print_cost(r):
    """The cost table of a costed saturation run."""
    n = r.get("payments_answered", 0)
    print(f"      cost per payment answered ({n:,} answered; CPU = utime + stime from /proc):")
    for name, c in sorted(r.get("cpu", {}).items(), key=lambda kv: -kv[1]["us_per_payment"]):
        print(f"        CPU {name:<28} {c['us_per_payment']:>9,.1f} µs   ({c['cpu_seconds']:,.1f} s)")
    k = r.get("kafka")
    if k:
        print(f"        {'Kafka topic':<32} {'records':>9} {'markers':>9} {'bytes':>9}   per payment")
        for name, t in k["topics"].items():
            print(f"        {name:<32} {t['records_per_payment']:>9.3f} {t['markers_per_payment']:>9.3f} "
                  f"{t['bytes_per_payment']:>9,.0f}")
        tot = k["total"]
        print(f"        {'all topics':<32} {tot['records_per_payment']:>9.3f} {tot['markers_per_payment']:>9.3f} "
              f"{tot['bytes_per_payment']:>9,.0f}")
        if k.get("incomplete"):
            print(f"        (not read to their end: {', '.join(k['incomplete'])})")


def print_latency(title, runs):
    for label, r in runs.items():
        lat = r.get("latency_ms", {})
        print(f"  {title}, {r.get('offered_per_s', 0):>6,}/s offered ({label:>4}): {r.get('throughput', 0):>7,.0f}/s done"
              f"   p50 {lat.get('p50', 0):>7.1f} ms  p95 {lat.get('p95', 0):>7.1f} ms  p99 {lat.get('p99', 0):>7.1f} ms"
              f"{'' if r.get('ok') else '   NOT every payment answered once'}")
        hops = r.get("hops_ms", {})
        if hops:
            parts = [f"{kind} " + ", ".join(f"{k} {v:.1f}" for k, v in vals.items())
                     for kind, vals in hops.items()]
            print(f"        mean ms: {'; '.join(parts)}")


def write_picture(report, path):
    """The report's picture next to it (report-<time>.svg) and as var/bench/latest.svg."""
    import bench_picture

    def points(runs):
        return [(r.get("offered_per_s", 0), r.get("latency_ms", {})) for r in runs.values()]

    cpu = {name: c["us_per_payment"] for name, c in report["saturation"].get("cpu", {}).items()}
    svg = bench_picture.svg(
        f"Turnout benchmark {report['time']}{' (smoke)' if report['smoke'] else ''}: "
        f"{report['saturation'].get('throughput', 0):,.0f} payments/s at saturation, {os.cpu_count()} cores",
        {"roles": points(report["fixed_load"]), "all": points(report["all_fixed_load"])}, cpu,
        footer="every role its own process (solid) and turnout all (dashed); channel host simulators over sockets; "
               "scripts/bench")
    out = path[:-len(".json")] + ".svg"
    for p in (out, os.path.join(ROOT, "var", "bench", "latest.svg")):
        with open(p, "w") as f:
            f.write(svg)
    return out

if __name__ == "__main__":
    sys.exit(main())
