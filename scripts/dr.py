"""A second site for disaster recovery: the DR Kafka cluster (scripts/kafka-local --site dr)
fed by MirrorMaker 2 from the primary (docs/disaster-recovery.md).

usage: scripts/dr start|stop|status|failover|fetch [--config FILE]
       scripts/dr drill [--small] [--payments N] [--rate R] [--seed S] [--keep]

  fetch   resolve MirrorMaker 2's jars (connect-mirror, the broker's Kafka version) with
          Maven into var/kafka-cache/mirror-lib (once)
  start   start the DR cluster if it is not running (its topics made from the config, as on
          the primary), then MirrorMaker 2 replicating primary -> dr: every topic of the
          topic catalogue under its own name (IdentityReplicationPolicy), read committed
          (records of aborted transactions are never copied), written exactly once, and the
          committed offsets of Turnout's consumer groups translated to the DR offsets; waits
          until MirrorMaker's heartbeats arrive at DR
  stop    stop MirrorMaker 2 (the clusters keep running)
  failover  the primary is lost: stop MirrorMaker 2, then `turnout dr-takeover --config FILE`
          (FILE: the DR site's config) answers the payments the primary left in flight by
          asking their channels and sets where each stage resumes; start the roles at DR
          after it (report in var/dr/takeover.json)
  drill   lose a primary site under load and fail over, measured (scripts/drill.py)
  status  MirrorMaker running or not, the age of its last heartbeat at DR, and per topic the
          replication lag: seconds between the newest record at the primary and the newest
          at DR (0 when DR has it); exit 0 when replication runs, 3 when not

The primary is the cluster of the config (kafka.bootstrap_servers, default 127.0.0.1:9092);
DR is 127.0.0.1:9292 (TURNOUT_DR_KAFKA_PORT). MirrorMaker's files are in var/dr/
(mirror.properties, mirror.log, mirror.pid); its metrics (replication latency per topic
partition, for config/prometheus/turnout-dr-alerts.yml) are served on
127.0.0.1:9468/metrics (TURNOUT_DR_MIRROR_METRICS_PORT).
"""
import os
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "kafka"))
import catalogue  # noqa: E402  scripts/kafka/catalogue.py
import local  # noqa: E402  scripts/kafka/local.py (the jar cache, java)
from supervise import NotReady, Process, read_pid, stop_pids  # noqa: E402

DR_DIR = os.environ.get("TURNOUT_DR_DIR") or os.path.join(ROOT, "var", "dr")
MIRROR_LIB = os.path.join(ROOT, "var", "kafka-cache", "mirror-lib")
MIRROR_POM = os.path.join(HERE, "kafka", "mirror-pom.xml")
PIDFILE = os.path.join(DR_DIR, "mirror.pid")
PROPS = os.path.join(DR_DIR, "mirror.properties")
MAIN_CLASS = "org.apache.kafka.connect.mirror.MirrorMaker"
AGENT = "jmx_prometheus_javaagent-1.0.1.jar"
START_TIMEOUT = 120


class Failed(Exception):
    pass


def say(msg):
    print(f"dr: {msg}", flush=True)


def metrics_port():
    """Where MirrorMaker's metrics are served for Prometheus (/metrics)."""
    return int(os.environ.get("TURNOUT_DR_MIRROR_METRICS_PORT") or 9468)


def dr_bootstrap():
    return f"127.0.0.1:{os.environ.get('TURNOUT_DR_KAFKA_PORT') or '9292'}"


