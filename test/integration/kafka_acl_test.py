#!/usr/bin/env python3
"""Least privilege on Kafka, tried: the whole pipeline on a broker that authenticates every
client (SASL/SCRAM) and allows only the ACLs of scripts/kafka/acls.py, then writes and reads
the broker must refuse.

usage: kafka_acl_test.py config OUT_YAML --bootstrap HOST:PORT
       kafka_acl_test.py run --config YAML --kafka-dir DIR --bootstrap HOST:PORT
                             --controller HOST:PORT

`config` writes the run's configuration: config/turnout.yaml with kafka.name_prefix "acl.",
the ISO 8583 channels as in-process simulators, the PSP channel (http_json, asynchronous:
webhooks and payments.pending) against a `turnout-sim psp` of the run on free ports, short
settlement windows, the gateway on a free port with a generated API key (kept next to the
config, mode 600). test/integration/kafka_acl_test.sh
then starts the broker (scripts/kafka-local start --secure), which makes the topics, one SCRAM
user per role and the ACLs, and calls `run`:

 1. Every role as its own process with its own principal: router, risk, one connector per
    channel, settlement, state and the gateway, each with only TURNOUT__KAFKA__PROPERTIES of
    its principal (DIR/secure/users/<principal>.env) in its environment.
 2. `turnout loadgen` as User:loadgen: TURNOUT_ACL_COUNT payments (default 2,000) with 2 %
    duplicates: exactly one result each, every duplicate answered, settlement exact. One sale
    through the gateway (User:gateway) and its state read back from the state role.
    `turnout dlq list` and `turnout status` as User:operator.
 3. Each role stops cleanly (exit 0); no role's log shows a refusal other than the metadata
    the stage runner looks up at start for every topic a stage might write.
 4. Refusals, each the broker's answer, printed: risk writing payments.requests; a connector
    writing payments.requests, payments.routed or settlement.batches; a connector reading
    another channel's topic; every principal but the connectors writing channels.health; a
    client without SASL on the client and on the controller listener (the broker closes the
    connection: failed authentication), a wrong password and a role's credentials on the
    controller listener (SASL authentication failed). Controls, the same principals writing
    topics they own, are accepted.
 5. acls.py finds exactly the planned bindings on the broker (no extra, none missing).

Environment: TURNOUT_BIN (default build/turnout), TURNOUT_SIM_BIN (default turnout-sim beside
it). Exit status 0 on success, 1 on failure;
the run's files stay under the config's folder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "kafka"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from acls import read_properties  # noqa: E402
from prometheus_test import as_simulator_channels, free_port  # noqa: E402
from supervise import NotReady, Process, Supervisor  # noqa: E402  scripts/supervise.py

TURNOUT = Path(os.environ.get("TURNOUT_BIN", ROOT / "build" / "turnout"))
SIM = Path(os.environ.get("TURNOUT_SIM_BIN", TURNOUT.parent / "turnout-sim"))
PY = Path(sys.executable)
COUNT = int(os.environ.get("TURNOUT_ACL_COUNT", "2000"))
PREFIX = "acl."
MERCHANT = "m-acl"
T0 = time.monotonic()
failures: list[str] = []


def log(msg: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def check(ok: bool, what: str) -> bool:
    log(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)
    return ok


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


# ------------------------------------------------------------------------------- config

def write_config(out: Path, bootstrap: str) -> None:
    run_dir = out.parent
    run_dir.mkdir(parents=True, exist_ok=True)
    c = yaml.safe_load((ROOT / "config" / "turnout.yaml").read_text())
    # The PSP channel stays http_json, asynchronous (webhooks, payments.pending), against a
    # `turnout-sim psp` of the run on free ports; the ISO 8583 channels become in-process
    # simulators.
    psp = next(ch for ch in c["channels"] if ch.get("kind") == "http_json")
    psp_copy = dict(psp)
    c = as_simulator_channels(c)
    for i, ch in enumerate(c["channels"]):
        if ch["id"] == psp_copy["id"]:
            psp_copy.update(endpoint=f"https://127.0.0.1:{free_port()}",
                            tls={"ca_file": str(run_dir / "psp-certs" / "ca.pem")},
                            keys_file=str(ROOT / psp_copy["keys_file"]),
                            webhook={**psp_copy.get("webhook", {}), "listen": f"127.0.0.1:{free_port()}"})
            c["channels"][i] = psp_copy
        else:
            ch["ledger_file"] = str(run_dir / f"ledger-{ch['id']}.log")
    c["kafka"]["bootstrap_servers"] = bootstrap
    c["kafka"]["name_prefix"] = PREFIX
    c["kafka"]["properties"] = {}  # each process gets its principal's from its environment
    c["settlement"].update(window_seconds=3, grace_seconds=1, output_dir=str(run_dir / "settlement"))
    keys = Path(c["security"]["keys_file"])
    c["security"]["keys_file"] = str(keys if keys.is_absolute() else ROOT / keys)
    c["metrics"]["port"] = 0
    c["state_dir"] = str(run_dir / "state")
    state_port = free_port()
    c["state"].update(http_address="127.0.0.1", http_port=state_port)
    key = "tk_" + secrets.token_urlsafe(24)
    key_file = run_dir / "gateway-keys.txt"
    key_file.write_text(f"{MERCHANT} {hashlib.sha256(key.encode()).hexdigest()}\n")
    fd = os.open(run_dir / "gateway.key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    c["gateway"] = {**(c.get("gateway") or {}), "enabled": False, "address": "127.0.0.1", "port": free_port(),
                    "api_keys_file": str(key_file), "wait_ms": 5000,
                    "state_url": f"http://127.0.0.1:{state_port}",
                    "openapi_file": str(ROOT / "docs" / "openapi.yaml")}
    out.write_text(yaml.safe_dump(c, sort_keys=False))
    print(f"kafka_acl_test: wrote {out}")


# ---------------------------------------------------------------------------- processes

def principal_env(users: Path, principal: str) -> dict:
    """The environment of a process acting as `principal`: only its own Kafka credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TURNOUT__") and k != "TURNOUT_BOOTSTRAP"}
    for line in (users / f"{principal}.env").read_text().splitlines():
        k, _, v = line.partition("=")
        env[k] = v
    return env


