#!/usr/bin/env python3
"""Chaos test: the whole switch on a local three-node Kafka cluster, under fire.

usage: scripts/chaos [--payments N] [--rate R] [--kills K] [--small] [--keep]
                     [--seed S] [--port P] [options]

1. Starts (or reuses) a three-node KRaft cluster with scripts/kafka-local
   (--brokers 3, data in var/chaos/kafka, client ports P..P+2, default 9192,
   so it coexists with the single broker of scripts/test on 9092).
2. Writes var/chaos/<run>/turnout.yaml from config/turnout.yaml: replication
   factor 3, the cluster's bootstrap servers, a fresh kafka.name_prefix (the
   run is isolated from every other run), settlement window 5 s / grace 2 s,
   a ledger file per simulator channel, no metrics endpoint. Creates the
   topics with `turnout topics`.
3. Starts two instances of every role (router, risk, settlement, one
   connector per channel) as separate processes, logs in
   var/chaos/<run>/logs/.
4. Runs `turnout loadgen` (N payments at R/s, 2 % re-sent with the same
   payment_id) and meanwhile: SIGKILLs a random worker every few seconds and
   restarts it 1-3 s later with the same instance id; kills one broker node
   (2 or 3) and restarts it 15 s later; adds a third instance of one role and
   later stops it with SIGTERM. Like a supervisor it restarts a worker that
   exits by itself, and like a liveness probe it kills and restarts one that
   is still running 10 s after logging a critical error (its thread stacks
   are saved first with gdb, next to its log).
5. Then: reads the load generator's report; SIGTERMs every worker and
   checks each exits 0 within 30 s; reads the channel ledgers (a payment_id
   executed more than once is a double execution); reads the results and
   settlement.batches topics back (read_committed) and checks them against
   the ledgers and each other.
6. Prints a summary, writes var/chaos/<run>/summary.json, stops everything
   it started (the cluster too, unless --keep; its data is removed after a
   passing run) and exits 0 only if nothing broke: no payment lost or
   doubled, no double execution at a channel, settlement equal to the results
   to the minor unit, no worker crashing by a signal or hanging after a
   critical error, every worker stopping cleanly. (A worker that exits with
   an error code after a fatal error is restarted and reported, not a break.)

--small is the CI size: 10,000 payments at 1,000/s, fewer kills, about two
minutes. The build/turnout binary is copied into the run folder first, so a
rebuild during the run does not mix versions. One run at a time
(var/chaos/.lock); processes left behind by a chaos run that was itself
killed are stopped by the next run.
"""
import argparse
import fcntl
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict

import yaml

from supervise import Process, Supervisor, cmdline, stop_pids, tail  # scripts/supervise.py

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "kafka"))
import records  # noqa: E402  scripts/kafka/records.py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KAFKA_LOCAL = os.path.join(ROOT, "scripts", "kafka-local")
STOP_TIMEOUT = 30.0


class Interrupted(Exception):
    pass


def on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


class Clock:
    def __init__(self):
        self.t0 = time.monotonic()

    def __call__(self):
        return time.monotonic() - self.t0


CLOCK = Clock()


def say(msg):
    print(f"chaos: [{CLOCK():6.1f}s] {msg}", flush=True)


def rel(path):
    return os.path.relpath(path, ROOT)


def alive(proc):
    return proc is not None and proc.poll() is None


# ------------------------------------------------------------------ workers --

class Worker:
    """One instance of one role, restarted under the same instance id."""

    def __init__(self, run, role, instance, channel=None, extra=False):
        self.run = run
        self.role = role
        self.instance = instance
        self.channel = channel
        self.extra = extra
        self.name = f"{role}-{channel}-{instance}" if channel else f"{role}-{instance}"
        self.log = os.path.join(run.logs, self.name + ".log")
        self.proc = None
        self.restart_at = None     # monotonic time of a pending restart
        self.killed = 0
        self.starts = 0
        self.crashes = []          # exit codes of exits nobody asked for
        self.removing = None       # monotonic time of the SIGTERM that removes an extra instance
        self.log_pos = 0           # where this start's output begins in the log
        self.fatal_at = None       # when this start logged a critical error while still running

    def command(self):
        cmd = [self.run.binary, self.role]
        if self.channel:
            cmd += ["--channel", self.channel]
        return cmd + ["--config", self.run.config, "--instance", self.instance, "--metrics-port", "0"]

    def start(self):
        """Start (or start again, same instance id and log) under the run's supervisor."""
        if self.proc is None:
            self.proc = Process(self.name, self.command(), self.log, env=self.run.env, detach=True,
                                header=lambda p: f"=== chaos: start #{p.starts + 1} at {CLOCK():.1f}s\n")
        self.fatal_at = None
        self.run.sup.add(self.proc)
        self.log_pos = self.proc.log_pos
        self.starts += 1
        self.restart_at = None

    def logged_fatal(self):
        """The first critical line this start logged, if any."""
        try:
            with open(self.log, "rb") as f:
                f.seek(self.log_pos)
                for line in f:
                    if b" critical " in line:
                        return line.decode("utf-8", "replace").strip()
        except OSError:
            pass
        return None

    def stacks(self, why):
        """Thread stacks of the running process (gdb), saved next to its log."""
        path = os.path.join(self.run.logs, f"{self.name}.stacks-{self.proc.pid}-{int(CLOCK())}s.txt")
        gdb = shutil.which("gdb")
        if not gdb:
            return None
        try:
            res = subprocess.run([gdb, "-p", str(self.proc.pid), "-batch", "-nx", "-ex", "set pagination off",
                                  "-ex", "thread apply all bt"], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
            out = res.stdout
        except subprocess.TimeoutExpired:
            out = "gdb timed out"
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"# {self.name} pid {self.proc.pid}: {why}\n{out}")
        return path

    def kill(self):
        self.proc.kill()
        self.killed += 1


