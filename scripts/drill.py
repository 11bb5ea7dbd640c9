"""scripts/dr drill: lose the primary site under load and take over at DR, measured.

usage: scripts/dr drill [--payments N] [--rate R] [--small] [--seed S] [--lag SECONDS] [--keep]

 1. A primary cluster (127.0.0.1:9392, data in var/drill/<run>/kafka-primary) and a DR
    cluster (127.0.0.1:9294) started for the run, the run's topics on both (a fresh
    kafka.name_prefix), the channel host simulators (turnout-sim: two ISO 8583 acquirers and
    a PSP, on their own ports, with ledgers), and MirrorMaker 2 primary -> DR (scripts/dr
    start). The two sites' configs differ only in bootstrap servers and local directories.
 2. The switch (`turnout all`) at the primary, and `turnout loadgen` sending N payments at
    R/s to it, while the drill reads the primary's results as a client would (acknowledged
    payments).
 3. At a random moment of the load (30-70 % of it, from --seed): SIGKILL of the primary's
    broker and switch (the whole site; the load generator's link goes with it). With --lag,
    MirrorMaker is paused (SIGSTOP) that many seconds before: replication is that far behind
    when the site is lost.
 4. Failover: scripts/dr failover (MirrorMaker stopped, `turnout dr-takeover` at DR, with the
    primary's clearing folder as its delivered files), then the switch at DR and the rest of
    the load against DR.
 5. Once the load is answered and every settlement batch is closed, prints and writes
    var/drill/<run>/summary.json:
    - RPO: payments acknowledged at the primary whose result did not reach DR, and how long
      before the kill the oldest of them was acknowledged (all older ones reached DR);
    - RTO: seconds from the kill to the first result written at DR (and to the first result
      of a new payment);
    - double executions: payments executed more than once at the channels (the simulators'
      ledgers: ISO approvals not reversed, PSP approvals), and payments with more than one
      final result at DR;
    - unresolved: payments DR holds a request of with no final result, or with an unknown
      outcome;
    - settlement difference: the net of every settlement batch at DR against the net of
      the approved results at DR, per currency.
    Then both sites are backed up (scripts/dr backup) and the restore check runs against
    DR (scripts/dr restore-check). Then the failback: the primary's broker restarted on its
    old data, `scripts/dr failback prepare` (its topics made afresh, MirrorMaker DR ->
    primary), `scripts/dr failback complete` (caught up, dr-takeover at the primary), the
    switch at the primary again with 5 % more load, and the same checks at the primary. Exit 0 when there are no double executions, nothing
    unresolved, no settlement difference and the restore check passes; 1 otherwise; 2 when
    the drill could not run.

--small is the CI size: 3,000 payments at 300/s. The default is 100,000 at 1,000/s.
Everything started is stopped at the end; the run's data is removed after a passing run
unless --keep.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "kafka"))
import records  # noqa: E402  scripts/kafka/records.py
from supervise import Process, read_pid  # noqa: E402

PRIMARY_PORT, DR_PORT = 9392, 9294
SIM_PORTS = {"acq-eu": 9711, "acq-us": 9712, "psp-global": 9713}
WEBHOOK_PORT = 9714
MIRROR_METRICS_PORT = 9469


class Failed(Exception):
    pass


T0 = time.monotonic()


def say(msg):
    print(f"drill: [{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def rrn_for(payment_id):
    """The RRN (field 37) the iso8583 connector gives a payment (iso8583/mapping.cpp)."""
    h = 1469598103934665603
    for b in payment_id.encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = []
    for _ in range(12):
        out.append(alphabet[h % 36])
        h //= 36
    return "".join(reversed(out))


def read_topic(bootstrap, topic):
    """Every committed record of `topic`: [(value, timestamp_ms)]."""
    try:
        return records.read_topic(bootstrap, topic, "turnout-drill-check", timeout=60)
    except records.ReadFailed as e:
        raise Failed(str(e))


class Observer(threading.Thread):
    """Reads the primary's results as the client does: what it acknowledged, and when."""

    def __init__(self, bootstrap, topic):
        super().__init__(daemon=True)
        self.bootstrap, self.topic = bootstrap, topic
        self.acked = {}  # payment_id -> (status, record timestamp)
        self.stopping = threading.Event()
        self.ready = threading.Event()  # reading every partition from its start

    def run(self):
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "turnout-drill-client",
                      "isolation.level": "read_committed", "enable.auto.commit": False,
                      "auto.offset.reset": "earliest", "log_level": 0})
        # Assigned, not subscribed: no group join to wait for on a fresh cluster.
        md = c.list_topics(self.topic, timeout=60)
        c.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in sorted(md.topics[self.topic].partitions)])
        self.ready.set()
        while not self.stopping.is_set():
            for m in c.consume(1000, 0.2):
                if m.error() or m.value() is None:
                    continue
                try:
                    r = json.loads(m.value())
                except ValueError:
                    continue
                if (r.get("reason") or {}).get("code") in ("duplicate_request", "key_mismatch"):
                    continue
                self.acked.setdefault(r.get("payment_id"), (r.get("status"), m.timestamp()[1]))
        c.close()


