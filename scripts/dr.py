"""A second site for disaster recovery: the DR Kafka cluster (scripts/kafka-local --site dr)
fed by MirrorMaker 2 from the primary (docs/disaster-recovery.md).

usage: scripts/dr start|stop|status|failover|fetch [--config FILE]
       scripts/dr failback prepare|complete [--config FILE]
       scripts/dr backup [--config FILE] [--site NAME] DEST
       scripts/dr restore-check [--config FILE] DEST
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
  failover [--clearing-from DIR]  the primary is lost: stop MirrorMaker 2, then `turnout
          dr-takeover --config FILE` (FILE: the DR site's config) answers the payments the
          primary left in flight by asking their channels and sets where each stage resumes;
          DIR: the primary's delivered clearing files (finance's inbox or their off-site copy),
          so a batch it closed whose close did not replicate is adopted, not closed again;
          start the roles at DR after it (report in var/dr/takeover.json)
  failback prepare   (FILE: the primary's config, its cluster rebuilt and running) the
          config's topics at the primary deleted and made again, MirrorMaker 2 DR -> primary
  failback complete  (after the roles at DR were stopped) waits until the primary holds
          everything DR committed, stops MirrorMaker, runs `turnout dr-takeover` at the
          primary; then start the primary's roles, and replicate primary -> DR afresh
  backup  what a site needs beyond Kafka into DEST/NAME (default NAME primary): its
          clearing files with their .sha256 and .sig, its config files, its key references
          (`turnout keys list`: key ids and check values; the wrapped key set of a PKCS#11
          site), never key material; MANIFEST.sha256 over all of it
  restore-check  every site backup under DEST intact (its manifest); its key references
          loadable with FILE; every clearing file's digest and signature; every batch in
          settlement.batches of FILE's cluster with an intact file of its totals (turnout
          clearing-check); exit 0 when all hold, 1 otherwise
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


def bootstrap_of(cfg, site):
    return primary_bootstrap(cfg) if site == "primary" else dr_bootstrap()


def mirror_properties(cfg, source="primary", target="dr"):
    """MirrorMaker 2's configuration (dedicated mode, one flow: primary -> dr, or dr -> primary
    for a failback)."""
    topics = ", ".join(t.replace(".", "\\.") for t in replicated_topics(cfg))
    lines = [
        "# Written by scripts/dr; see docs/disaster-recovery.md.",
        "clusters = primary, dr",
        f"primary.bootstrap.servers = {primary_bootstrap(cfg)}",
        f"dr.bootstrap.servers = {dr_bootstrap()}",
        f"{source}->{target}.enabled = true",
        f"{target}->{source}.enabled = false",
        f"{source}->{target}.topics = {topics}",
        f"{source}->{target}.groups = {group_pattern(cfg)}",
        # The same topic names at DR, so the DR site's Turnout runs on its own config.
        "replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
        # Only committed records: an aborted or open transaction of the source never reaches the target.
        f"{source}.consumer.isolation.level = read_committed",
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


def heartbeat_age(timeout=5.0, bootstrap=None):
    """Seconds since the newest MirrorMaker heartbeat at DR (or `bootstrap`), or None when
    there is none."""
    newest = newest_timestamps(bootstrap or dr_bootstrap(), ["heartbeats"], timeout).get("heartbeats")
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
        out = {t: None for t in topics}
        ends, start = {}, []
        for t in topics:
            if t not in md.topics or md.topics[t].error is not None:
                continue
            for p in md.topics[t].partitions:
                lo, hi = c.get_watermark_offsets(TopicPartition(t, p), timeout=timeout)
                if hi > lo:
                    ends[(t, p)] = hi
                    # The last few offsets: transaction markers take offsets but are not records.
                    start.append(TopicPartition(t, p, max(lo, hi - 8)))
        if not start:
            return out
        c.assign(start)  # every partition at once: one fetch per broker, not one per partition
        todo = set(ends)
        deadline = time.time() + max(timeout, 2.0)
        while todo and time.time() < deadline:
            for m in c.consume(1000, 0.2):
                if m.error():
                    continue
                ts = m.timestamp()[1]
                if out[m.topic()] is None or ts > out[m.topic()]:
                    out[m.topic()] = ts
            done = c.position([TopicPartition(t, p) for t, p in todo])
            todo -= {(tp.topic, tp.partition) for tp in done if tp.offset >= ends[(tp.topic, tp.partition)]}
        return out
    finally:
        c.close()


def start(cfg, config):
    kafka_local("start", "--site", "dr", "--config", config)
    kafka_local("topics", "--site", "dr", "--config", config)
    fetch()
    run_mirror(cfg, "primary", "dr")


def run_mirror(cfg, source, target):
    """MirrorMaker 2 replicating source -> target, started unless it runs; returns once its
    heartbeats arrive at the target."""
    if mirror_pid():
        say(f"MirrorMaker 2 already running (pid {mirror_pid()})")
        return
    os.makedirs(DR_DIR, exist_ok=True)
    with open(PROPS, "w", encoding="utf-8") as f:
        f.write(mirror_properties(cfg, source, target))
    java = local.java()
    # The agent jar is left off the class path (it carries its own shaded libraries).
    jars = [os.path.join(MIRROR_LIB, j) for j in sorted(os.listdir(MIRROR_LIB)) if j.endswith(".jar") and j != AGENT]
    argv = [java, "-Xmx512m", f"-Dlog4j.configuration=file:{os.path.join(HERE, 'kafka', 'mirror-log4j.properties')}",
            f"-Dkafka.logs.dir={DR_DIR}",
            f"-javaagent:{os.path.join(MIRROR_LIB, AGENT)}=127.0.0.1:{metrics_port()}:"
            f"{os.path.join(HERE, 'kafka', 'mirror-jmx.yaml')}",
            "-cp", ":".join(jars), MAIN_CLASS, PROPS, "--clusters", target]
    proc = Process("mirror", argv, log=os.path.join(DR_DIR, "mirror.out"), detach=True, pidfile=PIDFILE).start()
    say(f"MirrorMaker 2 {source} {bootstrap_of(cfg, source)} -> {target} {bootstrap_of(cfg, target)} "
        f"(pid {proc.pid}), log {os.path.relpath(DR_DIR, ROOT)}/mirror.log, "
        f"metrics http://127.0.0.1:{metrics_port()}/metrics")
    try:
        proc.wait_ready(lambda: fresh(heartbeat_age(2.0, bootstrap_of(cfg, target))), START_TIMEOUT,
                        f"MirrorMaker heartbeats at {target}", interval=1.0)
    except NotReady as e:
        raise Failed(f"{e}; see {os.path.relpath(DR_DIR, ROOT)}/mirror.log")
    say(f"replicating: heartbeats arrive at {target}")


def stop():
    pid = mirror_pid()
    if not pid:
        say("MirrorMaker 2 not running")
        return
    stop_pids([pid], timeout=30)
    say(f"MirrorMaker 2 stopped (pid {pid})")


def failover(config, clearing_from=None):
    """Stop following the primary, then take over at DR (before any role starts there)."""
    stop()
    binary = turnout_bin()
    report = os.path.join(DR_DIR, "takeover.json")
    os.makedirs(DR_DIR, exist_ok=True)
    argv = [binary, "dr-takeover", "--config", config, "--report", report]
    if clearing_from:
        argv += ["--clearing-from", clearing_from]
    else:
        say("no --clearing-from: a batch the primary closed whose close did not replicate cannot be known "
            "(DR would close it again under the same id)")
    say(f"taking over at DR: {os.path.relpath(binary, ROOT)} {' '.join(argv[1:])}")
    rc = subprocess.run(argv, cwd=ROOT).returncode
    if rc:
        raise Failed(f"turnout dr-takeover failed ({rc}); fix the cause and run `scripts/dr failover` again "
                     "(a second run finishes what the first left)")
    say(f"DR has taken over; report {os.path.relpath(report, ROOT)}. Start the roles at DR with this config.")


def failback_prepare(cfg, config):
    """The rebuilt primary (CONFIG's cluster) becomes a copy of DR: the config's topics there
    are deleted (what the lost primary held and DR never got must not come back) and made
    again, and MirrorMaker 2 replicates DR -> primary."""
    from confluent_kafka.admin import AdminClient
    stop()
    topics = replicated_topics(cfg)
    admin = AdminClient({"bootstrap.servers": primary_bootstrap(cfg), "log_level": 0})
    present = [t for t in topics if t in admin.list_topics(timeout=30).topics]
    if present:
        for t, f in admin.delete_topics(present, operation_timeout=60).items():
            f.result()
        deadline = time.time() + 120
        while any(t in admin.list_topics(timeout=30).topics for t in present):
            if time.time() > deadline:
                raise Failed("the primary's topics were not deleted within 120 s")
            time.sleep(1)
    say(f"primary {primary_bootstrap(cfg)}: {len(present)} topics of the lost site deleted")
    # The lost site's local state describes topics that are gone: its state stores restore
    # from what DR replicates, and its ISO 8583 in-doubt journals were settled by the takeover.
    import shutil
    local_dirs = [cfg.get("state_dir") or "var/state"] + [ch["journal_dir"] for ch in cfg.get("channels") or []
                                                           if ch.get("journal_dir")]
    for d in local_dirs:
        path = config_path(cfg, d)
        if os.path.isdir(path):
            shutil.rmtree(path)
            say(f"removed the lost site's {os.path.relpath(path, ROOT)}")
    rc = subprocess.run([turnout_bin(), "topics", "--config", config], cwd=ROOT).returncode
    if rc:
        raise Failed(f"turnout topics failed ({rc})")
    fetch()
    run_mirror(cfg, "dr", "primary")
    say("DR -> primary replicating. Next: stop the roles at DR (SIGTERM: each drains and commits), "
        "then `scripts/dr failback complete --config` with this config")


def failback_complete(cfg, config, timeout=600):
    """Once the primary holds everything DR committed (every topic's newest record equal at
    both, twice 5 s apart): MirrorMaker stopped, `turnout dr-takeover` at the primary."""
    topics = replicated_topics(cfg)
    deadline, equal_since = time.time() + timeout, None
    while True:
        dr = newest_timestamps(dr_bootstrap(), topics)
        prim = newest_timestamps(primary_bootstrap(cfg), topics)
        behind = [t for t in topics if dr.get(t) is not None and prim.get(t) != dr.get(t)]
        if not behind:
            if equal_since and time.time() - equal_since >= 5:
                break
            equal_since = equal_since or time.time()
        else:
            equal_since = None
        if time.time() > deadline:
            raise Failed(f"the primary has not caught up with DR within {timeout} s ({len(behind)} topics behind, "
                         f"e.g. {behind[0]}); are the roles at DR stopped?")
        time.sleep(1)
    say("the primary holds everything DR committed")
    stop()
    report = os.path.join(DR_DIR, "failback-takeover.json")
    rc = subprocess.run([turnout_bin(), "dr-takeover", "--config", config, "--report", report], cwd=ROOT).returncode
    if rc:
        raise Failed(f"turnout dr-takeover at the primary failed ({rc}); run `scripts/dr failback complete` again")
    say(f"the primary has taken over again (report {os.path.relpath(report, ROOT)}). Start its roles; then make "
        "the DR cluster afresh and `scripts/dr start` to replicate primary -> DR again")


def config_path(cfg, value):
    return value if os.path.isabs(value) else os.path.join(ROOT, value)


def turnout_bin():
    return os.environ.get("TURNOUT_BIN") or os.path.join(ROOT, "build", "turnout")


def backup(cfg, config, dest, site):
    """What a site needs beyond Kafka, into DEST/SITE: its clearing files with their digests
    and signatures, its config files, and its key references (never key material)."""
    import hashlib
    import shutil
    out = os.path.join(dest, site)
    os.makedirs(out, exist_ok=True)
    copied = []

    def copy(src, rel):
        target = os.path.join(out, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(src, target)
        copied.append(rel)

    clearing = config_path(cfg, (cfg.get("settlement") or {}).get("output_dir") or "var/settlement")
    if os.path.isdir(clearing):
        for name in sorted(os.listdir(clearing)):
            if name.endswith((".csv", ".txt", ".sha256", ".sig")):
                copy(os.path.join(clearing, name), os.path.join("clearing", name))
    # Key files hold key material: they live in their own store (an HSM, a secrets manager)
    # and are never copied with the rest.
    sec = cfg.get("security") or {}
    secret = {os.path.realpath(config_path(cfg, f)) for f in
              [sec.get("keys_file")] + [ch.get("keys_file") for ch in cfg.get("channels") or []] if f}
    copy(config, os.path.join("config", os.path.basename(config)))
    cdir = os.path.join(ROOT, "config")
    for base, _, names in os.walk(cdir):
        for name in sorted(names):
            src = os.path.join(base, name)
            if os.path.realpath(src) not in secret and os.path.realpath(src) != os.path.realpath(config):
                copy(src, os.path.join("config", "repository", os.path.relpath(src, cdir)))
    key_set = (sec.get("pkcs11") or {}).get("key_set_file")
    if sec.get("key_provider") == "pkcs11" and key_set and os.path.exists(config_path(cfg, key_set)):
        copy(config_path(cfg, key_set), os.path.join("keys", "key-set.yaml"))  # wrapped by the token's KEK
    res = subprocess.run([turnout_bin(), "keys", "list", "--config", config], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    if res.returncode:
        raise Failed(f"turnout keys list failed: {res.stdout.strip()}")
    with open(os.path.join(out, "key-references.txt"), "w", encoding="utf-8") as f:
        f.write(res.stdout)
    copied.append("key-references.txt")
    with open(os.path.join(out, "MANIFEST.sha256"), "w", encoding="utf-8") as f:
        for rel in copied:
            with open(os.path.join(out, rel), "rb") as g:
                f.write(f"{hashlib.sha256(g.read()).hexdigest()}  {rel}\n")
    n = sum(1 for r in copied if r.startswith("clearing/") and r.endswith(".csv"))
    say(f"backup of site {site} in {os.path.relpath(out, ROOT)}: {n} clearing files (with digests and "
        f"signatures), configs, key references; MANIFEST.sha256")


def restore_check(config, dest):
    """Every site's backup in DEST intact (its manifest), every clearing file intact and every
    batch the cluster of CONFIG announced present with its totals, and the key references of
    the backup resolving to the keys this site loads. Exit 0 when all hold, 1 otherwise."""
    import hashlib
    problems = 0
    sites = sorted(d for d in os.listdir(dest) if os.path.exists(os.path.join(dest, d, "MANIFEST.sha256")))
    if not sites:
        raise Failed(f"no site backup (MANIFEST.sha256) under {dest}")
    res = subprocess.run([turnout_bin(), "keys", "list", "--config", config], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    def refs(text):  # key lines without their seal counts (they move on)
        return set(line.split(" seals ")[0].strip() for line in text.splitlines()[1:] if line.strip())
    here = refs(res.stdout)
    for site in sites:
        base = os.path.join(dest, site)
        bad = 0
        with open(os.path.join(base, "MANIFEST.sha256"), encoding="utf-8") as f:
            for line in f:
                digest, rel = line.rstrip("\n").split("  ", 1)
                try:
                    with open(os.path.join(base, rel), "rb") as g:
                        ok = hashlib.sha256(g.read()).hexdigest() == digest
                except OSError:
                    ok = False
                if not ok:
                    bad += 1
                    print(f"  {site}/{rel}: missing or changed since the backup")
        with open(os.path.join(base, "key-references.txt"), encoding="utf-8") as f:
            backed = refs(f.read())
        unresolved = sorted(backed - here)
        for r in unresolved:
            print(f"  {site}: key reference not loadable here: {r}")
        say(f"site {site}: manifest {'intact' if not bad else f'{bad} files missing or changed'}; "
            f"{len(backed) - len(unresolved)} of {len(backed)} key references resolve here")
        problems += bad + len(unresolved)
    rc = subprocess.run([turnout_bin(), "clearing-check", "--config", config, "--dir", dest, "--batches"],
                        cwd=ROOT).returncode
    if rc not in (0, 1):
        raise Failed(f"turnout clearing-check failed ({rc})")
    return 0 if problems == 0 and rc == 0 else 1


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
    # Each command names its site by its config; TURNOUT_BOOTSTRAP (which overrides a config's
    # bootstrap servers) would point a site's takeover or check at the other cluster.
    if os.environ.pop("TURNOUT_BOOTSTRAP", None):
        say("TURNOUT_BOOTSTRAP ignored: the config names the site's cluster")
    if cmd == "drill":
        import drill  # scripts/drill.py
        return drill.main(rest)
    config = os.environ.get("TURNOUT_CONFIG") or os.path.join(ROOT, "config", "turnout.yaml")
    site, extra, clearing_from = "primary", [], None
    while rest:
        if rest[0] == "--config" and len(rest) > 1:
            config, rest = rest[1], rest[2:]
        elif rest[0] == "--clearing-from" and len(rest) > 1 and cmd == "failover":
            clearing_from, rest = rest[1], rest[2:]
        elif rest[0] == "--site" and len(rest) > 1 and cmd == "backup":
            site, rest = rest[1], rest[2:]
        elif not rest[0].startswith("-") and cmd in ("backup", "restore-check", "failback"):
            extra, rest = extra + [rest[0]], rest[1:]
        else:
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
        failover(config, clearing_from)
    elif cmd == "failback":
        if extra == ["prepare"]:
            failback_prepare(cfg, config)
        elif extra == ["complete"]:
            failback_complete(cfg, config)
        else:
            print("dr: failback prepare|complete", file=sys.stderr)
            return 2
    elif cmd == "backup":
        if len(extra) != 1:
            print("dr: backup needs the destination folder", file=sys.stderr)
            return 2
        backup(cfg, config, extra[0], site)
    elif cmd == "restore-check":
        if len(extra) != 1:
            print("dr: restore-check needs the backup folder", file=sys.stderr)
            return 2
        return restore_check(config, extra[0])
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
