"""Cost per payment for scripts/bench: CPU time of each process from /proc, and the Kafka
records, bytes and transaction markers each payment puts on the broker, per topic.

CPU: utime + stime of a process (/proc/PID/stat), read before and after a run; the
difference over the payments answered in the run.

Records: a topic partition's end offset before and after the run. Every offset is a data
record or a control record (a transaction's commit or abort marker); a read_uncommitted
consumer is handed the data records only (aborted ones too), so markers = offsets − data
records. Bytes: the growth of the partition's log segment files (`*.log`) in the broker's
data directory, which is what the broker wrote and will fetch from disk."""
import glob
import os
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
# Topics of the broker that transactions and committed offsets write to.
INTERNAL_TOPICS = ("__consumer_offsets", "__transaction_state")


def cpu_seconds(pid):
    """utime + stime of a process in seconds (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def cpu_snapshot(pids):
    """name → CPU seconds so far, for name → pid."""
    return {name: cpu_seconds(pid) for name, pid in pids.items() if pid}


def kafka_local_dir():
    """scripts/kafka-local's directory (its TURNOUT_KAFKA_DIR, else var/kafka)."""
    return os.environ.get("TURNOUT_KAFKA_DIR", os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "var", "kafka"))


def broker_pid():
    """The PID of the broker scripts/kafka-local started (None when another serves)."""
    try:
        pid = int(open(os.path.join(kafka_local_dir(), "broker.pid")).read().strip())
        cmd = open(f"/proc/{pid}/cmdline", "rb").read()
        return pid if b"kafka.Kafka" in cmd else None
    except (OSError, ValueError):
        return None


def broker_data_dir():
    return os.path.join(kafka_local_dir(), "data")


def log_bytes(data_dir, topic, partition):
    return sum(os.path.getsize(p) for p in glob.glob(os.path.join(data_dir, f"{topic}-{partition}", "*.log"))
               if os.path.exists(p))


def topic_snapshot(bootstrap, prefix):
    """(topic, partition) → (end offset, log bytes) for the topics named `prefix`* and the
    broker's transaction and offset topics."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-cost", "log_level": 3,
                  "enable.auto.commit": False})
    data_dir = broker_data_dir()
    out = {}
    try:
        md = c.list_topics(timeout=30)
        for name, t in md.topics.items():
            if not (name.startswith(prefix) or name in INTERNAL_TOPICS):
                continue
            for p in t.partitions:
                _, hi = c.get_watermark_offsets(TopicPartition(name, p), timeout=30)
                out[(name, p)] = (hi, log_bytes(data_dir, name, p))
    finally:
        c.close()
    return out


def count_data_records(bootstrap, ranges, idle_s=5.0):
    """(topic, partition) → data records among offsets [lo, hi), read read_uncommitted."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition
    todo = {tp: r for tp, r in ranges.items() if r[1] > r[0]}
    counts = {tp: 0 for tp in ranges}
    if not todo:
        return counts
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-cost", "log_level": 3,
                  "enable.auto.commit": False, "isolation.level": "read_uncommitted",
                  "enable.partition.eof": True, "fetch.wait.max.ms": 50})
    try:
        c.assign([TopicPartition(t, p, lo) for (t, p), (lo, _) in todo.items()])
        open_parts = set(todo)
        last = time.time()
        while open_parts and time.time() - last < idle_s:
            for m in c.consume(10000, 0.5):
                tp = (m.topic(), m.partition())
                if tp not in todo:
                    continue
                last = time.time()
                if m.error():
                    # The end of what the partition holds (past its control records too).
                    if m.error().code() == KafkaError._PARTITION_EOF and m.offset() >= todo[tp][1]:
                        open_parts.discard(tp)
                    continue
                if m.offset() < todo[tp][1]:
                    counts[tp] += 1
                if m.offset() >= todo[tp][1] - 1:
                    open_parts.discard(tp)
        counts["_incomplete"] = sorted(f"{t}-{p}" for t, p in open_parts)
    finally:
        c.close()
    return counts


def topic_cost(bootstrap, prefix, before, after, payments):
    """Per topic (the prefix taken off): records, markers and bytes written in all and per
    payment, between two topic_snapshot()s."""
    ranges = {tp: (before.get(tp, (0, 0))[0], hi) for tp, (hi, _) in after.items()}
    data = count_data_records(bootstrap, ranges)
    rows = {}
    for (t, p), (hi, size) in after.items():
        lo, size0 = before.get((t, p), (0, 0))
        name = t[len(prefix):] if t.startswith(prefix) else t
        r = rows.setdefault(name, {"offsets": 0, "records": 0, "markers": 0, "bytes": 0})
        r["offsets"] += hi - lo
        r["records"] += data.get((t, p), 0)
        r["bytes"] += max(0, size - size0)
    for r in rows.values():
        r["markers"] = r["offsets"] - r["records"]
        for k in ("records", "markers", "bytes"):
            r[f"{k}_per_payment"] = round(r[k] / payments, 3) if payments else 0
    rows = {k: v for k, v in sorted(rows.items()) if v["offsets"]}
    total = {k: sum(r[k] for r in rows.values()) for k in ("offsets", "records", "markers", "bytes")}
    for k in ("records", "markers", "bytes"):
        total[f"{k}_per_payment"] = round(total[k] / payments, 3) if payments else 0
    # The switch's own topics without the broker's internal ones: what the target counts.
    own = {k: sum(r[k] for n, r in rows.items() if n not in INTERNAL_TOPICS) for k in ("records", "markers", "bytes")}
    for k in ("records", "markers", "bytes"):
        total[f"switch_topics_{k}_per_payment"] = round(own[k] / payments, 3) if payments else 0
    return {"topics": rows, "total": total, "incomplete": data.get("_incomplete", [])}


def cpu_cost(before, after, payments):
    """name → {seconds, us_per_payment} between two cpu_snapshot()s."""
    out = {}
    for name, s1 in after.items():
        s0 = before.get(name)
        if s0 is None or s1 is None:
            continue
        out[name] = {"cpu_seconds": round(s1 - s0, 3),
                     "us_per_payment": round((s1 - s0) * 1e6 / payments, 1) if payments else 0}
    return out
