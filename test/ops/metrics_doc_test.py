#!/usr/bin/env python3
"""docs/metrics.md lists exactly the metric families the switch declares, with their types.

A family is declared in switch/ or connectors/ as prometheus::BuildCounter|BuildGauge|
BuildHistogram()...Name("turnout_..."); docs/metrics.md has one table row per family:
| `name` | counter|gauge|histogram | labels | meaning |. Run from the repository root.
"""
import pathlib
import re
import sys

BUILD = re.compile(r"Build(Counter|Gauge|Histogram|Summary)\(\)\s*\.Name\(\"(turnout_[a-z0-9_]+)\"\)", re.S)
ROW = re.compile(r"^\| `(turnout_[a-z0-9_]+)` \| ([a-z]+) \|", re.M)


def declared():
    out = {}
    for path in sorted(pathlib.Path("switch").rglob("*.cpp")) + sorted(pathlib.Path("connectors").rglob("*.cpp")):
        for kind, name in BUILD.findall(path.read_text(encoding="utf-8")):
            if name in out and out[name][0] != kind.lower():
                print(f"FAIL: {name} declared as {out[name][0]} ({out[name][1]}) and {kind.lower()} ({path})")
            out[name] = (kind.lower(), str(path))
    return out


def main():
    code = declared()
    docs = {name: kind for name, kind in ROW.findall(pathlib.Path("docs/metrics.md").read_text(encoding="utf-8"))}
    problems = []
    for name, (kind, where) in sorted(code.items()):
        if name not in docs:
            problems.append(f"{name} ({kind}, {where}) is not in docs/metrics.md")
        elif docs[name] != kind:
            problems.append(f"{name}: docs/metrics.md says {docs[name]}, {where} declares a {kind}")
    for name in sorted(set(docs) - set(code)):
        problems.append(f"docs/metrics.md lists {name}, which nothing declares")
    for p in problems:
        print(f"FAIL: {p}")
    if len(code) < 10:
        problems.append(f"only {len(code)} declarations found: the pattern no longer matches the code")
        print(f"FAIL: {problems[-1]}")
    print(f"metrics_doc_test: {len(code)} families declared, {len(docs)} documented, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
