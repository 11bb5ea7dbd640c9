#!/usr/bin/env python3
"""The payments gateway against its own OpenAPI document, with independent tools.

What it does (cwd does not matter; paths are taken from this file's location):

 1. Writes an isolated switch configuration under var/test/<run>/ from config/turnout.yaml:
    kafka.name_prefix "<run>." (own topics, groups and transactional ids), in-process
    simulator channels, the state role's status endpoint and the gateway on free loopback
    ports, an API key file with one generated key of merchant `m-api` (`<merchant> <sha256>`)
    and a per-merchant rate high enough that the fuzzing is not all `429`; creates the
    topics (`turnout topics`), starts `turnout all` and `turnout gateway`.
 2. Fetches GET /v1/openapi.yaml and requires it to be what `turnout openapi` prints (the
    bundled docs/openapi.yaml) with no external ref; runs openapi-spec-validator on it; and
    validates every example of the document against the schema next to it (jsonschema).
 3. Known answers, each checked against the document by schemathesis's response
    validation (status declared, headers, content type, body schema):
      * a valid sale of the key's merchant: 200 (its result) or 202 (+ Location), then
        GET /v1/payments/{id} until 200 (its state), and the same POST again answers the
        same result;
      * the same payment_id with another amount: 409 idempotency_conflict;
      * no key: 401; another merchant's body: 403; Idempotency-Key not the payment_id:
        400 idempotency_key_mismatch; an unknown payment: 404 unknown_payment;
      * an unknown path: 404 not_found and a wrong method: 405, both {"error", "message"}.
 4. Runs schemathesis (`st run`) on the served document against the live gateway with the
    key: checks not_a_server_error, status_code_conformance, content_type_conformance,
    response_headers_conformance and response_schema_conformance, phases examples,
    coverage and fuzzing, TURNOUT_ST_EXAMPLES (default 60) cases per operation, a fixed
    seed, a time budget; it fails on any 5xx or any answer the document does not allow.
 5. Stops what it started (SIGTERM; each must exit 0), deletes its topics, removes
    var/test/<run>/ on success (TURNOUT_KEEP_TEST_DIR=1 keeps it; kept on failure).

Environment: TURNOUT_BOOTSTRAP (default 127.0.0.1:9092) names a running broker;
TURNOUT_BIN overrides build/turnout. Exit status 0 on success, 1 on failure.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from prometheus_test import Procs, as_simulator_channels, delete_topics, finish, free_port, log, on_signal

ROOT = Path(__file__).resolve().parents[2]
TURNOUT = Path(os.environ.get("TURNOUT_BIN", ROOT / "build" / "turnout"))
BOOTSTRAP = os.environ.get("TURNOUT_BOOTSTRAP", "127.0.0.1:9092")
VENV_BIN = Path(sys.executable).parent
ST_EXAMPLES = int(os.environ.get("TURNOUT_ST_EXAMPLES", "60"))
ST_SECONDS = int(os.environ.get("TURNOUT_ST_SECONDS", "45"))
MERCHANT = "m-api"

failures: list[str] = []


def fail(msg: str) -> None:
    failures.append(msg)
    log("FAIL: " + msg)


def check(ok: bool, what: str) -> bool:
    if ok:
        log("ok: " + what)
    else:
        fail(what)
    return ok


def run(argv: list, what: str, timeout: float = 120, quiet: bool = False, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    r = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    log(f"$ {' '.join(map(str, argv))}  ({what}) -> exit {r.returncode}")
    if not quiet or r.returncode != 0:
        for line in (r.stdout + r.stderr).rstrip().splitlines():
            print("    " + line)
    return r


class Http:
    """One keep-alive connection's worth of plain requests (urllib: a new connection each)."""

    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                auth: bool = True, timeout: float = 15.0):
        h = {"Content-Type": "application/json"} if body is not None else {}
        if auth:
            h["Authorization"] = f"Bearer {self.key}"
        h.update(headers or {})
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()


def wait_served(http: Http, proc: subprocess.Popen, what: str, timeout: float = 60.0) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before serving")
        try:
            status, _, body = http.request("GET", "/v1/openapi.yaml", auth=False, timeout=2.0)
            if status == 200:
                return body
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{what} did not serve /v1/openapi.yaml within {timeout:.0f}s")


