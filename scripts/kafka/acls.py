#!/usr/bin/env python3
"""Least privilege on Kafka: one principal per Turnout role, ACLs from the topic catalogue.

usage: acls.py [--bootstrap HOST:PORT[,...]] [--config FILE] [--client-properties FILE]
               [--user-prefix U] [--users-dir DIR] [--prune] [--wait SECONDS]
       acls.py --plan [--config FILE] [--user-prefix U]

Each role may read what it reads and write what it writes, nothing else. The principals
(User:<U><name>): router, risk, state, settlement, connector-<id> for each entry of
`channels:`, gateway, loadgen (the load generator: a merchant's client) and operator
(`turnout dlq`, `turnout status`). Topic creation and these ACLs need a super user or
an equivalent admin principal (the one of --client-properties); no role gets CREATE,
ALTER or any cluster permission.

Resources, all names from the config (kafka.name_prefix and kafka.topics, with the
switch's defaults for keys left out): topics LITERAL; consumer groups LITERAL, or PREFIXED
where the switch puts an instance id or a timestamp in the name (READ for a stage's own
group, DESCRIBE only for the assign()-only readers); transactional ids
PREFIXED "<name_prefix>turnout.<stage>." (the stage's transactional id is
"<name_prefix>turnout.<stage>.<instance>"). READ and WRITE imply DESCRIBE; DESCRIBE alone
is granted where a role only looks at a topic's partition count.

--plan prints the ACL table from the config alone. Otherwise the ACLs are created (those
already present are kept), then read back from the broker (describe_acls) and printed;
bindings of these principals that are not in the plan are listed as extra, and deleted
with --prune. --users-dir DIR also creates a SCRAM-SHA-512 user per principal (or updates
it) and writes, readable by the owner only:
  DIR/<principal>.properties   librdkafka properties (security.protocol, sasl.*)
  DIR/<principal>.env          TURNOUT__KAFKA__PROPERTIES={...} for the role's environment
A password already in DIR/<principal>.properties is kept; a new one is random.
The broker's listener is taken to be SASL_PLAINTEXT (--security-protocol changes it).
Without --bootstrap the config's kafka.bootstrap_servers and kafka.properties are used.
Exit status: 0 ok (the broker holds exactly the plan), 1 error or extra/missing bindings,
2 bad usage or config.
"""
import argparse
import os
import secrets
import sys
import time

import yaml

import catalogue  # scripts/kafka/catalogue.py: the topic catalogue
import config_files  # scripts/kafka/config_files.py, beside this file
from confluent_kafka import KafkaException
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AdminClient,
                                   ResourcePatternType, ResourceType, ScramCredentialInfo, ScramMechanism,
                                   UserScramCredentialUpsertion)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUIET = {"log_level": 2}
READ, WRITE, DESCRIBE = AclOperation.READ, AclOperation.WRITE, AclOperation.DESCRIBE
TOPIC, GROUP, TXN = ResourceType.TOPIC, ResourceType.GROUP, ResourceType.TRANSACTIONAL_ID
LITERAL, PREFIXED = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
SCRAM_ITERATIONS = 8192


def fail(msg, code=2):
    print(f"acls.py: {msg}", file=sys.stderr)
    sys.exit(code)


def load_config(path):
    cfg = config_files.load_yaml(path, fail)
    if not isinstance(cfg.get("kafka"), dict):
        fail(f"{path}: expected a mapping kafka")
    return cfg


def read_properties(path):
    return config_files.read_properties(path, fail)


def is_asynchronous(ch):
    """A channel whose connector keeps payments.pending: http_json with a webhook listener
    (HttpJsonConnector::asynchronous)."""
    return ch.get("kind") == "http_json" and bool((ch.get("webhook") or {}).get("listen"))


