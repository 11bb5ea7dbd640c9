"""Interoperability: Turnout's iso8583 connector against a host built on pyiso8583
(test/integration/iso8583_peer.py), no Kafka. `turnout bench-connector` sends sales; the
peer decodes every message with pyiso8583's default_ascii spec and answers. Checks: every
message decodes and re-encodes to the same bytes, approvals and declines come back, an
unanswered request is reversed with a 0400 the peer reads (field 90) and that names its
original (field 41 as sent, field 90 matching one request), idle connections get 0800
echoes. Every message both ways carries a MAC (ISO 9797-1 algorithm 3, the channel's mac_key
from config/dev-keys.yaml) that the peer computes with pycryptodome: each of Turnout's
verifies, and an answer the peer sends with a wrong MAC is dropped by the connector as not
received, so its payment is reversed.

usage: iso8583_interop_test.py   (from the source root; needs build/turnout)
"""
import json
import os
import socket
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from supervise import NotReady, Process  # noqa: E402  scripts/supervise.py
TURNOUT = os.environ.get("TURNOUT_BIN", os.path.join(ROOT, "build", "turnout"))
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench(config, count, inflight, amount, linger_ms=0):
    cmd = [TURNOUT, "bench-connector", "--config", config, "--channel", "acq-eu", "--count", str(count),
           "--inflight", str(inflight), "--amount", str(amount), "--linger-ms", str(linger_ms)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        print(out.stdout, out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    work = tempfile.mkdtemp(prefix="iso8583-interop-")
    port = free_port()
    summary = os.path.join(work, "peer.json")
    keys = yaml.safe_load(open(os.path.join(ROOT, "config", "dev-keys.yaml")))
    mac = next(k for k in keys["mac_keys"] if k["algorithm"] == "retail-des3")
    peer = Process("iso8583 peer", [sys.executable, os.path.join(ROOT, "test", "integration", "iso8583_peer.py"),
                                    "--port", port, "--summary", summary, "--silent-every", "25",
                                    "--mac-alg", mac["algorithm"], "--mac-key", mac["key_hex"], "--bad-mac-every", "20"],
                   os.path.join(work, "peer.log"), cwd=None, append=False).start()
    try:
        try:
            peer.wait_port(port, timeout=10)
        except NotReady:
            pass  # the checks below say what went wrong
        cfg = yaml.safe_load(open(os.path.join(ROOT, "config", "turnout.yaml")))
        for ch in cfg["channels"]:
            if ch["id"] == "acq-eu":
                ch.update(endpoint=f"127.0.0.1:{port}", layout=os.path.join(ROOT, "config/iso8583/iso87-ascii.yaml"),
                          keys_file=os.path.join(ROOT, "config/dev-keys.yaml"), timeout_ms=500,
                          reversal_timeout_ms=500, echo_interval_ms=100, length_header="binary2",
                          journal_dir=os.path.join(work, "journal"), mac_key=mac["id"])
        cfg["security"]["keys_file"] = os.path.join(ROOT, "config/dev-keys.yaml")
        config = os.path.join(work, "turnout.yaml")
        yaml.safe_dump(cfg, open(config, "w"), sort_keys=False)

        approved = bench(config, 200, 20, 1000, linger_ms=400)
        declined = bench(config, 50, 10, 1051)
        print("bench:", approved, declined)
        check(approved["outcomes"].get("approved", 0) == 184,
              "184 of 200 sales approved (every 25th unanswered, every 20th answered with a wrong MAC)")
        check(approved["outcomes"].get("reversed", 0) == 16, "16 sales reversed: 8 unanswered, 8 answered with a wrong MAC")
        check(declined["outcomes"].get("declined", 0) + declined["outcomes"].get("reversed", 0) == 50,
              "sales ending in 51 declined (or reversed when unanswered)")
    finally:
        peer.stop(10)
    s = json.load(open(summary))
    print("peer:", json.dumps(s["by_mti"]), "errors:", len(s["decode_errors"]), s["decode_errors"][:3])
    check(not s["decode_errors"], "pyiso8583 decodes every message the connector sent")
    check(s["reencode_mismatches"] == 0, "pyiso8583 re-encodes every message to the same bytes")
    check(s["by_mti"].get("0200", 0) == 250, "250 sales arrived as 0200")
    check(s["by_mti"].get("0400", 0) >= 8, "each unanswered sale was reversed with an 0400")
    check(s["by_mti"].get("0800", 0) > 0, "idle connections sent 0800 echoes")
    f0200 = set(s["fields"].get("0200", []))
    check({2, 3, 4, 7, 11, 12, 13, 14, 22, 32, 37, 41, 42, 49} <= f0200, f"0200 carries the §9 fields ({sorted(f0200)})")
    check(90 in set(s["fields"].get("0400", [])), "0400 carries field 90")
    print("reversals:", s["reversals"], "terminal mismatches:", s["reversal_terminal_mismatches"],
          "field 90 not naming one request:", s["reversal_f90_not_unique"], "repeats with a new STAN:",
          s["repeat_stan_changed"])
    check(s["reversal_terminal_mismatches"] == 0, "every reversal carries its original's terminal (field 41)")
    check(s["reversal_f90_not_unique"] == 0, "every reversal's field 90 names exactly one request")
    check(s["repeat_stan_changed"] == 0, "a 0401 keeps its 0400's STAN")
    print("MACs:", {k: s[k] for k in ("mac_ok", "mac_bad", "mac_missing", "bad_macs_sent")})
    check(s["mac_bad"] == 0 and s["mac_missing"] == 0, "every message the connector sent carries a MAC the peer verifies")
    check(s["mac_ok"] == sum(s["by_mti"].values()), "the peer verified the MAC of every message")
    check(s["bad_macs_sent"] == 10, "10 answers sent with a wrong MAC")
    print("iso8583 interop:", "FAILED" if failures else "passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