class Procs(Supervisor):
    """The processes of the run (scripts/supervise.py), each with its principal's environment."""

    def start(self, name: str, argv: list, env: dict, logfile: Path) -> Process:
        p = super().start(name, argv, logfile, env=env, append=False)
        log(f"started {name} (pid {p.pid})")
        return p


def wait_assigned(logs: dict, procs: dict, timeout: float = 90.0) -> bool:
    """Every stage role has its partitions (its log says `assigned`)."""
    deadline = time.monotonic() + timeout
    waiting = set(logs)
    while waiting and time.monotonic() < deadline:
        for name in list(waiting):
            if procs[name].poll() is not None:
                check(False, f"{name} exited with {procs[name].returncode} at start (log {logs[name]})")
                return False
            if re.search(r": assigned [1-9]\d* partitions", logs[name].read_text(errors="replace")):
                waiting.discard(name)
        time.sleep(0.3)
    return check(not waiting, f"every role has its partitions (waiting for: {sorted(waiting) or 'none'})")


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 10):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# ----------------------------------------------------------------------------- refusals

def client_conf(bootstrap: str, props: dict) -> dict:
    return {"bootstrap.servers": bootstrap, "log_level": 0, **props}


def produce_one(bootstrap: str, props: dict, topic: str, timeout: float = 8.0):
    """Produce one record; (delivery error or None, client errors)."""
    from confluent_kafka import Producer

    errs, res = [], {}
    p = Producer({**client_conf(bootstrap, props), "message.timeout.ms": int(timeout * 1000),
                  "error_cb": lambda e: errs.append(e)})
    p.produce(topic, b'{"acl_test":true}', key=b"acl-test",
              on_delivery=lambda err, _msg: res.__setitem__("err", err))
    p.flush(timeout + 2)
    return res.get("err", "no delivery report"), errs


def read_one(bootstrap: str, props: dict, group: str, topic: str, timeout: float = 8.0):
    """Read partition 0 of `topic` from the start; the first error (or None if none came)."""
    from confluent_kafka import Consumer, TopicPartition

    errs = []
    c = Consumer({**client_conf(bootstrap, props), "group.id": group, "enable.auto.commit": False,
                  "error_cb": lambda e: errs.append(e)})
    c.assign([TopicPartition(topic, 0, 0)])
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline and got is None:
        m = c.poll(0.5)
        if m is not None:
            got = m.error() or "a record"
        elif errs:
            got = errs[0]
    c.close()
    return got


