#!/usr/bin/env python3
"""The topic catalogue (schemas/topics.yaml) is the one source of the topics: the switch's
`turnout topics --json` and the scripts' catalogue module resolve a config to the same
topics, configs and principals, docs/design.md carries the catalogue's table, and the
catalogue still says what the switch relies on (compaction, retention, the ACL table).

usage: topic_catalogue_test.py TURNOUT_BINARY   (run from the repository root)
"""
import difflib
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join("scripts", "kafka"))
import catalogue  # noqa: E402
import yaml  # noqa: E402

problems = []


def fail(msg, code=2):
    raise SystemExit(f"topic_catalogue_test: {msg}")


def check(ok, msg):
    if not ok:
        problems.append(msg)
        print(f"FAIL: {msg}")


def configs(tmp):
    """The shipped config, and a variant with a name prefix, one renamed topic and the
    retention defaults (written under `tmp`)."""
    base = "config/turnout.yaml"
    with open(base, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    yield base, cfg
    cfg = json.loads(json.dumps(cfg))
    cfg["kafka"]["name_prefix"] = "site-b."
    cfg["kafka"]["topics"] = {"dlq": "payments.dead-letters"}
    (cfg.get("settlement") or {}).pop("log_retention_hours", None)  # the defaults, on both sides
    (cfg.get("risk") or {}).pop("velocity_retention_hours", None)
    path = os.path.join(tmp, "variant.yaml")
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(cfg, f)
    yield path, cfg


def fixed_expectations():
    """What the catalogue must keep saying whatever is edited in it: the compacted topics, the
    time-retained ones, and the ACL table of the shipped config (test/ops/golden/acl-plan.txt,
    `acls.py --plan`; regenerate it only for a change of roles or topics made on purpose)."""
    entries = catalogue.entries()
    compacted = sorted(k for k, e in entries.items() if e["cleanup"] == "compact")
    check(compacted == ["health", "lifecycle", "pending", "state"], f"compacted topics changed: {compacted}")
    retained = {k: e["retention"] for k, e in entries.items() if e["retention"] != "broker"}
    check(retained == {"settlement_log": "settlement.log_retention_hours",
                       "velocity": "risk.velocity_retention_hours"}, f"time-retained topics changed: {retained}")
    r = subprocess.run([sys.executable, os.path.join("scripts", "kafka", "acls.py"), "--plan", "--config",
                        "config/turnout.yaml"], capture_output=True, text=True)
    with open(os.path.join("test", "ops", "golden", "acl-plan.txt"), encoding="utf-8") as f:
        golden = f.read()
    check(r.returncode == 0 and r.stdout == golden,
          "acls.py --plan for config/turnout.yaml differs from test/ops/golden/acl-plan.txt:\n"
          + "".join(difflib.unified_diff(golden.splitlines(True), r.stdout.splitlines(True), "golden", "now")))


def main():
    turnout = sys.argv[1]
    entries = catalogue.entries()
    fixed_expectations()
    with tempfile.TemporaryDirectory() as tmp:
        compare_switch_and_scripts(turnout, entries, tmp)
    compare_docs()
    if problems:
        print(f"topic_catalogue_test: {len(problems)} problem(s)")
        return 1
    print("topic_catalogue_test: OK")
    return 0


def compare_switch_and_scripts(turnout, entries, tmp):
    for path, cfg in configs(tmp):
        r = subprocess.run([turnout, "topics", "--json", "--config", path], capture_output=True, text=True)
        check(r.returncode == 0, f"{path}: turnout topics --json exit {r.returncode}: {r.stderr.strip()[-300:]}")
        if r.returncode:
            continue
        switch = {t["name"]: t for t in json.loads(r.stdout)}
        scripts = catalogue.topic_configs(cfg, fail)
        check(sorted(switch) == sorted(scripts),
              f"{path}: the switch's topics {sorted(switch)} are not the scripts' {sorted(scripts)}")
        for name, conf in scripts.items():
            t = switch.get(name)
            if not t:
                continue
            check(t["config"] == conf, f"{path}: {name}: switch config {t['config']} != scripts {conf}")
            e = entries[t["catalogue_key"]]
            for op in catalogue.OPERATIONS:
                check(t[op] == (e.get(op) or []), f"{path}: {name}: {op} {t[op]} != catalogue {e.get(op)}")
            check(t["key"] == e["key"] and t["partitioning"] == e["partitioning"],
                  f"{path}: {name}: key or partitioning differs from the catalogue")
        print(f"{path}: {len(switch)} topics, the switch and the scripts agree")


def compare_docs():
    with open("docs/design.md", encoding="utf-8") as f:
        design = f.read()
    begin, end = "<!-- topic catalogue: scripts/kafka/topics.py --markdown -->\n", "<!-- end of the topic catalogue -->"
    if begin in design and end in design:
        table = design.split(begin, 1)[1].split(end, 1)[0]
        check(table == catalogue.markdown_table(),
              "docs/design.md: the topic table is not the catalogue's (paste scripts/kafka/topics.py --markdown)")
    else:
        check(False, "docs/design.md: no topic catalogue table between its markers")


if __name__ == "__main__":
    sys.exit(main())
