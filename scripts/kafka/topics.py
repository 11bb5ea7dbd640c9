#!/usr/bin/env python3
"""Create the Kafka topics named in a Turnout config, if they are missing.

usage: topics.py [--bootstrap HOST:PORT[,...]] [--config FILE] [--prefix P]
                 [--replication-factor N] [--wait SECONDS] [--client-properties FILE]
                 [--list | --ping [--min-brokers N] [--broker-id ID]]
       topics.py --markdown

Topics: every topic of the topic catalogue (schemas/topics.yaml, scripts/kafka/catalogue.py),
named by kafka.topics or the catalogue's default, with <channel_prefix><id> for each entry of
`channels:`; all with kafka.partitions partitions and kafka.replication_factor replicas
(--replication-factor overrides it), compacted or time-retained as the catalogue says (the
retention from settlement.log_retention_hours and risk.velocity_retention_hours).
kafka.name_prefix and --prefix P are put in front of every name (tests use --prefix to stay
apart; P comes first). Existing topics
are left alone. Without --bootstrap the config's kafka.bootstrap_servers and
kafka.properties are used. --wait retries until the broker answers; --ping
only waits for that (with --min-brokers N: until the metadata lists N
brokers; with --broker-id ID: until it lists broker ID); --list only prints
the topic names; --markdown prints the catalogue's table for docs/design.md. --client-properties FILE: librdkafka properties (key=value lines, e.g.
security.protocol and sasl.* of an admin principal) added to the client's, also with
--bootstrap; a password kept there stays out of the command line.
Exit status: 0 ok, 1 error, 2 bad usage or config.
"""
import argparse
import os
import sys
import time

import yaml

import catalogue  # scripts/kafka/catalogue.py: the topic catalogue
import config_files  # scripts/kafka/config_files.py, beside this file
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUIET = {"log_level": 2}  # connection failures are reported by the calls below


def fail(msg, code=2):
    print(f"topics.py: {msg}", file=sys.stderr)
    sys.exit(code)


def load_config(path):
    cfg = config_files.load_yaml(path, fail)
    kafka = cfg.get("kafka")
    if not isinstance(kafka, dict) or not isinstance(kafka.get("topics", {}), dict):
        fail(f"{path}: expected a mapping kafka (and kafka.topics, if given)")
    return cfg


def read_properties(path):
    return config_files.read_properties(path, fail)


def wanted_topics(cfg, prefix):
    """Return {name: {config}} for every topic the config needs (the topic catalogue)."""
    return catalogue.topic_configs(cfg, fail, prefix)


def list_topics(admin, wait, min_brokers=1, broker_id=None):
    deadline = time.monotonic() + wait
    seen = set()
    while True:
        try:
            md = admin.list_topics(timeout=max(1.0, min(5.0, deadline - time.monotonic())))
            seen = set(md.brokers)
            if len(seen) >= min_brokers and (broker_id is None or broker_id in seen):
                return set(md.topics)
        except KafkaException as e:
            if time.monotonic() >= deadline:
                fail(f"broker not reachable: {e}", 1)
        if time.monotonic() >= deadline:
            if not seen:
                fail("broker not reachable: no brokers in metadata", 1)
            want = f"broker {broker_id}" if broker_id is not None else f"{min_brokers} brokers"
            fail(f"metadata lists brokers {sorted(seen)}, waiting for {want}", 1)
        time.sleep(0.5)


def main():
    ap = argparse.ArgumentParser(description="Create the topics of a Turnout config.")
    ap.add_argument("--bootstrap", help="host:port (default: kafka.bootstrap_servers of the config)")
    ap.add_argument("--config", default=os.environ.get("TURNOUT_CONFIG")
                    or os.path.join(ROOT, "config", "turnout.yaml"))
    ap.add_argument("--prefix", default="", help="prepended to every topic name")
    ap.add_argument("--replication-factor", type=int, metavar="N",
                    help="replicas per partition (default: kafka.replication_factor of the config)")
    ap.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                    help="keep retrying until the broker answers (default: 0)")
    ap.add_argument("--min-brokers", type=int, default=1, metavar="N",
                    help="with --ping: wait until the metadata lists N brokers (default: 1)")
    ap.add_argument("--broker-id", type=int, metavar="ID",
                    help="with --ping: wait until the metadata lists broker ID")
    ap.add_argument("--client-properties", metavar="FILE",
                    help="librdkafka properties (key=value lines) added to the client's")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--list", action="store_true", help="only print the topic names")
    mode.add_argument("--ping", action="store_true", help="only check that the broker answers")
    mode.add_argument("--markdown", action="store_true", help="print the topic catalogue's table (docs/design.md)")
    args = ap.parse_args()
    if args.markdown:
        sys.stdout.write(catalogue.markdown_table())
        return 0

    if args.replication_factor is not None and args.replication_factor < 1:
        fail("--replication-factor: expected a positive number")
    extra = read_properties(args.client_properties) if args.client_properties else {}
    if args.ping and args.bootstrap:
        list_topics(AdminClient({"bootstrap.servers": args.bootstrap, **QUIET, **extra}), args.wait,
                    args.min_brokers, args.broker_id)
        return 0

    cfg = load_config(args.config)
    kafka = cfg["kafka"]
    topics = wanted_topics(cfg, args.prefix)
    if args.list:
        print("\n".join(sorted(topics)))
        return 0

    conf = config_files.admin_conf(kafka, args.bootstrap)
    conf.update(extra)
    partitions = int(kafka.get("partitions", 6))
    replication = args.replication_factor or int(kafka.get("replication_factor", 1))

    admin = AdminClient({**QUIET, **conf})
    existing = list_topics(admin, args.wait, args.min_brokers, args.broker_id)
    if args.ping:
        return 0
    missing = [NewTopic(name, num_partitions=partitions, replication_factor=replication, config=tc)
               for name, tc in sorted(topics.items()) if name not in existing]
    created = errors = 0
    if missing:
        for name, fut in admin.create_topics(missing, request_timeout=30).items():
            try:
                fut.result()
                created += 1
                print(f"created {name}")
            except KafkaException as e:
                err = e.args[0]
                if err.name() == "TOPIC_ALREADY_EXISTS":
                    continue
                print(f"topics.py: {name}: {err.str()}", file=sys.stderr)
                errors += 1
    print(f"topics: {len(topics) - errors}/{len(topics)} present "
          f"({created} created, replication factor {replication}) on {conf['bootstrap.servers']}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
