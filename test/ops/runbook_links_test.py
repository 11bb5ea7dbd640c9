#!/usr/bin/env python3
"""Every alert of config/prometheus/turnout-alerts.yml (runbooks in docs/operations.md) and
config/prometheus/turnout-dr-alerts.yml (runbooks in docs/disaster-recovery.md) links to its
runbook.

Checks (cwd does not matter; paths are taken from this file's location):

 1. every alerting rule has `annotations.runbook_url` of the form `<file>.md#<anchor>`,
    where <file> is a path from the repository root that exists;
 2. <anchor> is the slug of a heading of that file, computed the way GitHub renders
    Markdown headings (lower case, punctuation dropped, spaces to hyphens, `-1`, `-2`, ...
    for repeated headings; headings inside code fences do not count);
 3. each alert's anchor is the slug of a heading that names the alert, so a link cannot
    land on the wrong section;
 4. every heading of the runbook file's "Alerts" section that looks like an alert name
    (`Turnout...`) names an alert that exists (no runbook for a removed or renamed alert),
    and its section says what the alert means (a `**Means.**` paragraph).

Exit status 0 when all hold, 1 otherwise (every problem is printed).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# (rule file, the runbook file its alerts' sections are in)
RULE_FILES = [(ROOT / "config" / "prometheus" / "turnout-alerts.yml", ROOT / "docs" / "operations.md"),
              (ROOT / "config" / "prometheus" / "turnout-dr-alerts.yml", ROOT / "docs" / "disaster-recovery.md")]


def strip_inline_markdown(text: str) -> str:
    """The text GitHub makes the anchor from: link targets, images and emphasis markers dropped."""
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    return text


def github_slug(text: str) -> str:
    """GitHub's heading anchor: lower case; keep letters, digits, '_', '-' and spaces; spaces -> '-'."""
    out = []
    for ch in strip_inline_markdown(text).strip().lower():
        cat = unicodedata.category(ch)
        if ch in "-_" or cat[0] in ("L", "N") or cat == "Mn":
            out.append(ch)
        elif ch == " ":
            out.append("-")
        # everything else (punctuation, symbols, backticks) is dropped
    return "".join(out)


def headings(markdown: str) -> list[tuple[int, str]]:
    """(level, text) of every ATX heading outside fenced code blocks."""
    found = []
    fence = None
    for line in markdown.splitlines():
        m = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if m:
            marker = m.group(1)
            if fence is None:
                fence = marker[0] * len(marker)
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
            continue
        if fence is not None:
            continue
        m = re.match(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$", line)
        if m:
            found.append((len(m.group(1)), m.group(2)))
    return found


def anchors(markdown: str) -> dict[str, str]:
    """slug -> heading text, with GitHub's -1, -2 suffixes for repeated slugs."""
    seen: dict[str, int] = {}
    result: dict[str, str] = {}
    for _, text in headings(markdown):
        base = github_slug(text)
        n = seen.get(base, 0)
        slug = base if n == 0 else f"{base}-{n}"
        seen[base] = n + 1
        result[slug] = text
    return result


def alert_sections(markdown: str) -> list[tuple[str, str]]:
    """(heading, body) of the headings below the level-2 heading `Alerts` (until the next
    level-2 heading); body = the lines up to the next heading."""
    inside = False
    out: list[tuple[str, list[str]]] = []
    fence = None
    for line in markdown.splitlines():
        m = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if m:
            fence = None if fence else m.group(1)[0]
        h = None if fence else re.match(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$", line)
        if h:
            if len(h.group(1)) == 2:
                inside = github_slug(h.group(2)) == "alerts"
            elif inside:
                out.append((h.group(2), []))
            continue
        if inside and out:
            out[-1][1].append(line)
    return [(t, "\n".join(body)) for t, body in out]


def main() -> int:
    problems: list[str] = []
    count = 0
    for rules_file, runbook in RULE_FILES:
        count += check(rules_file, runbook, problems)
    for p in problems:
        print(f"FAIL: {p}")
    print(f"{count} alerts checked, {len(problems)} problems")
    return 1 if problems else 0


def check(RULES: Path, RUNBOOK: Path, problems: list[str]) -> int:
    """The checks above for one rule file and its runbook file; the number of alerts."""
    rules = yaml.safe_load(RULES.read_text())
    alerts = [r for g in rules.get("groups", []) for r in g.get("rules", []) if "alert" in r]
    if not alerts:
        problems.append(f"{RULES.relative_to(ROOT)}: no alerting rules found")
    docs_cache: dict[Path, dict[str, str]] = {}
    for rule in alerts:
        name = rule["alert"]
        url = (rule.get("annotations") or {}).get("runbook_url")
        if not url:
            problems.append(f"alert {name}: no annotations.runbook_url")
            continue
        m = re.fullmatch(r"([A-Za-z0-9_./-]+\.md)#([^#\s]+)", url)
        if not m:
            problems.append(f"alert {name}: runbook_url {url!r} is not <file>.md#<anchor>")
            continue
        doc = (ROOT / m.group(1)).resolve()
        if ROOT not in doc.parents or not doc.is_file():
            problems.append(f"alert {name}: runbook_url {url!r}: {m.group(1)} does not exist in the repository")
            continue
        if doc not in docs_cache:
            docs_cache[doc] = anchors(doc.read_text())
        heading = docs_cache[doc].get(m.group(2))
        if heading is None:
            problems.append(f"alert {name}: runbook_url {url!r}: no heading of {m.group(1)} has the anchor "
                            f"#{m.group(2)}")
            continue
        if name.lower() not in github_slug(heading):
            problems.append(f"alert {name}: runbook_url {url!r} leads to the heading {heading!r}, "
                            f"which does not name the alert")
    names = {r["alert"] for r in alerts}
    if RUNBOOK.is_file():
        for text, body in alert_sections(RUNBOOK.read_text()):
            word = re.match(r"`?(Turnout[A-Za-z0-9]*)", text.strip())
            if not word:
                continue
            if word.group(1) not in names:
                problems.append(f"{RUNBOOK.relative_to(ROOT)}: section {text!r} names no alert of "
                                f"{RULES.relative_to(ROOT)}")
            if "**Means.**" not in body:
                problems.append(f"{RUNBOOK.relative_to(ROOT)}: section {text!r} does not say what the alert "
                                f"means (no **Means.** paragraph)")
    else:
        problems.append(f"{RUNBOOK.relative_to(ROOT)} does not exist")
    return len(alerts)


if __name__ == "__main__":
    sys.exit(main())