def plan(cfg, user_prefix=""):
    """{principal: set of (resource type, pattern type, name, operation)} for every role.
    Topic operations come from the topic catalogue; groups and transactional ids from here."""
    kafka = cfg["kafka"]
    pre = kafka.get("name_prefix") or ""
    if not isinstance(pre, str):
        fail("kafka.name_prefix: expected a string")
    op_of = {"read": READ, "write": WRITE, "describe": DESCRIBE}

    def topics(principal, channel=None, asynchronous=False):
        return {(TOPIC, LITERAL, name, op_of[op])
                for name, op in catalogue.operations(cfg, fail, principal, channel, asynchronous)}

    def stage(name):  # the group of a stage and the prefix of its transactional ids
        group = pre + "turnout." + name
        return {(GROUP, LITERAL, group, READ), (TXN, PREFIXED, group + ".", WRITE)}

    # assign()-only consumers still name a group, never joined nor committed to: the client
    # looks up its coordinator (FindCoordinator), which takes DESCRIBE on the group; READ
    # (join, commit) is kept for the stages' own groups. Stores restore their changelogs with
    # this one (switch/kafka/changelog.cpp; no name_prefix).
    changelog_reader = (GROUP, LITERAL, "turnout.changelog-reader", DESCRIBE)
    acl = {}
    # The router also looks at payments.state's partition count (the co-partitioning check).
    acl["router"] = (stage("router") | {changelog_reader, (GROUP, LITERAL, pre + "turnout.health-reader", DESCRIBE)}
                     | topics("router"))
    acl["risk"] = stage("risk") | {changelog_reader} | topics("risk")
    catalogue.channel_ids(cfg, fail)
    for ch in cfg.get("channels") or []:
        cid = str(ch["id"])
        # A soft failure goes on to the next channel of the payment's plan: any channel.
        a = stage("connector." + cid) | topics("connector", cid, is_asynchronous(ch))
        if is_asynchronous(ch):
            a |= {changelog_reader}
        acl["connector-" + cid] = a
    acl["settlement"] = stage("settlement") | {changelog_reader} | topics("settlement")
    acl["state"] = stage("state") | {changelog_reader} | topics("state")
    # The gateway: requests in, results back; its group is assign()-only, one per instance.
    acl["gateway"] = {(GROUP, PREFIXED, pre + "turnout.gateway.", DESCRIBE)} | topics("gateway")
    # The load generator, as a merchant's client: requests in; results, DLQ and batches
    # read back for its report (assign()-only groups named after the clock, no name_prefix).
    acl["loadgen"] = {(GROUP, PREFIXED, "turnout.loadgen.", DESCRIBE)} | topics("loadgen")
    # `turnout dlq list|show|replay` and `turnout status` (payments.state, read from the start).
    acl["operator"] = {(GROUP, LITERAL, "turnout.dlq-tool", DESCRIBE), changelog_reader} | topics("operator")
    return {f"User:{user_prefix}{k}": v for k, v in acl.items()}


def binding(principal, res):
    rtype, ptype, name, op = res
    return AclBinding(rtype, name, ptype, principal, "*", op, AclPermissionType.ALLOW)


def key_of(b):
    return (b.restype, b.resource_pattern_type, b.name, b.operation)


def print_table(rows, out=sys.stdout):
    """rows: {principal: set of keys} → one line per principal and resource, operations joined."""
    lines = []
    for principal in sorted(rows):
        grouped = {}
        for rtype, ptype, name, op in rows[principal]:
            grouped.setdefault((rtype.name, ptype.name, name), set()).add(op.name)
        order = {"TOPIC": 0, "GROUP": 1, "TRANSACTIONAL_ID": 2}
        for (rtype, ptype, name), ops in sorted(grouped.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0][2])):
            lines.append((principal, rtype, ptype, name, ",".join(sorted(ops))))
    head = ("PRINCIPAL", "RESOURCE", "PATTERN", "NAME", "ALLOW")
    widths = [max(len(x[i]) for x in lines + [head]) for i in range(4)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    print(fmt.format(*head), file=out)
    prev = None
    for ln in lines:
        print(fmt.format(*((ln[0] if ln[0] != prev else "",) + ln[1:])), file=out)
        prev = ln[0]


def write_private(path, text):
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path + ".tmp", 0o600)
    os.replace(path + ".tmp", path)


def make_users(admin, principals, users_dir, security_protocol):
    """A SCRAM-SHA-512 user per principal; its credentials under users_dir (mode 600)."""
    os.makedirs(users_dir, mode=0o700, exist_ok=True)
    os.chmod(users_dir, 0o700)
    upserts, files = [], {}
    for principal in sorted(principals):
        user = principal.split(":", 1)[1]
        props_path = os.path.join(users_dir, user + ".properties")
        password = read_properties(props_path).get("sasl.password") if os.path.exists(props_path) else None
        password = password or secrets.token_urlsafe(24)
        upserts.append(UserScramCredentialUpsertion(
            user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS), password.encode()))
        files[user] = password
    for user, fut in admin.alter_user_scram_credentials(upserts, request_timeout=30).items():
        try:
            fut.result()
        except KafkaException as e:
            fail(f"user {user}: {e.args[0].str()}", 1)
    for user, password in files.items():
        props = {"security.protocol": security_protocol, "sasl.mechanism": "SCRAM-SHA-512",
                 "sasl.username": user, "sasl.password": password}
        write_private(os.path.join(users_dir, user + ".properties"),
                      "".join(f"{k}={v}\n" for k, v in props.items()))
        # The whole kafka.properties mapping of the role's config, from its environment
        # (a dotted librdkafka key cannot be named alone in a TURNOUT__ variable).
        flow = ", ".join(f'{k}: "{v}"' for k, v in props.items())
        write_private(os.path.join(users_dir, user + ".env"), f"TURNOUT__KAFKA__PROPERTIES={{{flow}}}\n")
    print(f"acls: {len(files)} SCRAM-SHA-512 users, credentials in {users_dir}")


