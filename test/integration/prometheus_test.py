#!/usr/bin/env python3
"""Turnout's operator files against a real Prometheus server and a running switch.

What it does (cwd does not matter; paths are taken from this file's location):

 1. `promtool check config` on config/prometheus/prometheus.yml and `promtool check rules`
    on config/prometheus/turnout-alerts.yml (and `promtool test rules` on
    turnout-alerts.test.yml next to it).
 2. Writes an isolated switch configuration under var/test/<run>/ from config/turnout.yaml:
    kafka.name_prefix "<run>." (own topics, groups and transactional ids), settlement
    window 3 s / grace 1 s, clearing files under var/test/<run>/settlement, metrics.port a
    free port; the ISO 8583 channel acq-eu against a `turnout-sim iso8583` of the run on a
    free port (MACed, as shipped), the other remote channels as in-process simulators;
    creates the topics (`turnout topics`) and starts `turnout all`.
 3. Starts Debian's `prometheus` with a configuration derived from the shipped
    prometheus.yml (same job, the shipped rule file, scrape and evaluation every 1 s,
    target = the switch), storage under var/test/<run>/prom, on a free loopback port.
 4. Runs `turnout loadgen --count 20000 --rate 2000` (TURNOUT_PROM_COUNT / TURNOUT_PROM_RATE
    override) and requires it to succeed.
 5. Queries Prometheus's HTTP API (/api/v1/query) for
      * every target `expr` of every panel of config/grafana/turnout.json, with Grafana's
        variables substituted: $__rate_interval and $__interval -> 30s, $__range -> 5m,
        and each query variable (e.g. $instance) -> its "All" value (allValue, ".*");
      * every recording rule: its expression and the series it records;
      * every alerting rule: the expression as written (reported only: with a healthy
        switch an alert's comparison filters its result to empty, which is the point),
        and each of its *signals*. The signals are found by splitting the expression at its
        top-level set operators (`and`, `or`, `unless`) and comparison operators
        (`==`, `!=`, `>`, `<`, `>=`, `<=`, with their `bool` / `on(...)` /
        `ignoring(...)` / `group_left|right(...)` modifiers), recursively inside
        enclosing parentheses, and dropping the numeric thresholds. For
        `A > 1000 and B > 0` the signals are `A` and `B`.
    Each of these queries must return at least one series with a finite value (a series
    whose only value is NaN, e.g. a quantile of an empty histogram, does not count).
    Also checks /api/v1/targets (the switch is up) and /api/v1/rules (every rule loaded and
    evaluated with health "ok").
 6. Scrapes /metrics of the `turnout all` process and of one process per role (router,
    risk, connector --channel <first channel>, settlement; started with --instance
    promcheck on their own ports) and pipes each through `promtool check metrics`
    (what `curl -s http://HOST:PORT/metrics | promtool check metrics` does).
 7. Prints a table of query -> series count, stops every process it started (SIGTERM, which
    drains; each must exit 0), deletes its topics, and removes var/test/<run>/ on success
    (TURNOUT_KEEP_TEST_DIR=1 keeps it; it is always kept on failure).

Environment: TURNOUT_BOOTSTRAP (default 127.0.0.1:9092) names a running broker;
TURNOUT_BIN overrides build/turnout. Exit status 0 on success, 1 on failure.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from supervise import Process, Supervisor, http_get  # noqa: E402  scripts/supervise.py
TURNOUT = Path(os.environ.get("TURNOUT_BIN", ROOT / "build" / "turnout"))
TURNOUT_SIM = TURNOUT.parent / "turnout-sim"
ISO_CHANNEL = "acq-eu"  # stays a real ISO 8583 link: its connector's series (MACs, connections) exist
BOOTSTRAP = os.environ.get("TURNOUT_BOOTSTRAP", "127.0.0.1:9092")
PROM_DIR = ROOT / "config" / "prometheus"
PROM_CONFIG = PROM_DIR / "prometheus.yml"
RULES = PROM_DIR / "turnout-alerts.yml"
RULE_TESTS = PROM_DIR / "turnout-alerts.test.yml"
DASHBOARD = ROOT / "config" / "grafana" / "turnout.json"
COUNT = int(os.environ.get("TURNOUT_PROM_COUNT", "20000"))
RATE = os.environ.get("TURNOUT_PROM_RATE", "2000")
GRAFANA_INTERVALS = {"__rate_interval": "30s", "__interval": "30s", "__range": "5m"}

T0 = time.monotonic()
failures: list[str] = []


def as_simulator_channels(cfg, iso_port=None, run_dir=None):
    """Remote-host channels (iso8583, http_json) become in-process `simulator` channels with
    their fees and circuit: no host simulator processes or fixed ports. With `iso_port`,
    ISO_CHANNEL stays a real link to a host simulator of the run on that port."""
    for i, ch in enumerate(cfg.get("channels") or []):
        if iso_port and ch.get("id") == ISO_CHANNEL:
            ch.update(endpoint=f"127.0.0.1:{iso_port}", journal_dir=str(run_dir / "iso8583"))
            for k in ("layout", "keys_file"):
                if k in ch and not Path(ch[k]).is_absolute():
                    ch[k] = str(ROOT / ch[k])
        elif ch.get("kind") in ("iso8583", "http_json"):
            cfg["channels"][i] = {k: v for k, v in ch.items() if k in ("id", "fees", "circuit")}
            cfg["channels"][i].update(kind="simulator", latency_ms=2)
    return cfg


def log(msg: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def fail(msg: str) -> None:
    failures.append(msg)
    log("FAIL: " + msg)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- processes

class Procs(Supervisor):
    """Every process this test starts (scripts/supervise.py); stop() ends one by PID (SIGTERM,
    then SIGKILL) and returns its exit code, stop_all() ends the rest, the last started first."""

    def __init__(self) -> None:
        super().__init__(say=log)

    def start(self, name: str, argv: list, logfile: Path, **kw) -> Process:
        return super().start(name, argv, logfile, append=False, **kw)


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def run(argv: list[str], what: str, input_text: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, cwd=ROOT, input=input_text, capture_output=True, text=True, timeout=timeout)
    log(f"$ {' '.join(map(str, argv))}{' < ' + what if input_text is not None else ''}  -> exit {r.returncode}")
    for line in (r.stdout + r.stderr).rstrip().splitlines():
        print("    " + line)
    return r


def wait_http(url: str, proc: Process, what: str, timeout: float = 60.0, contains: str | None = None) -> str:
    return proc.wait_http(url, timeout, contains, what=what)


# --------------------------------------------------------------------------- PromQL

_WORD = re.compile(r"[A-Za-z0-9_:]")
_MODIFIERS = re.compile(
    r"^\s*(?:bool\b)?\s*(?:(?:on|ignoring)\s*\([^)]*\))?\s*(?:(?:group_left|group_right)\b\s*(?:\([^)]*\))?)?",
    re.IGNORECASE)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$|^[+-]?(Inf|NaN)$", re.IGNORECASE)


def _split_top(expr: str, kind: str) -> list[str]:
    """Split at top-level operators: kind 'set' (and, or, unless) or 'cmp' (comparisons)."""
    parts, depth, start, i, quote = [], 0, 0, 0, None
    while i < len(expr):
        c = expr[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = None
            i += 1
            continue
        if c in "\"'`":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0:
            if kind == "set":
                m = re.match(r"(and|or|unless)\b", expr[i:], re.IGNORECASE)
                if m and (i == 0 or not _WORD.match(expr[i - 1])):
                    parts.append(expr[start:i])
                    i += m.end()
                    start = i
                    continue
            elif kind == "cmp":
                op = expr[i:i + 2] if expr[i:i + 2] in ("==", "!=", ">=", "<=") else c if c in "<>" else None
                if op:
                    parts.append(expr[start:i])
                    i += len(op)
                    start = i
                    continue
        i += 1
    parts.append(expr[start:])
    # A right-hand operand may start with the operator's modifiers.
    return [parts[0]] + [_MODIFIERS.sub("", p, count=1) for p in parts[1:]]


def _strip_parens(e: str) -> str:
    e = e.strip()
    while e.startswith("(") and e.endswith(")"):
        depth = 0
        for i, c in enumerate(e):
            depth += c == "("
            depth -= c == ")"
            if depth == 0 and i < len(e) - 1:
                return e  # the first "(" closes before the end: not one enclosing pair
        e = e[1:-1].strip()
    return e


def signals(expr: str) -> list[str]:
    """The non-literal operands of an expression's top-level set and comparison operators."""
    e = _strip_parens(expr)
    if _NUMBER.match(e):
        return []
    for kind in ("set", "cmp"):
        parts = _split_top(e, kind)
        if len(parts) > 1:
            return list(dict.fromkeys(s for p in parts for s in signals(p)))
    return [" ".join(e.split())]