def load_config(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def primary_bootstrap(cfg):
    return str((cfg.get("kafka") or {}).get("bootstrap_servers") or "127.0.0.1:9092")


def replicated_topics(cfg):
    """The names of every Turnout topic of the config: the catalogue's, and the channel topics."""
    def fail(msg):
        raise Failed(msg)
    return sorted(catalogue.topic_configs(cfg, fail))


def group_pattern(cfg):
    pre = (cfg.get("kafka") or {}).get("name_prefix") or ""
    return (pre + "turnout.").replace(".", "\\.") + ".*"


def mirror_properties(cfg):
    """MirrorMaker 2's configuration (dedicated mode, one flow primary -> dr)."""
    topics = ", ".join(t.replace(".", "\\.") for t in replicated_topics(cfg))
    lines = [
        "# Written by scripts/dr start; see docs/disaster-recovery.md.",
        "clusters = primary, dr",
        f"primary.bootstrap.servers = {primary_bootstrap(cfg)}",
        f"dr.bootstrap.servers = {dr_bootstrap()}",
        "primary->dr.enabled = true",
        "dr->primary.enabled = false",
        f"primary->dr.topics = {topics}",
        f"primary->dr.groups = {group_pattern(cfg)}",
        # The same topic names at DR, so the DR site's Turnout runs on its own config.
        "replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
        # Only committed records: an aborted or open transaction of the primary never reaches DR.
        "primary.consumer.isolation.level = read_committed",
        # Written to DR in transactions with MirrorMaker's own offsets: no copy twice after a restart.
        "exactly.once.source.support = enabled",
        "dedicated.mode.enable.internal.rest = true",
        "listeners = http://127.0.0.1:0",
        "tasks.max = 2",
        # Consumer-group offsets translated to DR offsets every second (applied while the
        # group has no members at DR), offset syncs for every record.
        "sync.group.offsets.enabled = true",
        "sync.group.offsets.interval.seconds = 1",
        "emit.checkpoints.interval.seconds = 1",
        "offset.lag.max = 0",
        "emit.heartbeats.interval.seconds = 1",
        "refresh.topics.interval.seconds = 10",
        "refresh.groups.interval.seconds = 5",
        "sync.topic.configs.enabled = true",
        "sync.topic.acls.enabled = false",
        # One-broker DR cluster of scripts/kafka-local: replication factor 1 for MirrorMaker's topics.
        "replication.factor = 1",
        "checkpoints.topic.replication.factor = 1",
        "heartbeats.topic.replication.factor = 1",
        "offset-syncs.topic.replication.factor = 1",
        "offset.storage.replication.factor = 1",
        "status.storage.replication.factor = 1",
        "config.storage.replication.factor = 1",
    ]
    return "\n".join(lines) + "\n"


def mirror_pid():
    return read_pid(PIDFILE, match=MAIN_CLASS)


def kafka_local(*args):
    rc = subprocess.run([os.path.join(ROOT, "scripts", "kafka-local"), *args]).returncode
    if rc:
        raise Failed(f"scripts/kafka-local {' '.join(args)} failed ({rc})")


def fetch():
    try:
        local.fetch(MIRROR_POM, MIRROR_LIB, "MirrorMaker 2", tell=say)
    except local.Failed as e:
        raise Failed(str(e))


def heartbeat_age(timeout=5.0):
    """Seconds since the newest MirrorMaker heartbeat at DR, or None when there is none."""
    newest = newest_timestamps(dr_bootstrap(), ["heartbeats"], timeout).get("heartbeats")
    return None if newest is None else max(0.0, time.time() - newest / 1000.0)


def fresh(age):
    """A heartbeat age that shows MirrorMaker running (under 10 s)."""
    return age is not None and age < 10


def newest_timestamps(bootstrap, topics, timeout=5.0):
    """{topic: timestamp (ms) of its newest committed record, None when empty or missing}."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "turnout-dr-status", "enable.auto.commit": False,
                  "isolation.level": "read_committed", "log_level": 0})
    try:
        md = c.list_topics(timeout=timeout)
        out = {}
        for t in topics:
            out[t] = None
            if t not in md.topics or md.topics[t].error is not None:
                continue
            for p in md.topics[t].partitions:
                lo, hi = c.get_watermark_offsets(TopicPartition(t, p), timeout=timeout)
                if hi <= lo:
                    continue
                # The last few offsets: transaction markers take offsets but are not records.
                c.assign([TopicPartition(t, p, max(lo, hi - 8))])
                deadline = time.time() + timeout
                while time.time() < deadline:
                    m = c.poll(0.2)
                    if m is None:
                        if c.position([TopicPartition(t, p)])[0].offset >= hi:
                            break
                        continue
                    if m.error():
                        continue
                    ts = m.timestamp()[1]
                    if out[t] is None or ts > out[t]:
                        out[t] = ts
                    if m.offset() + 1 >= hi:
                        break
        return out
    finally:
        c.close()


def start(cfg, config):
    kafka_local("start", "--site", "dr", "--config", config)
    kafka_local("topics", "--site", "dr", "--config", config)
    fetch()
    if mirror_pid():
        say(f"MirrorMaker 2 already running (pid {mirror_pid()})")
        return
    os.makedirs(DR_DIR, exist_ok=True)
    with open(PROPS, "w", encoding="utf-8") as f:
        f.write(mirror_properties(cfg))
    java = local.java()
    # The agent jar is left off the class path (it carries its own shaded libraries).
    jars = [os.path.join(MIRROR_LIB, j) for j in sorted(os.listdir(MIRROR_LIB)) if j.endswith(".jar") and j != AGENT]
    argv = [java, "-Xmx512m", f"-Dlog4j.configuration=file:{os.path.join(HERE, 'kafka', 'mirror-log4j.properties')}",
            f"-Dkafka.logs.dir={DR_DIR}",
            f"-javaagent:{os.path.join(MIRROR_LIB, AGENT)}=127.0.0.1:{metrics_port()}:"
            f"{os.path.join(HERE, 'kafka', 'mirror-jmx.yaml')}",
            "-cp", ":".join(jars), MAIN_CLASS, PROPS, "--clusters", "dr"]
    proc = Process("mirror", argv, log=os.path.join(DR_DIR, "mirror.out"), detach=True, pidfile=PIDFILE).start()
    say(f"MirrorMaker 2 primary {primary_bootstrap(cfg)} -> dr {dr_bootstrap()} (pid {proc.pid}), "
        f"log {os.path.relpath(DR_DIR, ROOT)}/mirror.log, metrics http://127.0.0.1:{metrics_port()}/metrics")
    try:
        proc.wait_ready(lambda: fresh(heartbeat_age(2.0)), START_TIMEOUT, "MirrorMaker heartbeats at DR", interval=1.0)
    except NotReady as e:
        raise Failed(f"{e}; see {os.path.relpath(DR_DIR, ROOT)}/mirror.log")
    say("replicating: heartbeats arrive at DR")


def stop():
    pid = mirror_pid()
    if not pid:
        say("MirrorMaker 2 not running")
        return
    stop_pids([pid], timeout=30)
    say(f"MirrorMaker 2 stopped (pid {pid})")


def failover(config):
    """Stop following the primary, then take over at DR (before any role starts there)."""
    stop()
    binary = os.environ.get("TURNOUT_BIN") or os.path.join(ROOT, "build", "turnout")
    report = os.path.join(DR_DIR, "takeover.json")
    os.makedirs(DR_DIR, exist_ok=True)
    say(f"taking over at DR: {os.path.relpath(binary, ROOT)} dr-takeover --config {config}")
    rc = subprocess.run([binary, "dr-takeover", "--config", config, "--report", report], cwd=ROOT).returncode
    if rc:
        raise Failed(f"turnout dr-takeover failed ({rc}); fix the cause and run `scripts/dr failover` again "
                     "(a second run finishes what the first left)")
    say(f"DR has taken over; report {os.path.relpath(report, ROOT)}. Start the roles at DR with this config.")


def status(cfg):
    pid = mirror_pid()
    say(f"MirrorMaker 2 {'running (pid %d)' % pid if pid else 'stopped'}")
    age = heartbeat_age()
    say("last heartbeat at DR: " + ("none" if age is None else f"{age:.1f} s ago"))
    topics = replicated_topics(cfg)
    prim = newest_timestamps(primary_bootstrap(cfg), topics)
    dr = newest_timestamps(dr_bootstrap(), topics)
    worst = 0.0
    for t in topics:
        p, d = prim.get(t), dr.get(t)
        if p is None:
            lag = 0.0
        elif d is None:
            lag = float("inf")
        else:
            lag = max(0.0, (p - d) / 1000.0)
        worst = max(worst, lag)
        print(f"  {t:32} lag {'no records at DR' if lag == float('inf') else f'{lag:.1f} s'}")
    say("replication lag (newest record, worst topic): " +
        ("a topic has no records at DR" if worst == float("inf") else f"{worst:.1f} s"))
    return 0 if pid and fresh(age) else 3


def main(argv):
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__.rstrip("\n"))
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "drill":
        import drill  # scripts/drill.py
        return drill.main(rest)
    config = os.environ.get("TURNOUT_CONFIG") or os.path.join(ROOT, "config", "turnout.yaml")
    if rest[:1] == ["--config"] and len(rest) > 1:
        config, rest = rest[1], rest[2:]
    if rest:
        print(f"dr: unknown argument: {rest[0]}", file=sys.stderr)
        return 2
    cfg = load_config(config)
    local.java()
    if cmd == "fetch":
        fetch()
    elif cmd == "start":
        start(cfg, config)
    elif cmd == "stop":
        stop()
    elif cmd == "status":
        return status(cfg)
    elif cmd == "failover":
        failover(config)
    else:
        print(f"dr: unknown command: {cmd}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Failed as e:
        print(f"dr: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
