"""The topic catalogue (schemas/topics.yaml) for the scripts: topic names, topic configs,
each principal's topic operations, and the docs table. The switch builds the same file in
(switch/config/topic_catalogue.hpp); `turnout topics --json` prints it resolved for a config.
"""
import functools
import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATH = os.path.join(ROOT, "schemas", "topics.yaml")
# Retention settings the catalogue may name: (config section, key, the switch's default hours).
RETENTION = {"settlement.log_retention_hours": ("settlement", "log_retention_hours", 168),
             "risk.velocity_retention_hours": ("risk", "velocity_retention_hours", 24)}
OPERATIONS = ("read", "write", "describe")


@functools.lru_cache(maxsize=1)
def entries():
    """{config key: entry} in catalogue order (read once; not to be changed by callers)."""
    with open(PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)["topics"]


def names(cfg, fail, prefix=""):
    """{config key: topic name} for a config (kafka.topics overrides the defaults; --prefix P and
    kafka.name_prefix go in front). channel_prefix is the prefix of the channel topics."""
    kafka = cfg.get("kafka") or {}
    pre = kafka.get("name_prefix") or ""
    if not isinstance(pre, str):
        fail("kafka.name_prefix: expected a string")
    given = kafka.get("topics") or {}
    out = {}
    for key, e in entries().items():
        name = given.get(key, e["name"])
        if not isinstance(name, str) or not name:
            fail(f"kafka.topics.{key}: expected a topic name")
        out[key] = prefix + pre + name
    return out


def channel_ids(cfg, fail):
    chans = cfg.get("channels") or []
    for i, ch in enumerate(chans):
        if not isinstance(ch, dict) or not ch.get("id"):
            fail(f"channels[{i}]: expected a mapping with an id")
    return [str(ch["id"]) for ch in chans]


def topic_configs(cfg, fail, prefix=""):
    """{topic name: {topic config}} for every topic of a config, as `turnout topics` creates them."""
    t = names(cfg, fail, prefix)
    out = {}
    for key, e in entries().items():
        conf = {}
        if e["cleanup"] == "compact":
            conf["cleanup.policy"] = "compact"
        if e["retention"] != "broker":
            section, hkey, default = RETENTION[e["retention"]]
            hours = (cfg.get(section) or {}).get(hkey, default)
            if not isinstance(hours, int) or isinstance(hours, bool) or hours < 1:
                fail(f"{section}.{hkey}: expected a positive number of hours")
            conf["retention.ms"] = str(hours * 3600 * 1000)
        if key == "channel_prefix":
            for cid in channel_ids(cfg, fail):
                out[t[key] + cid] = dict(conf)
        else:
            out[t[key]] = conf
    return out


def _grants(listed, principal, channel, asynchronous):
    """Does an entry's principal list include this principal (channel: a connector's channel)?"""
    for p in listed:
        if p == principal:
            return "all"
        if channel is not None and p == "connector":
            return "all"
        if channel is not None and p == "connector:own":
            return "own"
        if channel is not None and asynchronous and p == "connector:asynchronous":
            return "all"
    return None


def operations(cfg, fail, principal, channel=None, asynchronous=False):
    """{(topic name, operation)} the catalogue gives a principal; operation is read, write or
    describe. A connector is principal "connector" with its channel id (and whether its
    channel is asynchronous)."""
    t = names(cfg, fail)
    chans = channel_ids(cfg, fail)
    out = set()
    for key, e in entries().items():
        for op in OPERATIONS:
            scope = _grants(e.get(op) or [], principal, channel, asynchronous)
            if scope is None:
                continue
            if key != "channel_prefix":
                out.add((t[key], op))
            elif scope == "own":
                out.add((t[key] + channel, op))
            else:
                out.update((t[key] + cid, op) for cid in chans)
    return out


def markdown_table():
    """The topic table of docs/design.md."""
    rows = ["| topic (`kafka.topics.<key>`) | key | partitioning | cleanup | read by | written by |",
            "|---|---|---|---|---|---|"]
    for key, e in entries().items():
        name = e["name"] + "<id>" if key == "channel_prefix" else e["name"]
        cleanup = e["cleanup"] if e["retention"] == "broker" else f"{e['cleanup']}, `{e['retention']}`"
        read = ", ".join(e["read"]) + ("" if not e.get("describe") else f" (describe: {', '.join(e['describe'])})")
        rows.append(f"| `{name}` (`{key}`) | {e['key']} | {e['partitioning']} | {cleanup} | {read} | "
                    f"{', '.join(e['write'])} |")
    return "\n".join(rows) + "\n"