def _self_test_signals() -> None:
    cases = {
        "up == 0": ["up"],
        "a > 1000\nand\nb > 0": ["a", "b"],
        "sum by (x) (rate(m{s=~\"a|b\"}[5m])) / on (x) sum by (x) (rate(n[5m])) > 0.05 and on (x) c > 10":
            ['sum by (x) (rate(m{s=~"a|b"}[5m])) / on (x) sum by (x) (rate(n[5m]))', "c"],
        "d >= 20 unless e > 0": ["d", "e"],
        "(f > bool 2) or (g < 1)": ["f", "g"],
        "histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))":
            ["histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))"],
        'errors_total{outcome="or"} > 3': ['errors_total{outcome="or"}'],
    }
    for expr, want in cases.items():
        got = signals(expr)
        assert got == want, f"signals({expr!r}) = {got}, want {want}"


def substitute_grafana(expr: str, variables: dict[str, str]) -> str:
    for name, value in variables.items():
        expr = re.sub(r"\$\{" + re.escape(name) + r"(:[a-z]+)?\}|\[\[" + re.escape(name) + r"\]\]|\$"
                      + re.escape(name) + r"\b", value, expr)
    return expr


def dashboard_queries() -> list[tuple[str, str]]:
    d = json.loads(DASHBOARD.read_text())
    variables = dict(GRAFANA_INTERVALS)
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") in ("query", "custom"):
            variables[v["name"]] = v.get("allValue") or ".*"
    out = []

    def walk(panels):
        for p in panels:
            walk(p.get("panels", []))
            for t in p.get("targets", []):
                if "expr" not in t:
                    continue
                e = substitute_grafana(t["expr"], variables)
                if "$" in e:
                    fail(f"panel {p.get('title')!r}: unsubstituted variable in {e!r}")
                out.append((f"panel {p.get('title')} [{t.get('refId')}]", e))

    walk(d.get("panels", []))
    return out


