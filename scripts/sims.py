"""scripts/sims: start/stop the channel host simulators of a config (see scripts/sims)."""
import os
import sys
import time

import yaml

from supervise import NotReady, Process, read_pid, stop_pids  # scripts/supervise.py, beside this file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM_KIND = {"iso8583": "iso8583", "http_json": "psp"}  # connector kind → turnout-sim kind
LOOPBACK = ("127.0.0.1", "localhost")


def endpoint_of(channel):
    """host, port of a channel's `endpoint` (host:port or https://host:port/...)."""
    ep = str(channel.get("endpoint", ""))
    if "://" in ep:
        ep = ep.split("://", 1)[1].split("/", 1)[0]
    host, _, port = ep.rpartition(":")
    return host, int(port) if port.isdigit() else 0


def simulated_channels(config):
    with open(config) as f:
        cfg = yaml.safe_load(f)
    out = []
    for ch in cfg.get("channels", []):
        kind = SIM_KIND.get(ch.get("kind"))
        host, port = endpoint_of(ch)
        if kind and host in LOOPBACK and port:
            out.append((ch["id"], kind, host, port))
    return out


def running(pidfile):
    return read_pid(pidfile)


def main(argv):
    if not argv or argv[0] not in ("start", "stop", "status"):
        print(open(os.path.join(ROOT, "scripts", "sims")).read().split("set -euo")[0], file=sys.stderr)
        return 2
    cmd, rest = argv[0], argv[1:]
    extra = []
    if "--" in rest:
        extra = rest[rest.index("--") + 1:]
        rest = rest[:rest.index("--")]
    config = os.environ.get("TURNOUT_CONFIG", os.path.join(ROOT, "config", "turnout.yaml"))
    sdir = os.environ.get("TURNOUT_SIM_DIR", os.path.join(ROOT, "var", "sims"))
    i = 0
    while i < len(rest):
        if rest[i] == "--config":
            config = rest[i + 1]; i += 2
        elif rest[i] == "--dir":
            sdir = rest[i + 1]; i += 2
        else:
            print(f"sims: unknown argument {rest[i]}", file=sys.stderr); return 2
    binary = os.environ.get("TURNOUT_SIM_BIN", os.path.join(ROOT, "build", "turnout-sim"))
    os.makedirs(sdir, exist_ok=True)
    sims = simulated_channels(config)
    status = 0
    if cmd == "start":
        started = []
        for cid, kind, host, port in sims:
            pidfile = os.path.join(sdir, cid + ".pid")
            if running(pidfile):
                continue
            # Each host keeps a ledger of what it executed, so a restarted one answers retries.
            ledger = [] if "--ledger" in extra else ["--ledger", os.path.join(sdir, cid + ".ledger")]
            p = Process(cid, [binary, kind, "--config", config, "--channel", cid] + ledger + extra,
                        os.path.join(sdir, cid + ".log"), cwd=None, detach=True, pidfile=pidfile).start()
            started.append((cid, host, port, p))
        deadline = time.time() + 30
        for cid, host, port, p in started:
            try:
                p.wait_port(port, host, timeout=max(0.0, deadline - time.time()))
            except NotReady:
                print(f"sims: {cid} did not start; see {sdir}/{cid}.log", file=sys.stderr)
                return 1
            print(f"sims: {cid} serving on {host}:{port} (pid {p.pid})")
    elif cmd == "stop":
        for cid, *_ in sims:
            pidfile = os.path.join(sdir, cid + ".pid")
            pid = running(pidfile)
            if pid:
                stop_pids([pid], timeout=10)
            if os.path.exists(pidfile):
                os.remove(pidfile)
    else:
        for cid, kind, host, port in sims:
            pid = running(os.path.join(sdir, cid + ".pid"))
            print(f"{cid} ({kind} on {host}:{port}): {'running pid %d' % pid if pid else 'stopped'}")
            status = status or (0 if pid else 3)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