def refusals(cfg: dict, users: Path, bootstrap: str, controller: str, broker_log: Path) -> None:
    from confluent_kafka import KafkaError

    t = {k: PREFIX + v for k, v in cfg["kafka"]["topics"].items()}
    channels = [ch["id"] for ch in cfg["channels"]]
    creds = {p.stem: read_properties(p) for p in users.glob("*.properties")}
    connectors = [f"connector-{c}" for c in channels]
    a, b = channels[0], channels[1]
    denied = KafkaError.TOPIC_AUTHORIZATION_FAILED

    def refused_write(who: str, topic: str) -> None:
        err, _ = produce_one(bootstrap, creds[who], topic)
        code = err.code() if isinstance(err, KafkaError) else None
        log(f"  {who} → {topic}: {err}")
        check(code == denied, f"User:{who} writing {topic} is refused by the broker (TOPIC_AUTHORIZATION_FAILED)")

    def allowed_write(who: str, topic: str, why: str) -> None:
        err, _ = produce_one(bootstrap, creds[who], topic)
        log(f"  {who} → {topic}: {err or 'accepted'}")
        check(err is None, f"User:{who} writing {topic} is accepted ({why})")

    log("writes the broker must refuse, and controls")
    refused_write("risk", t["requests"])
    allowed_write("risk", t["channel_prefix"] + a, "control: risk forwards to the channels")
    for topic in (t["requests"], t["routed"], t["batches"], t["state"]):
        refused_write(f"connector-{a}", topic)
    allowed_write(f"connector-{a}", t["results"], "control: a connector writes results")
    # A soft failure goes on to the next channel of the plan: every connector may write every
    # channel topic, but reads only its own (where card data of the other channel waits).
    allowed_write(f"connector-{a}", t["channel_prefix"] + b, "fallback to the next channel of the plan")
    err = read_one(bootstrap, creds[f"connector-{a}"], f"{PREFIX}turnout.connector.{a}", t["channel_prefix"] + b)
    log(f"  connector-{a} reads {t['channel_prefix'] + b}: {err}")
    check(isinstance(err, KafkaError) and err.code() == denied,
          f"User:connector-{a} reading {t['channel_prefix'] + b} is refused by the broker (TOPIC_AUTHORIZATION_FAILED)")
    for who in sorted(creds):
        if who in connectors:
            continue
        refused_write(who, t["health"])
    allowed_write(connectors[-1], t["health"], "control: the connectors publish channel health")

    log("clients the broker must not let in")
    for name, where in (("client", bootstrap), ("controller", controller)):
        answer, said = unauthenticated_request(where, broker_log)
        log(f"  no SASL, DescribeCluster to the {name} listener {where}: {answer}")
        if said:
            log(f"  broker: {said}")
        check(answer == "connection closed, no answer" and "Failed authentication" in said,
              f"a client without SASL on the {name} listener is refused (the broker closes: failed authentication)")
    wrong = dict(creds["risk"], **{"sasl.password": "not-" + creds["risk"]["sasl.password"]})
    _, errs = produce_one(bootstrap, wrong, t["channel_prefix"] + a, timeout=3)
    auth = [e for e in errs if e.code() == KafkaError._AUTHENTICATION]
    log(f"  risk with a wrong password: {auth[0].str() if auth else errs[:1]}")
    check(bool(auth) and "Authentication failed" in auth[0].str(),
          "a wrong password is refused by the broker (SASL authentication failed)")
    # A role's own credentials do not open the controller listener (PLAIN, its one user).
    plain = dict(creds["router"], **{"sasl.mechanism": "PLAIN"})
    _, errs = produce_one(controller, plain, t["requests"], timeout=3)
    auth = [e for e in errs if e.code() == KafkaError._AUTHENTICATION]
    log(f"  router's credentials on the controller listener: {auth[0].str() if auth else errs[:1]}")
    check(bool(auth) and "Authentication failed" in auth[0].str(),
          "a role's credentials are refused on the controller listener (SASL authentication failed)")


def unauthenticated_request(hostport: str, broker_log: Path):
    """A DescribeCluster request (v0) without SASL: the client's view and the broker's log line."""
    host, port = hostport.rsplit(":", 1)
    mark = broker_log.stat().st_size
    cid = b"kafka-acl-test"
    body = struct.pack(">hhih", 60, 0, 1, len(cid)) + cid + b"\x00" + b"\x00\x00"
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        try:
            data = sock.recv(64)
            answer = "connection closed, no answer" if not data else f"answered {len(data)} bytes"
        except OSError as e:
            answer = f"{e}"
    said = ""
    for _ in range(20):
        time.sleep(0.1)
        with open(broker_log, "rb") as f:
            f.seek(mark)
            lines = [ln for ln in f.read().decode(errors="replace").splitlines()
                     if "Failed authentication" in ln and f":{port}-" in ln]
        if lines:
            said = lines[0].split("] ", 1)[-1]
            break
    return answer, said