class Drill:
    def __init__(self, a):
        self.a = a
        self.id = f"drill{int(time.time())}"
        self.dir = os.path.join(ROOT, "var", "drill", self.id)
        os.makedirs(self.dir)
        self.binary = os.path.join(self.dir, "turnout")
        shutil.copy2(os.path.join(ROOT, "build", "turnout"), self.binary)
        env = {k: v for k, v in os.environ.items() if k != "TURNOUT_BOOTSTRAP"}  # the configs name the clusters
        self.env = dict(env, TURNOUT_KAFKA_PORT=str(PRIMARY_PORT),
                        TURNOUT_KAFKA_CONTROLLER_PORT=str(PRIMARY_PORT + 1000),
                        TURNOUT_KAFKA_DIR=os.path.join(self.dir, "kafka-primary"),
                        TURNOUT_DR_KAFKA_PORT=str(DR_PORT), TURNOUT_DR_KAFKA_DIR=os.path.join(self.dir, "kafka-dr"),
                        TURNOUT_DR_DIR=os.path.join(self.dir, "mirror"),
                        TURNOUT_DR_MIRROR_METRICS_PORT=str(MIRROR_METRICS_PORT),
                        TURNOUT_SIM_DIR=os.path.join(self.dir, "sims"), TURNOUT_BIN=self.binary)
        self.procs = []
        self.primary_cfg = self.write_config("primary", f"127.0.0.1:{PRIMARY_PORT}")
        self.dr_cfg = self.write_config("dr", f"127.0.0.1:{DR_PORT}")
        self.topic = lambda name: self.cfg["kafka"]["name_prefix"] + self.cfg["kafka"]["topics"][name]

    def write_config(self, site, bootstrap):
        with open(os.path.join(ROOT, "config", "turnout.yaml"), encoding="utf-8") as f:
            cfg = yaml.safe_load(f)
        k = cfg["kafka"]
        k["bootstrap_servers"] = bootstrap
        k["name_prefix"] = self.id + "."
        local = os.path.join(self.dir, site)
        cfg["state_dir"] = os.path.join(local, "state")
        cfg["security"]["seal_count_dir"] = os.path.join(local, "seals")
        s = cfg["settlement"]
        s.update(window_seconds=5, grace_seconds=2, output_dir=os.path.join(local, "settlement"))
        os.makedirs(s["output_dir"], exist_ok=True)  # the primary's stands for finance's inbox: there before any file
        cfg.setdefault("metrics", {})["port"] = 0
        cfg["state"]["http_port"] = 0
        cfg.setdefault("gateway", {})["enabled"] = False
        for ch in cfg["channels"]:
            port = SIM_PORTS[ch["id"]]
            ch["endpoint"] = (f"https://127.0.0.1:{port}" if ch["kind"] == "http_json" else f"127.0.0.1:{port}")
            if ch["kind"] == "iso8583":
                ch["journal_dir"] = os.path.join(local, "iso8583")
            if ch["kind"] == "http_json":
                ch["webhook"]["listen"] = f"127.0.0.1:{WEBHOOK_PORT}"
                # At the primary's loss a payment the PSP holds as pending is settled by DR's
                # status queries; short, so the drill ends in minutes.
                ch["pending"] = {"query_after_seconds": 2, "query_every_seconds": 2, "give_up_after_seconds": 20}
        self.cfg = cfg
        path = os.path.join(self.dir, f"{site}.yaml")
        with open(path, "w", encoding="utf-8") as f:
            yaml.safe_dump(cfg, f, sort_keys=False)
        return path

    def script(self, *argv, check=True):
        res = subprocess.run([os.path.join(ROOT, "scripts", argv[0]), *argv[1:]], env=self.env, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if check and res.returncode:
            raise Failed(f"scripts/{' '.join(argv)} failed ({res.returncode}):\n{res.stdout[-3000:]}")
        return res

    def turnout(self, *argv):
        res = subprocess.run([self.binary, *argv], env=self.env, cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=600)
        if res.returncode:
            raise Failed(f"turnout {' '.join(argv)} failed ({res.returncode}):\n{res.stdout[-3000:]}")
        return res.stdout

    def start(self, name, argv):
        p = Process(name, argv, os.path.join(self.dir, name + ".log"), env=self.env, detach=True).start()
        self.procs.append(p)
        return p

    def setup(self):
        say(f"run {self.id} (seed {self.a.seed}): primary cluster 127.0.0.1:{PRIMARY_PORT}, DR cluster 127.0.0.1:{DR_PORT}")
        self.script("kafka-local", "start")
        self.turnout("topics", "--config", self.primary_cfg)
        self.script("sims", "start", "--config", self.primary_cfg)
        say("simulators up (ISO 8583 acq-eu, acq-us; PSP psp-global), ledgers in " +
            os.path.relpath(os.path.join(self.dir, "sims"), ROOT))
        self.script("dr", "start", "--config", self.primary_cfg)
        say("DR cluster up, MirrorMaker 2 replicating primary -> DR")

    def run(self):
        a = self.a
        self.setup()
        self.primary = self.start("switch-primary", [self.binary, "all", "--config", self.primary_cfg,
                                                     "--instance", "p", "--metrics-port", "0"])
        observer = Observer(f"127.0.0.1:{PRIMARY_PORT}", self.topic("results"))
        observer.start()
        if not observer.ready.wait(90):
            raise Failed("could not read the primary's results topic within 90 s")
        send_s = a.payments / a.rate
        lg1 = self.start("loadgen-primary", [self.binary, "loadgen", "--config", self.primary_cfg, "--count",
                                             str(a.payments), "--rate", str(a.rate), "--run-id", self.id + "-a",
                                             "--seed", str(a.seed), "--duplicate-share", "0.01", "--no-settlement",
                                             "--timeout", "600"])
        # The site dies at a random moment of the load once the primary answers (its first
        # result: the stages have joined their groups).
        t = time.monotonic()
        while not observer.acked and time.monotonic() - t < 120 and lg1.running():
            time.sleep(0.05)
        if not observer.acked:
            raise Failed("the primary answered no payment within 120 s; see " +
                         os.path.relpath(os.path.join(self.dir, "switch-primary.log"), ROOT))
        warm = time.monotonic() - t
        kill_after = warm + (send_s - warm) * random.Random(a.seed).uniform(0.3, 0.7)
        say(f"load: {a.payments} payments at {a.rate:g}/s to the primary (first result after {warm:.1f} s); "
            f"the site dies {kill_after:.1f} s into the load")
        mirror = None
        if a.lag > 0:  # replication stalls for the last --lag seconds before the kill
            time.sleep(max(0.0, kill_after - warm - a.lag))
            mirror = read_pid(os.path.join(self.dir, "mirror", "mirror.pid"), "MirrorMaker")
            if not mirror:
                raise Failed("MirrorMaker 2 is not running")
            os.kill(mirror, signal.SIGSTOP)
            say(f"replication paused (MirrorMaker pid {mirror} stopped) {a.lag:g} s before the kill")
            time.sleep(a.lag)
        else:
            time.sleep(max(0.0, kill_after - warm))

        # The whole primary site at once: its broker and its switch (and the client's link).
        broker = read_pid(os.path.join(self.dir, "kafka-primary", "broker.pid"), "kafka.Kafka")
        kill_ms = int(time.time() * 1000)
        for pid in [broker, self.primary.pid, lg1.pid]:
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if mirror:
            os.kill(mirror, signal.SIGCONT)  # to be stopped by the failover; the primary is gone
        observer.stopping.set()
        say(f"primary site killed (broker pid {broker}, switch pid {self.primary.pid}); "
            f"{len(observer.acked)} payments acknowledged by the primary")
        sent_before = int(kill_after * a.rate)

        # Failover.
        t = time.monotonic()
        # The primary's clearing folder stands for finance's inbox, where its files were delivered.
        res = self.script("dr", "failover", "--config", self.dr_cfg, "--clearing-from",
                          os.path.join(self.dir, "primary", "settlement"))
        failover_s = time.monotonic() - t
        print(res.stdout.rstrip(), flush=True)
        self.dr = self.start("switch-dr", [self.binary, "all", "--config", self.dr_cfg, "--instance", "d",
                                           "--metrics-port", "0"])
        rest = max(a.payments - sent_before, 1)
        report = os.path.join(self.dir, "loadgen-dr.json")
        say(f"the switch at DR; the rest of the load ({rest} payments) against DR")
        lg2 = self.start("loadgen-dr", [self.binary, "loadgen", "--config", self.dr_cfg, "--count", str(rest),
                                        "--rate", str(a.rate), "--run-id", self.id + "-b", "--seed",
                                        str(a.seed + 1), "--duplicate-share", "0.01", "--no-settlement",
                                        "--timeout", "120", "--report-json", report])
        lg2.wait(timeout=rest / a.rate + 900)
        say(f"load at DR done (exit {lg2.returncode})")
        # Pending payments are settled by status query; every batch closes (window 5 s + grace 2 s).
        time.sleep(25)
        self.dr.stop(timeout=60)
        self.script("sims", "stop", "--config", self.primary_cfg)
        summary = self.measure(observer, kill_ms, failover_s, f"127.0.0.1:{DR_PORT}")
        summary["loadgen_dr_exit"] = lg2.returncode
        # Backups of both sites (the primary's clearing files as its last backup would hold
        # them) and the restore check against DR's settlement.batches.
        backups = os.path.join(self.dir, "backup")
        self.script("dr", "backup", "--config", self.primary_cfg, "--site", "primary", backups)
        self.script("dr", "backup", "--config", self.dr_cfg, "--site", "dr", backups)
        res = self.script("dr", "restore-check", "--config", self.dr_cfg, backups, check=False)
        print(res.stdout.rstrip(), flush=True)
        summary["restore_check"] = {"exit": res.returncode, "report": res.stdout.strip().splitlines()[-1:]}
        summary["failback"] = self.failback()
        return summary

    def failback(self):
        """The primary's cluster back on its old data; failback to it; more load there; the
        same checks at the primary."""
        a = self.a
        say("failback: the primary's broker restarted on its data")
        self.script("kafka-local", "start")
        t = time.monotonic()
        print(self.script("dr", "failback", "prepare", "--config", self.primary_cfg).stdout.rstrip(), flush=True)
        # The roles at DR are stopped already (after the load was answered).
        print(self.script("dr", "failback", "complete", "--config", self.primary_cfg).stdout.rstrip(), flush=True)
        took = time.monotonic() - t
        self.script("sims", "start", "--config", self.primary_cfg)
        back = self.start("switch-primary-again", [self.binary, "all", "--config", self.primary_cfg, "--instance",
                                                   "p2", "--metrics-port", "0"])
        n = max(a.payments // 20, 300)
        lg = self.start("loadgen-primary-again", [self.binary, "loadgen", "--config", self.primary_cfg, "--count",
                                                  str(n), "--rate", str(a.rate), "--run-id", self.id + "-c", "--seed",
                                                  str(a.seed + 2), "--duplicate-share", "0.01", "--no-settlement",
                                                  "--timeout", "120"])
        lg.wait(timeout=n / a.rate + 600)
        say(f"failback done in {took:.1f} s; {n} more payments at the primary (loadgen exit {lg.returncode})")
        time.sleep(25)
        back.stop(timeout=60)
        self.script("sims", "stop", "--config", self.primary_cfg)
        m = self.measure(None, None, None, f"127.0.0.1:{PRIMARY_PORT}")
        keep = ("payments_requested", "final_results", "double_executions", "double_executions_sample",
                "doubled_results", "unresolved", "unresolved_sample", "results_disagreeing_with_channels",
                "settlement_difference", "batches", "settled_net")
        out = {k: m[k] for k in keep}
        out.update(seconds=round(took, 3), loadgen_exit=lg.returncode)
        return out

    def ledgers(self):
        """payment_id/RRN -> live executions: ISO approvals not reversed, PSP approvals."""
        iso = Counter()
        psp = {}
        sims = os.path.join(self.dir, "sims")
        for ch in self.cfg["channels"]:
            path = os.path.join(sims, ch["id"] + ".ledger")
            if not os.path.exists(path):
                continue
            with open(path, encoding="utf-8") as f:
                for line in f:
                    p = line.split()
                    if ch["kind"] == "iso8583" and len(p) >= 4:
                        if p[0] == "X" and p[3] == "00":
                            iso[(ch["id"], p[1])] += 1
                        elif p[0] == "R" and p[3] in ("acknowledged", "ambiguous"):
                            iso[(ch["id"], p[1])] -= 1
                    elif ch["kind"] == "http_json" and len(p) >= 3:
                        psp[p[0]] = p[2]
        return iso, psp

    def measure(self, observer, kill_ms, failover_s, site):
        """The checks on the cluster `site` (DR after the failover; the primary after the
        failback, without observer and kill time)."""
        dr = site
        acked = observer.acked if observer else {}
        kill_ms = kill_ms if kill_ms is not None else int(time.time() * 1000) + 3_600_000
        finals, doubled, first_after, first_new = {}, 0, None, None
        newest_primary_at_dr = 0
        for raw, ts in read_topic(dr, self.topic("results")):
            try:
                r = json.loads(raw)
            except ValueError:
                continue
            if (r.get("reason") or {}).get("code") in ("duplicate_request", "key_mismatch"):
                continue
            if ts <= kill_ms:
                newest_primary_at_dr = max(newest_primary_at_dr, ts)
            else:
                first_after = ts if first_after is None else min(first_after, ts)
                if r.get("payment_id", "").startswith(self.id + "-b"):
                    first_new = ts if first_new is None else min(first_new, ts)
            if r.get("payment_id") in finals:
                doubled += 1
                continue
            r["_ts"] = ts
            finals[r.get("payment_id")] = r
        requests = {}
        limit = int((self.cfg.get("limits") or {}).get("max_record_bytes") or 65536)
        for raw, _ in read_topic(dr, self.topic("requests")):
            if raw is None or len(raw) > limit:
                continue  # no readable payment_id for the switch: dead-lettered, no result
            try:
                q = json.loads(raw)
            except ValueError:
                continue
            if isinstance(q, dict) and isinstance(q.get("payment_id"), str):
                requests.setdefault(q["payment_id"], q)
        unresolved = sorted(pid for pid in requests if pid not in finals)
        # An unknown outcome left by the takeover (no channel could say) is unresolved; one a
        # channel gave in normal operation (a PSP's 503) is a final result like any other.
        unknown = sorted(pid for pid, r in finals.items()
                         if r.get("status") == "failed" and (r.get("reason") or {}).get("code") == "unknown_outcome"
                         and "primary site was lost" in (r.get("reason") or {}).get("message", ""))
        # Double executions at the channels.
        iso, psp = self.ledgers()
        ids = set(requests) | set(finals) | set(acked)
        by_rrn = {rrn_for(pid): pid for pid in ids}
        live = Counter()
        for (ch, rrn), n in iso.items():
            live[by_rrn.get(rrn, "rrn:" + rrn)] += max(n, 0)
        for pid, status in psp.items():
            live[pid] += status == "approved"
        doubles = sorted(pid for pid, n in live.items() if n > 1)
        mismatch = []
        for pid, q in requests.items():
            r = finals.get(pid)
            if not r or q.get("type", "sale") != "sale":
                continue
            if (r.get("status") == "approved") != (live[pid] == 1):
                mismatch.append(f"{pid}: result {r.get('status')}/{(r.get('reason') or {}).get('code')}, "
                                f"live executions {live[pid]}")
        # Settlement at DR against the results at DR.
        expected, settled, batches = Counter(), Counter(), {}
        conflicting = []
        for pid, r in finals.items():
            amount = r.get("amount") or {}
            if r.get("status") == "approved" and amount:
                sign = {"sale": 1, "capture": 1, "refund": -1}.get(r.get("type"), 0)
                expected[amount.get("currency")] += sign * int(amount.get("value", 0))
        for raw, _ in read_topic(dr, self.topic("batches")):
            b = json.loads(raw)
            if b["batch_id"] in batches:
                if batches[b["batch_id"]]["net"] != b["net"]:
                    conflicting.append(b["batch_id"])
                continue
            batches[b["batch_id"]] = b
            settled[b["currency"]] += int(b["net"])
        currencies = sorted(set(expected) | set(settled))
        diff = {c: settled[c] - expected[c] for c in currencies if settled[c] != expected[c]}
        # RPO: acknowledged at the primary, not held (with that status) at DR.
        # (A result DR holds that was written after the kill is not the primary's: the takeover
        # decided it again from the channels.)
        missing = sorted(pid for pid in acked if pid not in finals or finals[pid]["_ts"] > kill_ms)
        differs = sorted(pid for pid in missing if pid in finals and finals[pid].get("status") != acked[pid][0])
        # The recovery point: everything the primary acknowledged before it reached DR.
        oldest_missing = min((acked[pid][1] for pid in missing), default=kill_ms)
        takeover = {}
        try:
            with open(os.path.join(self.dir, "mirror", "takeover.json"), encoding="utf-8") as f:
                takeover = json.load(f)
        except (OSError, ValueError):
            pass
        return {
            "run": self.id,
            "payments_requested": len(requests),
            "acknowledged_by_primary": len(acked),
            "rpo_payments": len(missing), "rpo_payments_sample": missing[:10],
            "rpo_seconds": round(max(0, kill_ms - oldest_missing) / 1000.0, 3),
            "newest_primary_result_at_dr_seconds_before_kill": round(max(0, kill_ms - newest_primary_at_dr) / 1000.0, 3),
            "acknowledged_with_another_result_at_dr": len(differs), "acknowledged_other_sample": differs[:10],
            "rto_seconds": None if first_after is None else round((first_after - kill_ms) / 1000.0, 3),
            "rto_new_payment_seconds": None if first_new is None else round((first_new - kill_ms) / 1000.0, 3),
            "failover_seconds": None if failover_s is None else round(failover_s, 3),
            "takeover": {k: takeover.get(k) for k in ("in_flight", "outcomes", "restored_from_settlement_log",
                                                       "batches_restored", "batches_unrestorable", "batches_from_clearing_files", "batches_closed_without_file", "pending_removed",
                                                       "held_by_router", "pending_at_channel", "ledger_entries",
                                                       "double_executions", "took_ms")},
            "double_executions": len(doubles), "double_executions_sample": doubles[:10],
            "doubled_results": doubled,
            "unresolved": len(unresolved) + len(unknown),
            "unresolved_sample": (unresolved + unknown)[:10],
            "results_disagreeing_with_channels": len(mismatch), "disagreeing_sample": mismatch[:10],
            "final_results": len(finals),
            "batches": len(batches), "conflicting_batches": conflicting[:10],
            "expected_net": dict(expected), "settled_net": dict(settled), "settlement_difference": diff,
        }

    def cleanup(self, passed):
        for p in self.procs:
            if p.running():
                p.stop(timeout=30)
        self.script("sims", "stop", "--config", self.primary_cfg, check=False)
        self.script("dr", "stop", check=False)
        self.script("kafka-local", "stop", "--site", "dr", check=False)
        self.script("kafka-local", "stop", check=False)
        if passed and not self.a.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def render(s):
    lines = [
        f"drill {s['run']}: payments acknowledged by the primary {s['acknowledged_by_primary']}; "
        f"requests held at DR {s['payments_requested']}; final results at DR {s['final_results']}",
        f"  RPO: {s['rpo_payments']} acknowledged payments whose result did not reach DR "
        f"({s['acknowledged_with_another_result_at_dr']} of them answered differently by the takeover); "
        f"{s['rpo_seconds']} s (the oldest of them was acknowledged that long before the kill)",
        f"  RTO: first result at DR {s['rto_seconds']} s after the kill (first new payment {s['rto_new_payment_seconds']} s; "
        f"failover {s['failover_seconds']} s)",
        f"  takeover: {json.dumps(s['takeover'])}",
        f"  double executions at the channels: {s['double_executions']}; payments with two results at DR: "
        f"{s['doubled_results']}",
        f"  unresolved payments: {s['unresolved']}",
        f"  results disagreeing with the channels' ledgers (sales): {s['results_disagreeing_with_channels']}",
        f"  restore check of both sites' backups against DR: exit {s['restore_check']['exit']} "
        f"{' '.join(s['restore_check']['report'])}",
        f"  settlement difference: {s['settlement_difference'] or 0} (batches {s['batches']}, "
        f"net {s['settled_net']})",
    ]
    f = s["failback"]
    lines.append(f"  failback to the primary in {f['seconds']} s, then more load there: at the primary "
                 f"{f['payments_requested']} requests, {f['final_results']} final results; double executions "
                 f"{f['double_executions']}, two results {f['doubled_results']}, unresolved {f['unresolved']}, "
                 f"settlement difference {f['settlement_difference'] or 0} (batches {f['batches']})")
    return "\n".join(lines)


def main(argv):
    ap = argparse.ArgumentParser(prog="scripts/dr drill", description=__doc__.split("\n\n")[0])
    ap.add_argument("--payments", type=int)
    ap.add_argument("--rate", type=float)
    ap.add_argument("--small", action="store_true", help="3,000 payments at 300/s (CI)")
    ap.add_argument("--seed", type=int, default=int(time.time()) % 10000)
    ap.add_argument("--keep", action="store_true", help="keep the run's data")
    ap.add_argument("--lag", type=float, default=0.0,
                    help="pause MirrorMaker this many seconds before the kill (replication lag at the loss)")
    a = ap.parse_args(argv)
    a.payments = a.payments or (3000 if a.small else 100_000)
    a.rate = a.rate or (300.0 if a.small else 1000.0)
    d = None
    passed = False
    try:
        d = Drill(a)
        s = d.run()
        text = render(s)
        print(text, flush=True)
        with open(os.path.join(d.dir, "summary.json"), "w", encoding="utf-8") as f:
            json.dump(s, f, indent=2)
        f = s["failback"]
        passed = (s["double_executions"] == 0 and s["doubled_results"] == 0 and s["unresolved"] == 0
                  and not s["settlement_difference"] and s["restore_check"]["exit"] == 0
                  and f["double_executions"] == 0 and f["doubled_results"] == 0 and f["unresolved"] == 0
                  and not f["settlement_difference"])
        say(("PASSED" if passed else "FAILED") + f"; summary in {os.path.relpath(os.path.join(d.dir, 'summary.json'), ROOT)}")
        return 0 if passed else 1
    except Failed as e:
        print(f"drill: {e}", file=sys.stderr)
        return 2
    finally:
        if d:
            d.cleanup(passed)
