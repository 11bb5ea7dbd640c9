#!/usr/bin/env python3
"""The DR site of scripts/dr against the real primary broker: a DR cluster beside it on
loopback, MirrorMaker 2 between them, and what arrives at DR checked record by record.

usage: dr_replication_test.py [--bootstrap HOST:PORT]   (default: TURNOUT_BOOTSTRAP or 127.0.0.1:9092)

 1. A config of the run (config/turnout.yaml, kafka.name_prefix "dr-<run>.", the primary at
    --bootstrap) and `scripts/dr start --config` on it: the DR cluster (kafka-local --site dr,
    the run's topics made there as on the primary) and MirrorMaker 2.
 2. On the primary, in payments.requests of the run: a committed transaction of 40 records, an
    aborted one of 15, a committed one of 10; the group <prefix>turnout.router commits offset
    25 of partition 0 (no member at DR).
 3. At DR, within 90 s: the same topic name holds exactly the 50 committed records (keys,
    values, timestamps and partitions as on the primary), none of the aborted ones; the
    group's committed offset at DR is translated to the DR offset of the record the primary's
    offset names or an earlier one (records may be read again at DR, none skipped).
 4. `scripts/dr status` exits 0 and names the topic. MirrorMaker's metrics endpoint carries
    the replication latency of the run's topic, and a real Prometheus scraping it with
    config/prometheus/turnout-dr-alerts.yml gets data for each alert's signal (the alert
    expression without its comparison). `scripts/dr stop` stops MirrorMaker.
The DR cluster is stopped and its data removed at the end when this test started it.
Exit status 0 on success, 1 on failure.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import urllib.parse

import yaml
from confluent_kafka import Consumer, Producer, TopicPartition

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "scripts"))
from supervise import Supervisor, http_get  # noqa: E402  scripts/supervise.py

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DR = "127.0.0.1:" + (os.environ.get("TURNOUT_DR_KAFKA_PORT") or "9292")
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def run(*argv, **kw):
    return subprocess.run([os.path.join(ROOT, "scripts", argv[0]), *argv[1:]], **kw)


def read_all(bootstrap, topic, isolation="read_committed", timeout=10.0):
    """Every record of a topic: {(partition, offset): (key, value, timestamp)}."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "dr-test-reader-" + uuid.uuid4().hex,
                  "enable.auto.commit": False, "isolation.level": isolation, "log_level": 0})
    try:
        md = c.list_topics(topic, timeout=timeout)
        if topic not in md.topics or md.topics[topic].error is not None:
            return None
        parts = list(md.topics[topic].partitions)
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1] for p in parts}
        c.assign([TopicPartition(topic, p, 0) for p in parts])
        out, deadline = {}, time.time() + timeout
        while time.time() < deadline:
            if all(c.position([TopicPartition(topic, p)])[0].offset >= ends[p] for p in parts if ends[p] > 0):
                break
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            out[(m.partition(), m.offset())] = (m.key(), m.value(), m.timestamp()[1])
        return out
    finally:
        c.close()


def committed(bootstrap, group, topic, partition):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False, "log_level": 0})
    try:
        return c.committed([TopicPartition(topic, partition)], timeout=10)[0].offset
    finally:
        c.close()


def free_port():
    with socket.socket() as s_:
        s_.bind(("127.0.0.1", 0))
        return s_.getsockname()[1]


def alert_signals(rules_path):
    """{alert: its expression without the trailing comparison}."""
    rules = yaml.safe_load(open(rules_path, encoding="utf-8"))
    out = {}
    for g in rules["groups"]:
        for r in g["rules"]:
            if "alert" in r:
                m = re.fullmatch(r"(?s)\s*(.*?)\s*(==|!=|>=|<=|>|<)\s*[0-9.e+]+\s*", r["expr"])
                out[r["alert"]] = m.group(1) if m else r["expr"]
    return out


