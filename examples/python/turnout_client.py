#!/usr/bin/env python3
"""A Turnout client in Python (confluent-kafka, the client's default partitioner).

Publishes N sales and N authorize -> capture -> refund life cycles to payments.requests,
reads payments.results (read_committed) and prints a summary. Each capture is sent once its
authorization's result has arrived (it needs the result's channel and channel_ref), each
refund once its capture's result has arrived. Exit 0 only if every sale and every life
cycle was approved; 1 if a payment ended otherwise; 2 on timeout.

usage: turnout_client.py [--bootstrap HOST:PORT] [--prefix P] [--merchant ID] [--count N] [--timeout S]
(environment: TURNOUT_BOOTSTRAP, TURNOUT_PREFIX, TURNOUT_MERCHANT, TURNOUT_COUNT)
"""

import argparse
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

AMOUNT = 2500  # EUR 25.00: ends in 00, which the channel simulators approve


def luhn_complete(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)  # the check digit goes to the right
        total += d - 9 if d > 9 else d
    return digits + str((10 - total % 10) % 10)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", default=os.environ.get("TURNOUT_BOOTSTRAP", "127.0.0.1:9092"))
    ap.add_argument("--prefix", default=os.environ.get("TURNOUT_PREFIX", ""), help="kafka.name_prefix of the switch")
    ap.add_argument("--merchant", default=os.environ.get("TURNOUT_MERCHANT", "m-kit"))
    ap.add_argument("--count", type=int, default=int(os.environ.get("TURNOUT_COUNT", "10")))
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for all results")
    a = ap.parse_args()
    requests_topic, results_topic = a.prefix + "payments.requests", a.prefix + "payments.results"

    # 1. Where payments.results ends now, before anything is published: no result is missed.
    consumer = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "turnout-kit-py",
                         "isolation.level": "read_committed", "enable.auto.commit": False})
    meta = consumer.list_topics(results_topic, timeout=10).topics[results_topic]
    if meta.error is not None:
        raise KafkaException(meta.error)
    start = []
    for p in sorted(meta.partitions):
        _, end = consumer.get_watermark_offsets(TopicPartition(results_topic, p), timeout=10)
        start.append(TopicPartition(results_topic, p, end))
    consumer.assign(start)

    producer = Producer({"bootstrap.servers": a.bootstrap, "acks": "all", "enable.idempotence": True})
    run = f"kit-py-{int(time.time() * 1000)}"
    card_base = random.randrange(10**8)  # fresh cards: the risk velocity rules count per card
    sent = {}                # payment_id -> type
    final = {}               # payment_id -> result
    sent_by_type = Counter()

    def publish(request: dict, root_id: str) -> None:
        request["created_at"] = now()
        producer.produce(requests_topic, key=root_id, value=json.dumps(request))  # key = root id
        sent[request["payment_id"]] = request["type"]
        sent_by_type[request["type"]] += 1

    def original(pid: str, kind: str) -> None:  # a sale or authorize: its own payment_id is the root id
        pan = luhn_complete(f"555555{card_base + len(sent):09d}")
        publish({"payment_id": pid, "type": kind,
                 "merchant": {"id": a.merchant, "mcc": "5411", "country": "DE"},
                 "amount": {"value": AMOUNT, "currency": "EUR"},
                 "instrument": {"kind": "card", "pan": pan, "expiry": "3012"},
                 "customer": {"id": "c-" + pid, "country": "DE"}}, pid)

    def follow_up(kind: str, pid: str, of: dict, amount: int) -> None:
        publish({"payment_id": pid, "type": kind, "merchant": {"id": a.merchant},
                 "amount": {"value": amount, "currency": "EUR"},
                 "original": {"payment_id": of["root_id"], "channel": of["channel"],
                              "channel_ref": of.get("channel_ref", "")}}, of["root_id"])

    # 2. The originals.
    for i in range(a.count):
        original(f"{run}-s{i}", "sale")
        original(f"{run}-a{i}", "authorize")
    producer.flush(30)
    t0 = time.monotonic()

    # 3. Results, matched by payment_id; a follow-up goes out once its predecessor is approved.
    while len(final) < len(sent) and time.monotonic() - t0 < a.timeout:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        r = json.loads(msg.value())
        pid = r.get("payment_id")
        if pid not in sent or pid in final:
            continue
        if r["status"] == "rejected" and r["reason"]["code"] == "duplicate_request":
            continue  # answers a second copy of the request; the payment's own result comes separately
        final[pid] = r
        if r["status"] == "approved" and r.get("type") == "authorize":
            follow_up("capture", pid.replace(f"{run}-a", f"{run}-c"), r, AMOUNT)
        elif r["status"] == "approved" and r.get("type") == "capture":
            follow_up("refund", pid.replace(f"{run}-c", f"{run}-r"), r, AMOUNT // 2)
        producer.poll(0)
    producer.flush(30)
    consumer.close()
    elapsed = time.monotonic() - t0

    # 4. Summary.
    counts = defaultdict(Counter)
    others = Counter()
    for pid, kind in sent.items():
        r = final.get(pid)
        status = r["status"] if r else "no result"
        counts[kind][status if status in ("approved", "declined") else "other"] += 1
        if status not in ("approved", "declined"):
            others[f"{kind} {status}" + (f"/{r['reason']['code']}" if r else "")] += 1
    complete = sum(1 for pid, r in final.items() if r.get("type") == "refund" and r["status"] == "approved")
    sales_ok = counts["sale"]["approved"]
    print(f"python kit ({run}): {a.count} sales, {a.count} authorize -> capture -> refund; "
          f"{len(final)}/{len(sent)} results in {elapsed:.1f} s")
    print(f"  {'type':<10}{'sent':>6}{'approved':>10}{'declined':>10}{'other':>7}")
    for kind in ("sale", "authorize", "capture", "refund"):
        c = counts[kind]
        print(f"  {kind:<10}{sent_by_type[kind]:>6}{c['approved']:>10}{c['declined']:>10}{c['other']:>7}")
    print(f"  life cycles complete: {complete}/{a.count}")
    for what, n in others.most_common():
        print(f"  other: {what} x{n}")
    if len(final) < len(sent):
        print(f"FAILED: timeout after {a.timeout:.0f} s, {len(sent) - len(final)} results missing")
        return 2
    ok = sales_ok == a.count and complete == a.count
    print("OK" if ok else "FAILED: not every payment ended as expected")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