# ---------------------------------------------------------------------------------- run

def run(args) -> int:
    signal.signal(signal.SIGTERM, on_signal)
    cfg_path = Path(args.config).resolve()
    cfg = yaml.safe_load(cfg_path.read_text())
    run_dir = cfg_path.parent
    kafka_dir = Path(args.kafka_dir).resolve()
    users = kafka_dir / "secure" / "users"
    logs_dir = run_dir / "logs"
    logs_dir.mkdir(exist_ok=True)
    for binary in (TURNOUT, SIM):
        if not binary.is_file():
            check(False, f"{binary} not found (build first)")
            return 1
    for p in sorted(users.glob("*")):
        check(p.stat().st_mode & 0o077 == 0, f"{p.name} is readable by its owner only")

    procs = Procs()
    try:
        # The PSP's host (no Kafka client): its HTTPS endpoint, webhooks to the connector.
        psp = next(ch for ch in cfg["channels"] if ch.get("kind") == "http_json")
        sim = procs.start(f"turnout-sim psp --channel {psp['id']}",
                          [SIM, "psp", "--config", cfg_path, "--channel", psp["id"],
                           "--ledger", run_dir / f"ledger-{psp['id']}.log"],
                          dict(os.environ), logs_dir / "turnout-sim-psp.txt")
        host, port = psp["endpoint"].removeprefix("https://").rsplit(":", 1)
        try:
            serving = bool(sim.wait_port(int(port), host, timeout=30))
        except NotReady:
            serving = False
        if not check(serving, f"turnout-sim psp serves {psp['endpoint']}"):
            return 1
        roles = [("router", "router", []), ("risk", "risk", []), ("settlement", "settlement", []),
                 ("state", "state", [])]
        roles += [(f"connector-{c['id']}", "connector", ["--channel", c["id"]]) for c in cfg["channels"]]
        started, logs = {}, {}
        for principal, role, extra in roles:
            logs[principal] = logs_dir / f"{principal}.log"
            started[principal] = procs.start(
                f"turnout {role} {' '.join(extra)} as User:{principal}",
                [TURNOUT, role, *extra, "--config", cfg_path, "--metrics-port", "0"],
                principal_env(users, principal), logs[principal])
        gateway = procs.start("turnout gateway as User:gateway",
                              [TURNOUT, "gateway", "--config", cfg_path, "--metrics-port", "0"],
                              principal_env(users, "gateway"), logs_dir / "gateway.log")
        for principal, p in started.items():
            argv = Path(f"/proc/{p.pid}/cmdline").read_bytes().decode(errors="replace")
            pw = read_properties(users / f"{principal}.properties")["sasl.password"]
            if pw in argv:
                check(False, f"{principal}'s password is on its command line")
        if not wait_assigned(logs, started):
            return 1

        # The pipeline, fed by the load generator as User:loadgen.
        report_path = run_dir / "loadgen-report.json"
        r = subprocess.run([str(TURNOUT), "loadgen", "--config", str(cfg_path), "--count", str(COUNT),
                            "--seed", "4711", "--run-id", f"acl{int(time.time())}", "--duplicate-share", "0.02",
                            "--timeout", "60", "--report-json", str(report_path)],
                           cwd=ROOT, env=principal_env(users, "loadgen"), capture_output=True, text=True,
                           timeout=240)
        log(f"turnout loadgen --count {COUNT} as User:loadgen -> exit {r.returncode}")
        for line in (r.stdout + r.stderr).strip().splitlines()[-12:]:
            print("    " + line)
        rep = json.loads(report_path.read_text()) if report_path.exists() else {}
        check(r.returncode == 0 and rep.get("ok") is True, "the load generator's report is ok")
        check(rep.get("sent") == COUNT, f"{rep.get('sent')} of {COUNT} payments sent")
        check(rep.get("missing") == 0 and rep.get("doubled") == 0 and rep.get("unexpected") == 0
              and rep.get("received") == rep.get("expected_results"),
              f"exactly one result each ({rep.get('received')} of {rep.get('expected_results')}, "
              f"missing {rep.get('missing')}, doubled {rep.get('doubled')})")
        check(rep.get("duplicate_answers") == rep.get("duplicates_sent") and rep.get("duplicates_sent", 0) > 0,
              f"every duplicate answered as one ({rep.get('duplicate_answers')} of {rep.get('duplicates_sent')})")
        check(rep.get("settlement_matches") is True and rep.get("batches", 0) > 0,
              f"settlement exact ({rep.get('batches')} batches, net {rep.get('settled_net')})")

        # The gateway (User:gateway) takes a sale; the state role answers for it.
        key = (run_dir / "gateway.key").read_text().strip()
        base = f"http://127.0.0.1:{cfg['gateway']['port']}"
        pid = f"acl-gw-{int(time.time())}"
        sale = {"payment_id": pid, "type": "sale", "merchant": {"id": MERCHANT, "mcc": "5411", "country": "GB"},
                "amount": {"value": 1234, "currency": "USD"},
                "instrument": {"kind": "card", "pan": "4242424242424242", "expiry": "3210"},
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
        status, body = 0, b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and gateway.poll() is None:
            try:
                status, body = http("POST", base + "/v1/payments", json.dumps(sale).encode(),
                                     {"Authorization": f"Bearer {key}", "Idempotency-Key": pid,
                                      "Content-Type": "application/json"})
                break
            except OSError:
                time.sleep(0.5)
        if status == 202:  # not final within wait_ms: the state role answers for it
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and status != 200:
                time.sleep(0.5)
                status, body = http("GET", f"{base}/v1/payments/{pid}", headers={"Authorization": f"Bearer {key}"})
        check(status == 200 and pid.encode() in body,
              f"a sale through the gateway (User:gateway) answered: {status} {body[:160]!r}")

        # Operator tools as User:operator.
        op = principal_env(users, "operator")
        r = subprocess.run([str(TURNOUT), "dlq", "list", "--config", str(cfg_path), "--limit", "3"], cwd=ROOT, env=op,
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, f"turnout dlq list as User:operator -> exit {r.returncode}: "
                                 f"{(r.stdout + r.stderr).strip().splitlines()[-1:]}")
        sample = rep.get("sample_payment") or pid
        r = subprocess.run([str(TURNOUT), "status", sample, "--config", str(cfg_path)], cwd=ROOT, env=op,
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, f"turnout status {sample} as User:operator -> exit {r.returncode}")

        # Each role stops cleanly; no refusal in its log but the start-up metadata look-ups.
        for p in list(procs.procs):
            rc = procs.stop(p)
            check(rc == 0, f"{p.name} stopped with exit {rc}")
        prefetch = re.compile(r"no metadata for output topic \S+ yet: topic \S+: Broker: Topic authorization failed")
        for f in sorted(logs_dir.glob("*.log")):
            text = f.read_text(errors="replace")
            refused = [ln for ln in text.splitlines() if re.search(r"(?i)authori[sz]ation|authentication", ln)]
            expected = [ln for ln in refused if prefetch.search(ln)]
            other = [ln for ln in refused if not prefetch.search(ln)]
            for ln in other[:5]:
                print("    " + ln)
            check(not other, f"{f.name}: no refusal ({len(expected)} start-up metadata look-ups of topics "
                             f"it does not write)")

        refusals(cfg, users, args.bootstrap, args.controller, kafka_dir / "broker.log")
        denied = [ln for ln in (kafka_dir / "broker.log").read_text(errors="replace").splitlines()
                  if "is Denied operation" in ln]
        log(f"broker.log: {len(denied)} denied operations logged by the authorizer, e.g.")
        for ln in denied[-3:]:
            print("    " + ln.split("] ", 1)[-1])

        # The broker holds exactly the planned bindings (acls.py reads them back).
        r = subprocess.run([str(PY), str(ROOT / "scripts" / "kafka" / "acls.py"), "--config", str(cfg_path),
                            "--bootstrap", args.bootstrap, "--client-properties",
                            str(kafka_dir / "secure" / "admin.properties")],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
        print("    " + (r.stdout.strip().splitlines() or [""])[-1])
        for line in r.stderr.strip().splitlines():
            print("    " + line)
        check(r.returncode == 0, "acls.py: the broker holds exactly the ACLs of the topic catalogue")
    finally:
        procs.stop_all()

    if failures:
        log(f"FAILED ({len(failures)}); files in {run_dir}")
        for f in failures:
            print("  - " + f)
        return 1
    log(f"least privilege on Kafka: the pipeline runs, the broker refuses the rest ({run_dir})")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("config")
    c.add_argument("out")
    c.add_argument("--bootstrap", required=True)
    r = sub.add_parser("run")
    r.add_argument("--config", required=True)
    r.add_argument("--kafka-dir", required=True)
    r.add_argument("--bootstrap", required=True)
    r.add_argument("--controller", required=True)
    args = ap.parse_args()
    if args.cmd == "config":
        write_config(Path(args.out).resolve(), args.bootstrap)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