def rule_queries() -> tuple[list[tuple[str, str, bool]], int]:
    """(label, expr, must_have_data) for every rule; and the number of rules."""
    doc = yaml.safe_load(RULES.read_text())
    out, n = [], 0
    for g in doc["groups"]:
        for r in g["rules"]:
            n += 1
            if "record" in r:
                out.append((f"record {r['record']} (expr)", r["expr"], True))
                out.append((f"record {r['record']} (series)", r["record"], True))
            else:
                out.append((f"alert {r['alert']} (as written)", r["expr"], False))
                for i, s in enumerate(signals(r["expr"]), 1):
                    out.append((f"alert {r['alert']} signal {i}", s, True))
    return out, n


# --------------------------------------------------------------------------- main

def main() -> int:
    signal.signal(signal.SIGTERM, on_signal)
    _self_test_signals()

    prometheus_bin = shutil.which("prometheus")
    promtool = shutil.which("promtool")
    if not prometheus_bin or not promtool:
        fail("prometheus and promtool must be installed (Debian package `prometheus`; scripts/setup)")
        return 1
    if not TURNOUT.is_file():
        fail(f"{TURNOUT} not found (build first)")
        return 1

    run_id = f"prom{int(time.time())}"
    run_dir = ROOT / "var" / "test" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    log(f"run {run_id}: {run_dir}, broker {BOOTSTRAP}")
    procs = Procs()
    prefix = run_id + "."
    table: list[tuple[str, str, int, str]] = []
    cfg = run_dir / "turnout.yaml"
    topics_created = False

    try:
        # 1. static checks of the shipped files
        for argv, what in (([promtool, "check", "config", PROM_CONFIG], "shipped scrape config"),
                           ([promtool, "check", "rules", RULES], "rules")):
            if run(argv, what).returncode != 0:
                fail(f"promtool rejects the {what}")
        if RULE_TESTS.is_file():
            if run([promtool, "test", "rules", RULE_TESTS], "rule unit tests").returncode != 0:
                fail("promtool test rules failed")

        # 2. isolated switch configuration, topics, `turnout all`
        iso_port = free_port()
        c = as_simulator_channels(yaml.safe_load((ROOT / "config" / "turnout.yaml").read_text()), iso_port, run_dir)
        c["kafka"]["bootstrap_servers"] = BOOTSTRAP
        c["kafka"]["name_prefix"] = prefix
        c["settlement"].update(window_seconds=3, grace_seconds=1, output_dir=str(run_dir / "settlement"))
        keys = Path(c["security"]["keys_file"])
        c["security"]["keys_file"] = str(keys if keys.is_absolute() else ROOT / keys)
        metrics_port = free_port()
        c["metrics"]["port"] = metrics_port
        c.setdefault("state", {})["http_port"] = 0  # the state role's status endpoint: any free port
        cfg.write_text(yaml.safe_dump(c, sort_keys=False))
        channels = [ch["id"] for ch in c["channels"]]

        topics_created = True
        if run([TURNOUT, "topics", "--config", cfg], "topics", timeout=60).returncode != 0:
            fail("turnout topics failed")
            return 1
        procs.start(f"turnout-sim iso8583 {ISO_CHANNEL}",
                    [TURNOUT_SIM, "iso8583", "--config", cfg, "--channel", ISO_CHANNEL, "--listen", f"127.0.0.1:{iso_port}"],
                    run_dir / "iso-host.log")
        switch = procs.start("turnout all", [TURNOUT, "all", "--config", cfg], run_dir / "turnout-all.log")
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        wait_http(metrics_url, switch, "turnout all", contains="turnout_stage_records_in_total")

        # 3. prometheus with the shipped job and rules, scraping the switch every second
        pc = yaml.safe_load(PROM_CONFIG.read_text())
        jobs = [j for j in pc["scrape_configs"] if j["job_name"] == "turnout"]
        if not jobs:
            fail("prometheus.yml has no scrape job `turnout`")
            return 1
        job = jobs[0]
        job["scrape_interval"] = job["scrape_timeout"] = "1s"
        labels = (job.get("static_configs") or [{}])[0].get("labels", {})
        job["static_configs"] = [{"targets": [f"127.0.0.1:{metrics_port}"], "labels": labels}]
        pc["scrape_configs"] = [job]
        pc["global"].update(scrape_interval="1s", evaluation_interval="1s")
        pc["rule_files"] = [str(RULES)]
        pc.pop("alerting", None)
        test_prom_config = run_dir / "prometheus.yml"
        test_prom_config.write_text(yaml.safe_dump(pc, sort_keys=False))
        if run([promtool, "check", "config", test_prom_config], "test scrape config").returncode != 0:
            fail("promtool rejects the generated test configuration")
        prom_port = free_port()
        prom_url = f"http://127.0.0.1:{prom_port}"
        prom = procs.start("prometheus", [prometheus_bin, f"--config.file={test_prom_config}",
                                          f"--storage.tsdb.path={run_dir / 'prom'}",
                                          f"--web.listen-address=127.0.0.1:{prom_port}",
                                          "--storage.tsdb.retention.time=1h", "--log.level=warn"],
                           run_dir / "prometheus.log")
        wait_http(prom_url + "/-/ready", prom, "prometheus")
        # Prometheus applies new scrape targets on a 5 s tick: wait for the first scrapes, so
        # that every counter has a sample from before the load (else rate() sees no increase).
        deadline = time.monotonic() + 30
        while True:
            _, body = http_get(prom_url + "/api/v1/targets")
            active = json.loads(body)["data"]["activeTargets"]
            if active and all(t["health"] == "up" for t in active):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"prometheus has not scraped the switch: {active}")
            time.sleep(0.25)
        time.sleep(2)
        log(f"prometheus ready on {prom_url} and scraping the switch")

        # 4. load
        lg = run([TURNOUT, "loadgen", "--config", cfg, "--count", str(COUNT), "--rate", RATE, "--timeout", "60",
                  "--report-json", run_dir / "loadgen.json"], "loadgen", timeout=240)
        if lg.returncode != 0:
            fail(f"loadgen exited {lg.returncode}")
        time.sleep(3)  # the last scrapes and rule evaluations after the final results

        # 5. queries
        def query(expr: str) -> list[dict]:
            url = prom_url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
            status, body = http_get(url, 10.0)
            doc = json.loads(body)
            if status != 200 or doc.get("status") != "success":
                raise ValueError(f"HTTP {status}: {doc.get('errorType')}: {doc.get('error')}")
            res = doc["data"]["result"]
            return res if isinstance(res, list) else [{"value": res}]

        status, body = http_get(prom_url + "/api/v1/targets")
        targets = json.loads(body)["data"]["activeTargets"]
        if not targets or any(t["health"] != "up" for t in targets):
            fail(f"scrape targets not all up: {[(t['scrapeUrl'], t['health'], t['lastError']) for t in targets]}")

        queries = [(label, expr, True) for label, expr in dashboard_queries()]
        rq, n_rules = rule_queries()
        queries += rq
        for label, expr, must in queries:
            try:
                res = query(expr)
            except (ValueError, OSError) as e:
                fail(f"{label}: query error {e}: {expr}")
                table.append((label, expr, -1, "error"))
                continue
            values = []
            for s in res:
                v = s.get("value", [0, "NaN"])[1]
                try:
                    values.append(float(v))
                except (TypeError, ValueError):
                    values.append(math.nan)
            finite = [v for v in values if math.isfinite(v)]
            shown = "" if not values else (f"{min(finite):.4g}..{max(finite):.4g}" if finite else "NaN")
            table.append((label, expr, len(res), shown))
            if must and not finite:
                fail(f"{label}: {'no series' if not res else 'only NaN'} for {expr}")

        status, body = http_get(prom_url + "/api/v1/rules")
        loaded = [r for g in json.loads(body)["data"]["groups"] for r in g["rules"]]
        if len(loaded) != n_rules:
            fail(f"prometheus loaded {len(loaded)} rules, the file has {n_rules}")
        for r in loaded:
            if r.get("health") != "ok":
                fail(f"rule {r['name']}: health {r.get('health')} {r.get('lastError', '')}")
        firing = [(r["name"], r.get("state")) for r in loaded if r.get("type") == "alerting" and r.get("state") != "inactive"]
        log(f"{len(loaded)} rules loaded, all evaluated; alerts not inactive: {firing or 'none'}")

        # 6. promtool check metrics on every role's /metrics
        def check_metrics(url: str, what: str) -> None:
            status, text = http_get(url)
            if status != 200:
                fail(f"{what}: GET {url} -> {status}")
                return
            # The stage runner's series exist from a role's start (docs/metrics.md, "every role").
            for name in ("turnout_build_info", "turnout_stage_records_in_total", "turnout_stage_latency_seconds_bucket",
                         "turnout_stage_commit_seconds_bucket", "turnout_transactions_total", "turnout_dlq_records_total"):
                if not re.search(rf"^{name}\{{", text, re.M):
                    fail(f"{what}: /metrics has no {name} series")
            r = run([promtool, "check", "metrics"], f"{what} /metrics ({len(text.splitlines())} lines)", input_text=text)
            if r.returncode != 0:
                fail(f"promtool check metrics rejects the /metrics of {what}")

        check_metrics(metrics_url, "turnout all")
        roles = [("router", []), ("risk", []), ("connector", ["--channel", channels[0]]), ("settlement", [])]
        started = []
        for role, extra in roles:
            port = free_port()
            p = procs.start(f"turnout {role}", [TURNOUT, role, "--config", cfg, *extra, "--instance", "promcheck",
                                                "--metrics-port", str(port)], run_dir / f"turnout-{role}.log")
            started.append((role, p, port))
        for role, p, port in started:
            url = f"http://127.0.0.1:{port}/metrics"
            wait_http(url, p, f"turnout {role}", contains="turnout_stage_records_in_total")
            check_metrics(url, f"turnout {role}")
        for role, p, _ in started:
            rc = procs.stop(p)
            if rc != 0:
                fail(f"turnout {role} exited {rc} on SIGTERM (see {run_dir}/turnout-{role}.log)")
        rc = procs.stop(switch)
        if rc != 0:
            fail(f"turnout all exited {rc} on SIGTERM (see {run_dir}/turnout-all.log)")
    except Exception as e:  # noqa: BLE001 - report and clean up
        fail(f"{type(e).__name__}: {e}")
    finally:
        procs.stop_all()
        if topics_created:
            delete_topics(prefix)

    # 7. report
    if table:
        width = max(len(t[0]) for t in table)
        print(f"\n{'series':>6}  {'values':<17}  {'query':<{width}}  expression")
        for label, expr, n, shown in table:
            print(f"{n:>6}  {shown:<17}  {label:<{width}}  {' '.join(expr.split())}")
        print()
    return finish(failures, run_dir, f"OK: {len(table)} queries returned data where required")


def finish(failures: list[str], run_dir, ok_message: str) -> int:
    """A test's end: its failures listed (files kept), or its run dir removed; the exit status."""
    if failures:
        log(f"FAILED ({len(failures)}); files kept in {run_dir}")
        for f in failures:
            print("  - " + f)
        return 1
    if os.environ.get("TURNOUT_KEEP_TEST_DIR") != "1":
        shutil.rmtree(run_dir, ignore_errors=True)
    log(ok_message)
    return 0


def delete_topics(prefix: str) -> None:
    """Best effort: remove this run's topics from the broker."""
    try:
        from confluent_kafka.admin import AdminClient
    except ImportError:
        return
    try:
        admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
        names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        if names:
            for f in admin.delete_topics(names, operation_timeout=30).values():
                f.result()
            log(f"deleted {len(names)} topics {prefix}*")
    except Exception as e:  # noqa: BLE001
        log(f"could not delete topics {prefix}*: {e}")


if __name__ == "__main__":
    sys.exit(main())