def describe(admin, principals):
    flt = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY,
                           AclPermissionType.ANY)
    found = {p: set() for p in principals}
    other = []
    for b in admin.describe_acls(flt, request_timeout=30).result():
        if b.principal in found and b.permission_type == AclPermissionType.ALLOW and b.host == "*":
            found[b.principal].add(key_of(b))
        elif b.principal in found:
            other.append(b)
    return found, other


def main():
    ap = argparse.ArgumentParser(description="Create the ACLs of Turnout's roles from the topic catalogue.")
    ap.add_argument("--bootstrap", help="host:port (default: kafka.bootstrap_servers of the config)")
    ap.add_argument("--config", default=os.environ.get("TURNOUT_CONFIG")
                    or os.path.join(ROOT, "config", "turnout.yaml"))
    ap.add_argument("--client-properties", metavar="FILE",
                    help="librdkafka properties (key=value) of the admin principal that creates the ACLs")
    ap.add_argument("--user-prefix", default="", metavar="U", help="put in front of every principal's name")
    ap.add_argument("--users-dir", metavar="DIR", help="also create a SCRAM-SHA-512 user per principal")
    ap.add_argument("--security-protocol", default="SASL_PLAINTEXT",
                    help="security.protocol written to the users' files (default: SASL_PLAINTEXT)")
    ap.add_argument("--prune", action="store_true", help="delete bindings of these principals not in the plan")
    ap.add_argument("--wait", type=float, default=10, metavar="SECONDS",
                    help="wait this long for the broker to answer (default: 10)")
    ap.add_argument("--plan", action="store_true", help="only print the planned ACLs (no broker)")
    args = ap.parse_args()

    cfg = load_config(args.config)
    acl = plan(cfg, args.user_prefix)
    if args.plan:
        print_table(acl)
        return 0

    kafka = cfg["kafka"]
    conf = config_files.admin_conf(kafka, args.bootstrap)
    if args.client_properties:
        conf.update(read_properties(args.client_properties))
    admin = AdminClient({**QUIET, **conf})
    deadline = time.monotonic() + args.wait
    while True:
        try:
            admin.list_topics(timeout=max(1.0, min(5.0, deadline - time.monotonic())))
            break
        except KafkaException as e:
            if time.monotonic() >= deadline:
                fail(f"broker not reachable: {e}", 1)
            time.sleep(0.5)

    if args.users_dir:
        make_users(admin, acl, args.users_dir, args.security_protocol)
    bindings = [binding(p, r) for p in sorted(acl) for r in sorted(acl[p], key=lambda x: (x[0], x[1], x[2], x[3]))]
    errors = 0
    for b, fut in admin.create_acls(bindings, request_timeout=30).items():
        try:
            fut.result()
        except KafkaException as e:
            print(f"acls.py: {b}: {e.args[0].str()}", file=sys.stderr)
            errors += 1
    # The brokers learn new bindings from the metadata log: read back until all are there.
    deadline = time.monotonic() + max(args.wait, 10)
    while True:
        found, other = describe(admin, acl)
        if all(acl[p] <= found[p] for p in acl) or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    extra = {p: found[p] - acl[p] for p in acl if found[p] - acl[p]}
    if args.prune and (extra or other):
        doomed = [binding(p, r) for p, rs in extra.items() for r in rs]
        flts = [AclBindingFilter(b.restype, b.name, b.resource_pattern_type, b.principal, b.host, b.operation,
                                 b.permission_type) for b in doomed + other]
        for f, fut in admin.delete_acls(flts, request_timeout=30).items():
            fut.result()
        print(f"acls: deleted {len(flts)} bindings not in the plan")
        found, other = describe(admin, acl)
        extra = {p: found[p] - acl[p] for p in acl if found[p] - acl[p]}
    missing = {p: acl[p] - found[p] for p in acl if acl[p] - found[p]}
    print_table({p: found[p] & acl[p] for p in acl})
    n = sum(len(v) for v in found.values())
    print(f"acls: {n} bindings for {len(acl)} principals on {conf['bootstrap.servers']} "
          f"(read back with describe_acls)")
    if extra:
        print("acls.py: bindings not in the plan (--prune deletes them):", file=sys.stderr)
        print_table(extra, sys.stderr)
    for b in other:
        print(f"acls.py: binding not in the plan: {b}", file=sys.stderr)
    if missing:
        print("acls.py: planned bindings the broker does not hold:", file=sys.stderr)
        print_table(missing, sys.stderr)
    return 1 if errors or extra or other or missing else 0


if __name__ == "__main__":
    sys.exit(main())
