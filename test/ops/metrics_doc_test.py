#!/usr/bin/env python3
"""docs/metrics.md lists exactly the metric families the switch declares, with their types.

A family is declared in switch/ or connectors/, next to the component that owns it, as
declare_counter|declare_gauge|declare_histogram("turnout_...", help) (metrics/metrics.hpp);
docs/metrics.md has one table row per family:
| `name` | counter|gauge|histogram | labels | meaning |. Run from the repository root.
"""
import pathlib
import re
import sys

BUILD = re.compile(r"declare_(counter|gauge|histogram)\(\s*\"(turnout_[a-z0-9_]+)\"", re.S)
ROW = re.compile(r"^\| `(turnout_[a-z0-9_]+)` \| ([a-z]+) \|", re.M)


# The one place a family may be built directly: declare_* itself.
DIRECT = re.compile(r"prometheus::Build(Counter|Gauge|Histogram|Summary)\(\)")
DECLARE_SITE = pathlib.Path("switch/metrics/metrics.cpp")


def declared(problems):
    """{name: (kind, path)} of every declaration; a direct build or a second declaration is a problem."""
    out = {}
    sources = sorted(pathlib.Path("switch").rglob("*.[ch]pp")) + sorted(pathlib.Path("connectors").rglob("*.[ch]pp"))
    for path in sources:
        text = path.read_text(encoding="utf-8")
        if path != DECLARE_SITE and DIRECT.search(text):
            problems.append(f"{path} builds a family directly; declare it with declare_counter/gauge/histogram")
        for kind, name in BUILD.findall(text):
            if name in out:
                problems.append(f"{name} is declared twice ({out[name][1]} and {path}): once, by its owner")
            out[name] = (kind, str(path))
    return out


def main():
    problems = []
    code = declared(problems)
    docs = {name: kind for name, kind in ROW.findall(pathlib.Path("docs/metrics.md").read_text(encoding="utf-8"))}
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