# -------------------------------------------------------------------- the run --

class Run:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        self.id = f"chaos{stamp}"
        n = 1
        while os.path.exists(os.path.join(ROOT, "var", "chaos", self.id)):
            n += 1
            self.id = f"chaos{stamp}-{n}"
        self.dir = os.path.join(ROOT, "var", "chaos", self.id)
        self.logs = os.path.join(self.dir, "logs")
        self.kafka_dir = os.path.join(ROOT, "var", "chaos", "kafka")
        self.config = os.path.join(self.dir, "turnout.yaml")
        self.binary = os.path.join(self.dir, "turnout")
        self.ports = [args.port + i for i in range(3)]
        self.bootstrap = ",".join(f"127.0.0.1:{p}" for p in self.ports)
        self.env = dict(os.environ, TURNOUT_BOOTSTRAP=self.bootstrap)
        # Every process of the run; each start is recorded in <run>/pids.
        self.sup = Supervisor(on_start=lambda p: self.record_pid(p.pid, p.name))
        self.cfg = None
        self.workers = []
        self.loadgen = None
        self.cluster_started = False
        self.node_proc = None      # a running `kafka-local start-node`
        self.events = []
        self.faults = Counter()
        self.broker_downtime = []
        self.down_node = None
        self.stop_failures = []
        self.hung = []
        self.crash_notes = []
        self.passed = False
        self.breaks = []

    # ------------------------------------------------------------- helpers --
    def record_pid(self, pid, name):
        """Every process of the run goes into <run>/pids, so a later run can stop leftovers."""
        with open(os.path.join(self.dir, "pids"), "a", encoding="utf-8") as f:
            f.write(f"{pid} {name}\n")

    @staticmethod
    def stop_leftovers():
        """Stop processes of earlier runs that outlived their chaos process (it was SIGKILLed).

        Only PIDs recorded in var/chaos/<run>/pids whose command line runs that run's own
        copy of turnout are signalled."""
        base = os.path.join(ROOT, "var", "chaos")
        found = []
        for run in sorted(os.listdir(base)) if os.path.isdir(base) else []:
            pids = os.path.join(base, run, "pids")
            if not run.startswith("chaos") or not os.path.isfile(pids):
                continue
            binary = os.path.join(base, run, "turnout")
            with open(pids, encoding="utf-8") as f:
                for line in f:
                    parts = line.split()
                    if not parts or not parts[0].isdigit():
                        continue
                    pid = int(parts[0])
                    argv = cmdline(pid)
                    if argv is not None and argv.split(" ")[0] == binary:
                        found.append((pid, run, parts[1] if len(parts) > 1 else "?"))
        for pid, run, name in found:
            say(f"stopping a leftover of {run}: {name} (pid {pid})")
        stop_pids([pid for pid, _, _ in found], timeout=15)
        for run in {r for _, r, _ in found}:
            try:
                os.remove(os.path.join(base, run, "turnout"))  # the copy of build/turnout; logs stay
            except OSError:
                pass

    def event(self, kind, msg, **data):
        self.events.append({"t": round(CLOCK(), 1), "kind": kind, "msg": msg, **data})
        say(msg)

    def kafka_local(self, *argv, check=True, quiet=False):
        cmd = [KAFKA_LOCAL, *argv, "--dir", self.kafka_dir]
        res = subprocess.run(cmd, cwd=ROOT, env=self.kafka_env(), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = res.stdout.strip()
        if out and not quiet:
            for line in out.splitlines():
                if not line.startswith("created "):
                    print(f"  {line}", flush=True)
        if check and res.returncode != 0:
            if quiet and out:
                print(out, flush=True)
            raise RuntimeError(f"kafka-local {' '.join(argv)} failed (exit {res.returncode})")
        return res

    def kafka_env(self):
        env = dict(os.environ)
        for k in ("TURNOUT_KAFKA_PORT", "TURNOUT_KAFKA_CONTROLLER_PORT", "TURNOUT_KAFKA_DIR", "TURNOUT_CONFIG"):
            env.pop(k, None)
        return env

    # --------------------------------------------------------------- setup --
    def prepare(self):
        a = self.args
        os.makedirs(self.logs)
        src = a.turnout if os.path.isabs(a.turnout) else os.path.join(ROOT, a.turnout)
        if not os.access(src, os.X_OK):
            raise RuntimeError(f"{rel(src)} not found: build Turnout first (cmake --build build)")
        shutil.copy2(src, self.binary)
        self.cfg = self.make_config()
        with open(self.config, "w", encoding="utf-8") as f:
            yaml.safe_dump(self.cfg, f, sort_keys=False)
        res = subprocess.run([self.binary, "check-config", "--config", self.config], cwd=ROOT, env=self.env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"generated config rejected: {res.stdout.strip()}")

    def make_config(self):
        base = self.args.config if os.path.isabs(self.args.config) else os.path.join(ROOT, self.args.config)
        with open(base, encoding="utf-8") as f:
            cfg = yaml.safe_load(f)
        k = cfg.setdefault("kafka", {})
        k["bootstrap_servers"] = self.bootstrap
        k["replication_factor"] = 3
        k["name_prefix"] = self.id + "."
        sec = cfg.get("security") or {}
        if sec.get("keys_file") and not os.path.isabs(sec["keys_file"]):
            sec["keys_file"] = os.path.join(ROOT, sec["keys_file"])
        s = cfg.setdefault("settlement", {})
        s["window_seconds"] = 5
        s["grace_seconds"] = 2
        s["output_dir"] = os.path.join(self.dir, "settlement")
        self.ledgers = {}
        # The channel ledgers count double executions: every channel is an in-process
        # simulator here (remote-host kinds have their own fault tests).
        for i, ch in enumerate(cfg.get("channels") or []):
            if ch.get("kind") in ("iso8583", "http_json"):
                ch = cfg["channels"][i] = {k: v for k, v in ch.items() if k in ("id", "fees", "circuit")}
                ch.update(kind="simulator", latency_ms=2)
        for ch in cfg.get("channels") or []:
            if ch.get("kind") == "simulator":
                ch["ledger_file"] = os.path.join(self.dir, f"ledger-{ch['id']}.log")
                self.ledgers[ch["id"]] = ch["ledger_file"]
        cfg.setdefault("metrics", {})["port"] = 0
        return cfg

    def start_cluster(self):
        st = self.kafka_local("status", check=False, quiet=True)
        self.cluster_started = True  # this run owns the cluster: it stops it at the end (unless --keep)
        if st.returncode == 0:
            say(f"using the running three-node cluster in {rel(self.kafka_dir)}")
            if any(f"port {p})" not in st.stdout for p in self.ports):
                raise RuntimeError(f"the cluster in {rel(self.kafka_dir)} does not run on ports "
                                   f"{self.ports[0]}-{self.ports[2]}:\n{st.stdout}")
            return
        say(f"starting a fresh three-node cluster on 127.0.0.1:{self.ports[0]}-{self.ports[2]} "
            f"({rel(self.kafka_dir)})")
        t = CLOCK()
        self.kafka_local("reset", quiet=True)
        self.kafka_local("start", "--brokers", "3", "--port", str(self.args.port))
        say(f"cluster up in {CLOCK() - t:.0f}s")

    def create_topics(self):
        res = subprocess.run([self.binary, "topics", "--config", self.config], cwd=ROOT, env=self.env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"turnout topics failed: {res.stdout.strip()}")
        say(f"topics created (prefix {self.id}., replication factor 3)")

    def roles(self):
        out = [("router", None), ("risk", None)]
        out += [("connector", ch["id"]) for ch in self.cfg.get("channels") or []]
        out.append(("settlement", None))
        return out

    def start_workers(self):
        for role, channel in self.roles():
            for inst in ("1", "2"):
                w = Worker(self, role, inst, channel)
                w.start()
                self.workers.append(w)
        say(f"started {len(self.workers)} workers: 2 x {', '.join(self.role_names())}")
        # Wait until every instance holds its first assignment (or reports trouble).
        deadline = time.monotonic() + 30
        waiting = list(self.workers)
        while waiting and time.monotonic() < deadline:
            for w in list(waiting):
                if not alive(w.proc):
                    raise RuntimeError(f"{w.name} exited at start-up (exit {w.proc.returncode}); "
                                       f"tail of {rel(w.log)}:\n{tail(w.log)}")
                with open(w.log, "rb") as f:
                    if b"assigned" in f.read():
                        waiting.remove(w)
            time.sleep(0.2)
        if waiting:
            say(f"not every worker reported an assignment yet ({', '.join(w.name for w in waiting)}); going on")
        else:
            say("every worker holds partitions")

    def role_names(self):
        return [f"connector {c}" if c else r for r, c in self.roles()]

    # --------------------------------------------------------------- chaos --
    def start_loadgen(self):
        a = self.args
        self.report_path = os.path.join(self.dir, "loadgen-report.json")
        self.loadgen_log = os.path.join(self.logs, "loadgen.log")
        cmd = [self.binary, "loadgen", "--config", self.config, "--count", str(a.payments), "--rate", str(a.rate),
               "--duplicate-share", str(a.duplicate_share), "--seed", str(a.seed), "--run-id", self.id,
               "--timeout", str(a.loadgen_timeout), "--report-json", self.report_path]
        self.loadgen = self.sup.start("loadgen", cmd, self.loadgen_log, env=self.env, detach=True)
        self.loadgen_started = time.monotonic()
        self.event("loadgen", f"loadgen: {a.payments} payments at {a.rate:g}/s, "
                              f"{a.duplicate_share:.0%} duplicates (log {rel(self.loadgen_log)})")

    def plan(self):
        a = self.args
        send = a.payments / a.rate if a.rate > 0 else a.payments / 5000
        now = time.monotonic()
        p = {
            "next_kill": now + a.first_kill,
            "broker_kill": now + min(max(0.25 * send, 5.0), 60.0) if a.broker_restarts else None,
            "add": now + max(6.0, 0.35 * send) if a.add_instance else None,
        }
        p["remove"] = p["add"] + max(10.0, 0.4 * send) if p["add"] else None
        return p

    def chaos(self):
        a = self.args
        plan = self.plan()
        deadline = self.loadgen_started + a.max_seconds
        extra = None
        broker_back_at = None
        next_scan = 0.0
        while alive(self.loadgen):
            now = time.monotonic()
            if now > deadline:
                self.breaks.append(f"loadgen still running after {a.max_seconds:.0f}s")
                self.event("timeout", f"loadgen still running after {a.max_seconds:.0f}s; interrupting it")
                self.stop_loadgen()
                break
            # Workers that exited by themselves, and pending restarts.
            for w in self.workers:
                if (w.proc is not None and w.restart_at is None and not alive(w.proc)
                        and w.removing is None):
                    self.exited_by_itself(w, "during the run")
                    w.restart_at = now + 1.0
                if w.restart_at is not None and now >= w.restart_at:
                    w.start()
                    self.event("restart", f"restarted {w.name} (pid {w.proc.pid})", worker=w.name)
            # A worker that logged a fatal error must exit (so that it is restarted), not linger.
            scan = now >= next_scan
            if scan:
                next_scan = now + 1.0
            for w in self.workers:
                if w.fatal_at is None and alive(w.proc) and scan:
                    line = w.logged_fatal()
                    if line:
                        w.fatal_at = now
                        self.event("fatal", f"{w.name} (pid {w.proc.pid}) logged: {line[:200]}", worker=w.name)
                elif (w.fatal_at is not None and w.fatal_at > 0 and alive(w.proc) and now - w.fatal_at > 10
                      and w.removing is None):
                    # Like a liveness probe: record the stacks, then kill and restart the instance.
                    w.fatal_at = -1.0
                    pid = w.proc.pid
                    path = w.stacks("still running 10 s after a critical error")
                    self.hung.append(f"{w.name} (pid {pid}) still running 10 s after a critical error"
                                     + (f" (stacks: {rel(path)})" if path else ""))
                    w.proc.kill()
                    w.restart_at = time.monotonic() + 1.0
                    self.event("hung", f"{w.name} (pid {pid}) still running 10 s after its critical error; "
                                       + (f"stacks in {rel(path)}; " if path else "") + "killed, restarting it",
                               worker=w.name)
            # A random worker dies.
            if self.faults["kills"] < a.kills and now >= plan["next_kill"]:
                victims = [w for w in self.workers if not w.extra and w.restart_at is None and alive(w.proc)]
                if victims:
                    w = self.rng.choice(victims)
                    pid = w.proc.pid
                    w.kill()
                    delay = self.rng.uniform(1.0, 3.0)
                    w.restart_at = now + delay
                    self.faults["kills"] += 1
                    self.event("kill", f"SIGKILL {w.name} (pid {pid}); restart in {delay:.1f}s", worker=w.name)
                plan["next_kill"] = now + self.rng.uniform(0.5, 1.5) * a.kill_every
            # One broker crashes and comes back.
            if plan["broker_kill"] and now >= plan["broker_kill"]:
                plan["broker_kill"] = None
                self.down_node = self.rng.choice([2, 3])
                self.kafka_local("kill-node", str(self.down_node), quiet=True)
                self.down_since = now
                broker_back_at = now + a.broker_down
                self.event("broker-kill", f"SIGKILL broker node {self.down_node}; restart in {a.broker_down:.0f}s",
                           node=self.down_node)
            if broker_back_at and now >= broker_back_at:
                broker_back_at = None
                self.start_node()
            if self.node_proc is not None and not alive(self.node_proc):
                self.node_started()
            # One more instance joins, later leaves.
            if plan["add"] and now >= plan["add"]:
                plan["add"] = None
                role, channel = self.rng.choice(self.roles())
                extra = Worker(self, role, "3", channel, extra=True)
                extra.start()
                self.workers.append(extra)
                self.faults["added"] += 1
                self.event("add", f"added {extra.name} (pid {extra.proc.pid})", worker=extra.name)
            if plan["remove"] and extra is not None and now >= plan["remove"]:
                plan["remove"] = None
                self.faults["removed"] += 1
                self.event("remove", f"SIGTERM {extra.name} (pid {extra.proc.pid}): the instance leaves",
                           worker=extra.name)
                extra.proc.send_signal(signal.SIGTERM)
                extra.removing = now
            if extra is not None and extra.removing is not None:
                if not alive(extra.proc):
                    rc = extra.proc.returncode
                    self.event("removed", f"{extra.name} left (exit {rc})", worker=extra.name, rc=rc)
                    if rc != 0:
                        self.stop_failures.append(f"{extra.name}: exit {rc} on SIGTERM")
                    self.workers.remove(extra)
                    extra.removing = None
                elif now - extra.removing > STOP_TIMEOUT:
                    path = extra.stacks(f"still running {STOP_TIMEOUT:.0f}s after SIGTERM")
                    extra.proc.kill()
                    self.stop_failures.append(f"{extra.name}: still running {STOP_TIMEOUT:.0f}s after SIGTERM; killed"
                                              + (f" (stacks: {rel(path)})" if path else ""))
                    self.event("removed", f"{extra.name} ignored SIGTERM for {STOP_TIMEOUT:.0f}s; killed it")
                    self.workers.remove(extra)
                    extra.removing = None
            time.sleep(0.1)
        rc = self.loadgen.wait()
        self.event("loadgen-exit", f"loadgen exited with {rc} after {time.monotonic() - self.loadgen_started:.1f}s",
                   rc=rc)
        # The broker comes back before the checks, whatever the timing was.
        if broker_back_at:
            self.start_node()
        if self.node_proc is not None:
            self.node_proc.wait()
            self.node_started()
        return rc

    def exited_by_itself(self, w, when):
        """A worker exit nobody asked for: by a signal it is a crash (a break); with an exit
        code it is a deliberate stop after a fatal error (reported, restarted)."""
        rc = w.proc.returncode
        w.crashes.append(rc)
        if rc < 0:
            self.faults["crashes"] += 1
            what = f"crashed ({signal.Signals(-rc).name})" if -rc in signal.valid_signals() else f"crashed ({rc})"
            self.crash_notes.append(f"{w.name} (pid {w.proc.pid}) {what} {when} (log {rel(w.log)})")
        else:
            self.faults["fatal_exits"] += 1
            what = f"exited with {rc}"
        self.event("exit", f"{w.name} (pid {w.proc.pid}) {what} by itself {when}"
                           + ("; restarting it" if when == "during the run" else ""), worker=w.name, rc=rc)

    def start_node(self):
        n = self.down_node
        self.node_proc = Process(f"start-node {n}", [KAFKA_LOCAL, "start-node", str(n), "--dir", self.kafka_dir],
                                 env=self.kafka_env(), stdout=subprocess.PIPE).start()
        self.event("broker-start", f"restarting broker node {n}", node=n)

    def node_started(self):
        out = self.node_proc.stdout.read().strip()
        rc = self.node_proc.returncode
        self.node_proc = None
        if rc != 0:
            print(out, flush=True)
            raise RuntimeError(f"kafka-local start-node {self.down_node} failed (exit {rc})")
        down = time.monotonic() - self.down_since
        self.broker_downtime.append(round(down, 1))
        self.faults["broker_restarts"] += 1
        self.event("broker-up", f"broker node {self.down_node} serving again ({down:.1f}s after the kill)",
                   node=self.down_node)
        self.down_node = None

    def stop_loadgen(self, graceful=True):
        """SIGINT lets the load generator report what it has; SIGTERM just ends it."""
        if alive(self.loadgen):
            self.loadgen.stop(15 if graceful else 5, signal.SIGINT if graceful else signal.SIGTERM)

    # ---------------------------------------------------------------- stop --
    def stop_workers(self):
        """SIGTERM every running worker at once; each must exit 0 within 30 s."""
        running = [w for w in self.workers if alive(w.proc)]
        for w in self.workers:
            if not alive(w.proc) and w.restart_at is not None:
                say(f"{w.name} is down (killed, restart pending): not restarted for the stop check")
            elif w.proc is not None and not alive(w.proc) and w.restart_at is None:
                self.exited_by_itself(w, "before the stop")
        t = time.monotonic()
        for w in running:
            w.proc.send_signal(signal.SIGTERM)
        for w in running:
            def hung(_proc, w=w):
                path = w.stacks(f"still running {STOP_TIMEOUT:.0f}s after SIGTERM")
                self.stop_failures.append(f"{w.name}: still running {STOP_TIMEOUT:.0f}s after SIGTERM; killed"
                                          + (f" (stacks: {rel(path)})" if path else ""))
            rc = w.proc.stop(max(0.1, STOP_TIMEOUT - (time.monotonic() - t)), None, hung)
            if rc != 0 and not w.proc.killed:
                self.stop_failures.append(f"{w.name}: exit {rc} on SIGTERM (log {rel(w.log)})")
        say(f"stopped {len(running)} workers with SIGTERM in {time.monotonic() - t:.1f}s"
            + (f"; {len(self.stop_failures)} did not stop cleanly" if self.stop_failures else ", all exit 0"))

    def cleanup(self):
        """Stop every process this run started (also after errors and Ctrl-C)."""
        self.stop_loadgen(graceful=False)
        self.sup.stop_all(timeout=10, together=True)
        if self.node_proc is not None:
            self.node_proc.stop(60, sig=None)
        try:
            os.remove(self.binary)  # a copy of build/turnout; the logs stay
        except OSError:
            pass
        if self.cluster_started and not self.args.keep:
            t = CLOCK()
            if self.passed:
                self.kafka_local("reset", check=False)
                say(f"cluster stopped and its data removed in {CLOCK() - t:.0f}s")
            else:
                self.kafka_local("stop", check=False)
                say(f"cluster stopped in {CLOCK() - t:.0f}s (data and broker logs kept in "
                    f"{rel(self.kafka_dir)} until the next run)")
        elif self.args.keep:
            say(f"cluster left running (--keep): scripts/kafka-local stop --dir {rel(self.kafka_dir)}")

    # -------------------------------------------------------------- checks --
    def read_report(self):
        try:
            with open(self.report_path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            self.breaks.append(f"no loadgen report ({e})")
            return None

    def read_ledgers(self):
        executed = defaultdict(list)  # payment_id -> [(channel, outcome)]
        lines = Counter()
        for ch, path in self.ledgers.items():
            try:
                f = open(path, encoding="utf-8")
            except FileNotFoundError:
                continue
            with f:
                for line in f:
                    parts = line.split()
                    if len(parts) < 2:
                        continue
                    executed[parts[0]].append((ch, parts[1]))
                    lines[ch] += 1
        doubles = {pid: ex for pid, ex in executed.items() if len(ex) > 1}
        return executed, doubles, lines

    def read_topic(self, topic):
        """Every committed record of topic, from the beginning to the current end."""
        return [v for v, _ in records.read_topic(self.bootstrap, topic, f"{self.id}.chaos-check")]

    def check_topics(self, executed):
        """The results and settlement.batches topics against the ledgers and each other."""
        prefix = self.id + "."
        topics = self.cfg["kafka"]["topics"]
        finals = defaultdict(list)
        dup_answers = 0
        expected_net = Counter()
        for raw in self.read_topic(prefix + topics["results"]):
            try:
                r = json.loads(raw)
            except ValueError:
                continue
            if r.get("status") == "rejected" and (r.get("reason") or {}).get("code") == "duplicate_request":
                dup_answers += 1
                continue
            finals[r.get("payment_id")].append(r)
        for pid, rs in finals.items():
            r = rs[0]
            amount = r.get("amount") or {}
            if r.get("status") == "approved" and amount:
                sign = {"sale": 1, "capture": 1, "refund": -1}.get(r.get("type"), 0)
                expected_net[amount.get("currency")] += sign * int(amount.get("value", 0))
        doubled = sorted(pid for pid, rs in finals.items() if len(rs) > 1)
        batches = defaultdict(list)
        settled_net = Counter()
        for raw in self.read_topic(prefix + topics["batches"]):
            b = json.loads(raw)
            batches[b["batch_id"]].append(b)
            settled_net[b["currency"]] += int(b["net"])
        doubled_batches = sorted(bid for bid, bs in batches.items() if len(bs) > 1)
        # Every execution at a channel has the matching final result, and back.
        no_result, mismatch = [], []
        for pid, ex in executed.items():
            rs = finals.get(pid)
            if not rs:
                no_result.append(pid)
                continue
            ch, outcome = ex[-1]
            if rs[0].get("status") != outcome or rs[0].get("channel") != ch:
                mismatch.append(f"{pid}: ledger {ch}/{outcome}, result {rs[0].get('channel')}/{rs[0].get('status')}")
        unexecuted = sorted(pid for pid, rs in finals.items()
                            if rs[0].get("status") == "approved" and rs[0].get("channel") in self.ledgers
                            and pid not in executed)
        currencies = sorted(set(expected_net) | set(settled_net))
        diff = {c: settled_net[c] - expected_net[c] for c in currencies if settled_net[c] != expected_net[c]}
        return {
            "final_results": len(finals),
            "duplicate_answers": dup_answers,
            "doubled": len(doubled), "doubled_sample": doubled[:10],
            "batches": len(batches),
            "doubled_batches": len(doubled_batches), "doubled_batches_sample": doubled_batches[:10],
            "expected_net": dict(expected_net), "settled_net": dict(settled_net), "settlement_difference": diff,
            "executed_without_result": len(no_result), "executed_without_result_sample": sorted(no_result)[:10],
            "ledger_result_mismatch": len(mismatch), "ledger_result_mismatch_sample": mismatch[:10],
            "approved_without_execution": len(unexecuted), "approved_without_execution_sample": unexecuted[:10],
        }


# ------------------------------------------------------------------- report --

def money(d):
    return ", ".join(f"{c} {v:+d}" for c, v in sorted(d.items())) if d else "0"


def summarize(run, lg_rc, report, executed, doubles, lines, topic):
    a = run.args
    f = run.faults
    rep = report or {}
    exp, got = rep.get("expected_net") or {}, rep.get("settled_net") or {}
    lg_diff = {c: int(got.get(c, 0)) - int(exp.get(c, 0)) for c in sorted(set(exp) | set(got))
               if int(got.get(c, 0)) != int(exp.get(c, 0))}
    breaks = list(run.breaks)
    if report is None or lg_rc != 0 or not rep.get("ok"):
        breaks.append(f"loadgen not ok (exit {lg_rc})")
    if rep.get("missing", 0):
        breaks.append(f"{rep['missing']} payments lost (sample: {', '.join(rep.get('missing_sample', [])[:5])})")
    if rep.get("doubled", 0):
        breaks.append(f"{rep['doubled']} payments with a second result (loadgen)")
    if rep.get("unexpected", 0):
        breaks.append(f"{rep['unexpected']} results for payment_ids loadgen did not send")
    if report is not None and not rep.get("settlement_matches"):
        breaks.append(f"settlement does not match the results (loadgen: {money(lg_diff)})")
    if doubles:
        sample = "; ".join(f"{pid} {ex}" for pid, ex in list(doubles.items())[:5])
        breaks.append(f"{len(doubles)} payments executed more than once at a channel ({sample})")
    if topic:
        # (count key, sample key, how many samples, separator, what the break says)
        checks = [
            ("doubled", "doubled_sample", 5, ", ", "payment_ids with two final results in the results topic"),
            ("doubled_batches", "doubled_batches_sample", 5, ", ", "settlement batches published twice"),
            ("executed_without_result", "executed_without_result_sample", 5, ", ",
             "channel executions without a result"),
            ("ledger_result_mismatch", "ledger_result_mismatch_sample", 3, "; ",
             "results disagree with the channel ledger"),
            ("approved_without_execution", "approved_without_execution_sample", 5, ", ",
             "approved results the channel never executed"),
        ]
        for count, sample_key, n, sep, what in checks:
            if topic[count]:
                breaks.append(f"{topic[count]} {what} ({sep.join(topic[sample_key][:n])})")
        if topic["settlement_difference"]:
            breaks.append(f"settlement.batches minus results topic: {money(topic['settlement_difference'])}")
    else:
        breaks.append("the results and batches topics could not be read back")
    breaks += run.crash_notes
    breaks += run.hung
    breaks += run.stop_failures

    rows = [
        ("payments sent", f"{rep.get('sent', '?')} ({rep.get('expected_results', '?')} expecting a result)"),
        ("duplicates injected", f"{rep.get('duplicates_sent', '?')} "
                                f"(answered duplicate_request: {rep.get('duplicate_answers', '?')})"),
        ("worker kills (SIGKILL)", f"{f['kills']}"),
        ("worker crashes (by a signal)", f"{f['crashes']}"),
        ("worker exits after fatal errors", f"{f['fatal_exits']} (restarted)"),
        ("broker restarts", f"{f['broker_restarts']}"
                            + (f" (down {', '.join(f'{d}s' for d in run.broker_downtime)})"
                               if run.broker_downtime else "")),
        ("instances added / removed", f"{f['added']} / {f['removed']} ({f['added'] + f['removed']} rebalances)"),
        ("results received", f"{rep.get('received', '?')}"),
        ("lost (missing)", f"{rep.get('missing', '?')}"),
        ("doubled", f"{rep.get('doubled', '?')} (results topic: {topic['doubled'] if topic else '?'})"),
        ("channel executions", f"{sum(lines.values())} "
                               f"({', '.join(f'{c} {n}' for c, n in sorted(lines.items()))})"),
        ("channel double executions", f"{len(doubles)}"),
        ("settlement difference", f"{money(lg_diff)} (batches vs results topic: "
                                  f"{money(topic['settlement_difference']) if topic else '?'})"),
        ("settlement batches", f"{rep.get('batches', '?')}"),
        ("workers hung after a fatal error", f"{len(run.hung)}"),
        ("workers not stopping cleanly", f"{len(run.stop_failures)}"),
        ("loadgen", f"exit {lg_rc}, {rep.get('seconds', 0):.1f}s, "
                    f"{rep.get('throughput', 0):.0f} results/s, p99 {rep.get('latency_ms', {}).get('p99', 0):.0f} ms"),
    ]
    width = max(len(k) for k, _ in rows)
    print("\n== chaos summary: " + run.id + " ==")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(f"{'by status':<{width}}  " + " ".join(f"{s}={n}" for s, n in sorted((rep.get('by_status') or {}).items())))
    if breaks:
        print("\nBROKEN:")
        for b in breaks:
            print(f"  - {b}")
    else:
        print("\nOK: no payment lost or doubled, no double execution, settlement matches to the minor unit")
    summary = {
        "run": run.id, "ok": not breaks, "breaks": breaks,
        "options": {k: v for k, v in vars(a).items()},
        "cluster": {"bootstrap": run.bootstrap, "dir": rel(run.kafka_dir)},
        "payments": rep.get("sent"), "duplicates_injected": rep.get("duplicates_sent"),
        "worker_kills": f["kills"], "worker_crashes": f["crashes"], "worker_fatal_exits": f["fatal_exits"],
        "crashes": run.crash_notes,
        "broker_restarts": f["broker_restarts"], "broker_downtime_s": run.broker_downtime,
        "instances_added": f["added"], "instances_removed": f["removed"],
        "rebalances_caused": f["added"] + f["removed"],
        "results_received": rep.get("received"), "lost": rep.get("missing"), "doubled": rep.get("doubled"),
        "channel_executions": dict(lines), "channel_double_executions": len(doubles),
        "settlement_difference": lg_diff, "stop_failures": run.stop_failures, "hung": run.hung,
        "loadgen_exit": lg_rc, "loadgen_report": report, "topic_check": topic, "events": run.events,
    }
    path = os.path.join(run.dir, "summary.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2)
    print(f"\nsummary: {rel(path)}  logs: {rel(run.logs)}/")
    return not breaks


# --------------------------------------------------------------------- main --

def parse_args():
    parts = __doc__.strip().split("\n\n")
    ap = argparse.ArgumentParser(
        prog="scripts/chaos", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="\n\n".join([parts[0]] + parts[2:]),
        epilog="Sizes: default 100,000 payments at 2,000/s with up to 25 worker kills;\n"
               "--small 10,000 at 1,000/s with up to 6. Explicit options override either.\n"
               "Exit status: 0 nothing broke, 1 a break or an error, 2 bad usage or busy, 130 interrupted.")
    ap.add_argument("--payments", type=int, help="requests to send (default 100000, --small 10000)")
    ap.add_argument("--rate", type=float, help="requests per second (default 2000, --small 1000)")
    ap.add_argument("--kills", type=int, help="worker SIGKILLs at most (default 25, --small 6)")
    ap.add_argument("--kill-every", type=float, help="mean seconds between kills (default 4)")
    ap.add_argument("--first-kill", type=float, default=3.0, help="seconds after loadgen starts (default 3)")
    ap.add_argument("--broker-down", type=float, default=15.0, help="seconds a killed broker stays down (15)")
    ap.add_argument("--no-broker-restart", dest="broker_restarts", action="store_false",
                    help="do not kill a broker")
    ap.add_argument("--no-add-instance", dest="add_instance", action="store_false",
                    help="do not add and remove an instance")
    ap.add_argument("--duplicate-share", type=float, default=0.02, help="share re-sent with the same payment_id")
    ap.add_argument("--small", action="store_true", help="CI size (about two minutes)")
    ap.add_argument("--keep", action="store_true", help="leave the cluster running at the end")
    ap.add_argument("--seed", type=int, default=1, help="random seed of the faults and the load (default 1)")
    ap.add_argument("--port", type=int, default=9192, help="client port of node 1; nodes use P..P+2 (9192)")
    ap.add_argument("--config", default="config/turnout.yaml", help="base configuration (config/turnout.yaml)")
    ap.add_argument("--turnout", default="build/turnout", help="the turnout binary (build/turnout)")
    ap.add_argument("--loadgen-timeout", type=int, help="loadgen --timeout (default 120, --small 60)")
    ap.add_argument("--max-seconds", type=float,
                    help="interrupt the loadgen after this long (default 1500, --small 150)")
    a = ap.parse_args()
    small = a.small
    defaults = {"payments": 10000 if small else 100000, "rate": 1000.0 if small else 2000.0,
                "kills": 6 if small else 25, "kill_every": 4.0,
                "loadgen_timeout": 60 if small else 120, "max_seconds": 150.0 if small else 1500.0}
    for k, v in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if a.payments < 1 or a.rate < 0 or a.kills < 0 or a.kill_every <= 0:
        ap.error("--payments must be positive, --rate, --kills non-negative, --kill-every positive")
    return a


def main():
    args = parse_args()
    os.chdir(ROOT)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    os.makedirs(os.path.join(ROOT, "var", "chaos"), exist_ok=True)
    lock = open(os.path.join(ROOT, "var", "chaos", ".lock"), "w")  # held until exit
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print("chaos: another chaos run is in progress (var/chaos/.lock)", file=sys.stderr)
        return 2
    Run.stop_leftovers()
    run = Run(args)
    ok = False
    code = None
    try:
        run.prepare()
        say(f"run {run.id}: {args.payments} payments at {args.rate:g}/s, up to {args.kills} worker kills, "
            f"seed {args.seed}; files in {rel(run.dir)}")
        run.start_cluster()
        run.create_topics()
        run.start_workers()
        run.start_loadgen()
        lg_rc = run.chaos()
        report = run.read_report()
        if report is not None:
            with open(run.loadgen_log, encoding="utf-8", errors="replace") as f:
                text = f.read()
            i = text.rfind("== Turnout loadgen summary ==")
            if i >= 0:
                print("\n" + text[i:].rstrip() + "\n", flush=True)
        run.stop_workers()
        executed, doubles, lines = run.read_ledgers()
        say(f"ledgers: {sum(lines.values())} executions, {len(doubles)} payment_ids executed more than once")
        try:
            topic = run.check_topics(executed)
            say(f"results topic: {topic['final_results']} payment_ids with a final result, "
                f"{topic['doubled']} with more than one; {topic['batches']} settlement batches")
        except Exception as e:  # noqa: BLE001 - reported as a break
            say(f"reading the topics back failed: {e}")
            topic = None
        ok = run.passed = summarize(run, lg_rc, report, executed, doubles, lines, topic)
    except Interrupted as e:
        say(f"interrupted ({e}); cleaning up")
        code = 130
    except Exception as e:  # noqa: BLE001 - any failure ends the run with a message
        say(f"error: {e}")
        ok = False
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        run.cleanup()
    if code is not None:
        return code
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