def check_prometheus(work, topic):
    """MirrorMaker's metrics endpoint and a real Prometheus with the DR alert rules."""
    port = int(os.environ.get("TURNOUT_DR_MIRROR_METRICS_PORT") or 9468)
    try:
        body = http_get(f"http://127.0.0.1:{port}/metrics", 5.0)[1]
    except OSError as e:
        check(False, f"MirrorMaker's /metrics on port {port} answers ({e})")
        return
    check(re.search(r'turnout_dr_mirror_source_replication_latency_ms_max\{[^}]*topic="%s"' % re.escape(topic), body)
          is not None, f"MirrorMaker's /metrics has the replication latency of {topic}")
    prom = shutil.which("prometheus")
    if not prom:
        check(False, "prometheus on PATH (scripts/setup installs it)")
        return
    rules = os.path.join(ROOT, "config", "prometheus", "turnout-dr-alerts.yml")
    config = os.path.join(work, "prometheus.yml")
    with open(config, "w", encoding="utf-8") as f:
        yaml.safe_dump({"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "rule_files": [rules],
                        "scrape_configs": [{"job_name": "turnout-dr-mirror",
                                            "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}]}, f)
    web = free_port()
    with Supervisor() as sup:
        p = sup.start("prometheus", [prom, f"--config.file={config}", f"--storage.tsdb.path={work}/tsdb",
                                     f"--web.listen-address=127.0.0.1:{web}"], log=os.path.join(work, "prometheus.log"))
        p.wait_http(f"http://127.0.0.1:{web}/-/ready", timeout=60)
        for alert, signal in alert_signals(rules).items():
            url = f"http://127.0.0.1:{web}/api/v1/query?" + urllib.parse.urlencode({"query": signal})
            got, deadline = [], time.time() + 30
            while not got and time.time() < deadline:
                got = json.loads(http_get(url, 5.0)[1])["data"]["result"]
                if not got:
                    time.sleep(1)
            check(bool(got), f"{alert}: its signal `{signal}` returns data from Prometheus")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", default=os.environ.get("TURNOUT_BOOTSTRAP") or "127.0.0.1:9092")
    args = ap.parse_args()
    run_id = uuid.uuid4().hex[:8]
    prefix = f"dr-{run_id}."
    with open(os.path.join(ROOT, "config", "turnout.yaml"), encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    cfg["kafka"]["bootstrap_servers"] = args.bootstrap
    cfg["kafka"]["name_prefix"] = prefix
    work = tempfile.mkdtemp(prefix="turnout-dr-")
    config = os.path.join(work, "turnout.yaml")
    with open(config, "w", encoding="utf-8") as f:
        yaml.safe_dump(cfg, f)
    topic, group = prefix + "payments.requests", prefix + "turnout.router"
    # The primary's topics of the run (the DR site's are made by scripts/dr start).
    if run("kafka-local", "topics", "--config", config).returncode:
        check(False, "the run's topics on the primary")
        return 1
    started_dr = run("kafka-local", "status", "--site", "dr", stdout=subprocess.DEVNULL).returncode != 0
    try:
        check(run("dr", "start", "--config", config).returncode == 0, "scripts/dr start: DR cluster and MirrorMaker 2")

        p = Producer({"bootstrap.servers": args.bootstrap, "transactional.id": "dr-test-" + run_id, "linger.ms": 5})
        p.init_transactions(30)
        sent = {}
        for name, n, commit in (("c1", 40, True), ("a", 15, False), ("c2", 10, True)):
            p.begin_transaction()
            for i in range(n):
                key = f"{run_id}-{name}-{i}"
                sent[key] = commit
                p.produce(topic, key=key, value=f'{{"n":{i}}}', partition=0 if i % 3 else 1)
            p.flush(30)
            (p.commit_transaction if commit else p.abort_transaction)(30)
        primary = read_all(args.bootstrap, topic)
        check(len(primary) == 50, f"the primary holds the 50 committed records ({len(primary)})")
        # The router group's position on the primary: offset 25 of partition 0.
        c = Consumer({"bootstrap.servers": args.bootstrap, "group.id": group, "enable.auto.commit": False,
                      "log_level": 0})
        c.commit(offsets=[TopicPartition(topic, 0, 25)], asynchronous=False)
        c.close()

        deadline, dr = time.time() + 90, None
        while time.time() < deadline:
            dr = read_all(DR, topic) or {}
            if len(dr) >= 50:
                break
            time.sleep(1)
        dr = dr or {}
        check(len(dr) == 50, f"DR holds 50 records under the same topic name ({len(dr)})")
        keys = sorted(k.decode() for k, _, _ in dr.values())
        check(keys == sorted(k for k, ok in sent.items() if ok), "exactly the committed records' keys, none aborted")
        by_key = {k: (p_, v, ts) for (p_, _), (k, v, ts) in primary.items()}
        same = all(by_key.get(k) == (p_, v, ts) for (p_, _), (k, v, ts) in dr.items())
        check(same, "each record with its partition, value and timestamp as on the primary")
        # The primary's offset 25 of partition 0 names a record. MirrorMaker translates a group
        # offset to the DR offset of that record or to an earlier one (it keeps offset syncs at
        # growing distances): a DR consumer may read some records again, never skips one.
        at_primary = primary.get((0, 25))
        dr_of_record = next((o for (p_, o), (k, _, _) in dr.items() if p_ == 0 and at_primary and k == at_primary[0]),
                            None)
        deadline, dr_offset = time.time() + 60, None
        while time.time() < deadline:
            dr_offset = committed(DR, group, topic, 0)
            if dr_offset is not None and dr_offset >= 0:
                break
            time.sleep(1)
        check(dr_of_record is not None and dr_offset is not None and 0 <= dr_offset <= dr_of_record,
              f"{group} at DR translated to offset {dr_offset}, at or before offset {dr_of_record} "
              f"of the record the primary's offset 25 names: nothing skipped")

        st = run("dr", "status", "--config", config, capture_output=True, text=True)
        print(st.stdout, end="")
        check(st.returncode == 0 and topic in st.stdout, "scripts/dr status: replicating, the topic listed")
        check_prometheus(work, topic)
    finally:
        run("dr", "stop")
        if started_dr:
            run("kafka-local", "reset", "--site", "dr")
    print(f"dr_replication_test: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