# --------------------------------------------------------------------------- the document


def refs(v, out: list[str]) -> list[str]:
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "$ref" and isinstance(x, str):
                out.append(x)
            else:
                refs(x, out)
    elif isinstance(v, list):
        for x in v:
            refs(x, out)
    return out


def check_examples(doc: dict) -> int:
    """Every example of a media type or parameter validates against its schema."""
    import jsonschema

    components = doc.get("components", {})
    n = 0

    def validate(schema: dict, value, where: str) -> None:
        nonlocal n
        root = dict(schema)
        root["components"] = components  # "#/components/..." refs resolve against this root
        errors = sorted(jsonschema.Draft202012Validator(root).iter_errors(value), key=lambda e: list(e.path))
        n += 1
        if errors:
            fail(f"example {where}: {errors[0].message} at {list(errors[0].absolute_path)}")

    def deref(obj):
        while isinstance(obj, dict) and "$ref" in obj and obj["$ref"].startswith("#/components/"):
            node = doc
            for part in obj["$ref"][2:].split("/"):
                node = node[part]
            obj = node
        return obj

    def media(content: dict, where: str) -> None:
        for mt, m in (content or {}).items():
            if "schema" not in m:
                continue
            for name, ex in (m.get("examples") or {}).items():
                validate(m["schema"], deref(ex)["value"], f"{where} {mt} {name}")
            if "example" in m:
                validate(m["schema"], m["example"], f"{where} {mt}")

    for path, item in doc["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or method not in ("get", "post", "put", "delete", "patch"):
                continue
            where = f"{method.upper()} {path}"
            for p in op.get("parameters", []):
                p = deref(p)
                if "example" in p:
                    validate(p["schema"], p["example"], f"{where} parameter {p['name']}")
            if "requestBody" in op:
                media(deref(op["requestBody"]).get("content"), where + " request")
            for code, resp in op.get("responses", {}).items():
                resp = deref(resp)
                media(resp.get("content"), f"{where} {code}")
                for hname, h in (resp.get("headers") or {}).items():
                    h = deref(h)
                    if "example" in h:
                        validate(h["schema"], h["example"], f"{where} {code} header {hname}")
    return n


# --------------------------------------------------------------------------- main


def main() -> int:
    signal.signal(signal.SIGTERM, on_signal)
    if not TURNOUT.is_file():
        fail(f"{TURNOUT} not found (build first)")
        return 1
    st = VENV_BIN / "st"
    spec_validator = VENV_BIN / "openapi-spec-validator"
    for tool in (st, spec_validator):
        if not tool.exists():
            fail(f"{tool} not found (scripts/setup installs schemathesis and openapi-spec-validator)")
            return 1

    run_id = f"gwapi{int(time.time())}"
    run_dir = ROOT / "var" / "test" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    log(f"run {run_id}: {run_dir}, broker {BOOTSTRAP}")
    procs = Procs()
    prefix = run_id + "."
    topics_created = False

    try:
        # 1. isolated configuration, key, topics, the switch and the gateway
        c = as_simulator_channels(yaml.safe_load((ROOT / "config" / "turnout.yaml").read_text()))
        c["kafka"]["bootstrap_servers"] = BOOTSTRAP
        c["kafka"]["name_prefix"] = prefix
        c["settlement"].update(window_seconds=3, grace_seconds=1, output_dir=str(run_dir / "settlement"))
        keys = Path(c["security"]["keys_file"])
        c["security"]["keys_file"] = str(keys if keys.is_absolute() else ROOT / keys)
        c["metrics"]["port"] = 0
        c["state_dir"] = str(run_dir / "state")
        state_port = free_port()
        c.setdefault("state", {}).update(http_address="127.0.0.1", http_port=state_port)
        key = "tk_" + secrets.token_urlsafe(24)
        key_file = run_dir / "gateway-keys.txt"
        key_file.write_text(f"{MERCHANT} {hashlib.sha256(key.encode()).hexdigest()}\n")
        gw_port = free_port()
        c["gateway"] = {**(c.get("gateway") or {}), "enabled": False, "address": "127.0.0.1", "port": gw_port,
                        "api_keys_file": str(key_file), "wait_ms": 3000, "rate_per_second": 100000,
                        "burst": 100000, "state_url": f"http://127.0.0.1:{state_port}",
                        "openapi_file": str(ROOT / "docs" / "openapi.yaml")}
        cfg = run_dir / "turnout.yaml"
        cfg.write_text(yaml.safe_dump(c, sort_keys=False))

        topics_created = True
        if run([TURNOUT, "topics", "--config", cfg], "topics", timeout=60).returncode != 0:
            fail("turnout topics failed")
            return 1
        switch = procs.start("turnout all", [TURNOUT, "all", "--config", cfg, "--metrics-port", "0"],
                             run_dir / "turnout-all.log")
        gateway = procs.start("turnout gateway", [TURNOUT, "gateway", "--config", cfg, "--metrics-port", "0"],
                              run_dir / "turnout-gateway.log")
        base = f"http://127.0.0.1:{gw_port}"
        http = Http(base, key)
        served = wait_served(http, gateway, "turnout gateway")
        log(f"gateway serves {base}; turnout all pid {switch.pid}")

        # 2. the served document
        served_path = run_dir / "openapi.yaml"
        served_path.write_bytes(served)
        bundled = run([TURNOUT, "openapi"], "the bundled document", quiet=True)
        check(bundled.returncode == 0 and yaml.safe_load(bundled.stdout) == yaml.safe_load(served),
              "GET /v1/openapi.yaml is `turnout openapi` (docs/openapi.yaml with schemas/ inlined)")
        doc = yaml.safe_load(served)
        external = [r for r in refs(doc, []) if not r.startswith("#")]
        check(not external, f"no external ref in the served document ({len(refs(doc, []))} refs; external: {external})")
        r = run([spec_validator, served_path], "openapi-spec-validator on the served document")
        check(r.returncode == 0 and "OK" in r.stdout, "openapi-spec-validator accepts the served document")
        n = check_examples(doc)
        check(n > 10, f"{n} examples validate against their schemas")

        # 3. known answers, validated against the document by schemathesis
        import schemathesis

        schema = schemathesis.openapi.from_path(str(served_path))
        schema.config.update(base_url=base)

        def conforms(method: str, path_template: str, status: int, headers: dict, body: bytes, what: str) -> None:
            import requests  # schemathesis' own dependency
            from schemathesis.core.transport import Response

            # schemathesis reads a requests.Response's headers from its raw stream; a response
            # read by urllib has none, so hand it schemathesis' own Response.
            resp = Response(status_code=status, headers={k: [v] for k, v in headers.items()}, content=body,
                            request=requests.Request(method, base + path_template).prepare(),
                            elapsed=0.0, verify=False)
            try:
                schema[path_template][method].validate_response(resp)
                log(f"ok: {what}: {status} conforms to the document")
            except (Exception, BaseExceptionGroup) as e:  # noqa: BLE001 - schemathesis raises a failure group
                fail(f"{what}: {status} {body[:300]!r} does not conform: {e}")

        pid = f"gwapi-{run_id}-s1"
        sale = {"payment_id": pid, "type": "sale", "merchant": {"id": MERCHANT, "mcc": "5411", "country": "GB"},
                "amount": {"value": 518, "currency": "USD"},
                "instrument": {"kind": "card", "pan": "4242424242424242", "expiry": "3210"},
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
        body = json.dumps(sale).encode()
        status, h, out = http.request("POST", "/v1/payments", body, {"Idempotency-Key": pid})
        check(status in (200, 202), f"POST a valid sale: {status} {out[:200]!r}")
        conforms("POST", "/v1/payments", status, h, out, "POST a valid sale")
        if status == 202:
            check(h.get("Location") == f"/v1/payments/{pid}", f"202 Location {h.get('Location')}")
        deadline = time.monotonic() + 30
        while True:
            gstatus, gh, gout = http.request("GET", f"/v1/payments/{pid}")
            if gstatus == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        check(gstatus == 200 and json.loads(gout).get("root_id") == pid, f"GET the sale: {gstatus} {gout[:200]!r}")
        conforms("GET", "/v1/payments/{id}", gstatus, gh, gout, "GET the sale")
        status2, h2, out2 = http.request("POST", "/v1/payments", body, {"Idempotency-Key": pid})
        check(status2 == 200 and (status != 200 or json.loads(out2) == json.loads(out)),
              f"the same POST again answers the same result: {status2}")
        conforms("POST", "/v1/payments", status2, h2, out2, "POST the sale again")

        other = json.dumps({**sale, "amount": {"value": 519, "currency": "USD"}}).encode()
        cases = [
            ("POST", "/v1/payments", other, {"Idempotency-Key": pid}, True, 409, "idempotency_conflict",
             "the same payment_id with another amount"),
            ("POST", "/v1/payments", body, {"Idempotency-Key": pid}, False, 401, "unauthorized", "no key"),
            ("POST", "/v1/payments", json.dumps({**sale, "payment_id": pid + "x", "merchant": {"id": "m-other"}}).encode(),
             {"Idempotency-Key": pid + "x"}, True, 403, "merchant_mismatch", "another merchant's body"),
            ("POST", "/v1/payments", body, {"Idempotency-Key": pid + "-other"}, True, 400, "idempotency_key_mismatch",
             "Idempotency-Key is not the payment_id"),
            ("POST", "/v1/payments", json.dumps({**sale, "payment_id": pid + "p", "instrument":
                                                 {"kind": "card", "pan": "4242424242424241", "expiry": "3210"}}).encode(),
             {"Idempotency-Key": pid + "p"}, True, 400, "invalid_pan", "a card number failing the Luhn check"),
            ("GET", "/v1/payments/gwapi-no-such-payment", None, {}, True, 404, "unknown_payment", "an unknown payment"),
            ("GET", f"/v1/payments/{pid}", None, {}, False, 401, "unauthorized", "GET without a key"),
        ]
        for method, path, b, hdrs, auth, want, code, what in cases:
            s, hh, o = http.request(method, path, b, hdrs, auth=auth)
            try:
                got = json.loads(o).get("error")
            except ValueError:
                got = None
            check(s == want and got == code, f"{what}: {s} {got} (want {want} {code})")
            template = "/v1/payments" if path == "/v1/payments" else "/v1/payments/{id}"
            conforms(method, template, s, hh, o, what)
        for method, path, want, code, what in (("GET", "/v1/no-such-thing", 404, "not_found", "an unknown path"),
                                               ("DELETE", "/v1/payments", 405, "method_not_allowed", "a wrong method")):
            s, hh, o = http.request(method, path)
            try:
                err = json.loads(o)
            except ValueError:
                err = {}
            check(s == want and err.get("error") == code and isinstance(err.get("message"), str)
                  and hh.get("Content-Type", "").startswith("application/json"),
                  f"{what}: {s} {o[:120]!r} (want {want} {code})")

        # 4. schemathesis against the live gateway
        checks = ("not_a_server_error,status_code_conformance,content_type_conformance,"
                  "response_headers_conformance,response_schema_conformance")
        st_argv = [st, "--no-color", "run", served_path, "--url", base, "-H", f"Authorization: Bearer {key}",
                   "--checks", checks, "--phases", "examples,coverage,fuzzing", "--max-examples", str(ST_EXAMPLES),
                   "--seed", "20261201", "--workers", "2", "--max-time", str(ST_SECONDS),
                   "--request-timeout", "10", "--continue-on-failure", "--generation-database", "none",
                   "--report", "junit", "--report-dir", run_dir / "schemathesis"]
        # in the run's directory: schemathesis keeps a .schemathesis/ of its own in its working directory
        r = run(st_argv, "schemathesis", timeout=ST_SECONDS + 120, cwd=run_dir)
        check(r.returncode == 0, "schemathesis: no 5xx, every answer as the document says")
        if gateway.poll() is not None:
            fail(f"turnout gateway exited {gateway.returncode} during the test")

        for p, name in ((gateway, "gateway"), (switch, "all")):
            rc = procs.stop(p)
            if rc != 0:
                fail(f"turnout {name} exited {rc} on SIGTERM (see {run_dir}/turnout-{name}.log)")
    except Exception as e:  # noqa: BLE001 - report and clean up
        fail(f"{type(e).__name__}: {e}")
    finally:
        procs.stop_all()
        if topics_created:
            delete_topics(prefix)

    return finish(failures, run_dir, "OK")


if __name__ == "__main__":
    sys.exit(main())
