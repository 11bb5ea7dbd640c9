"""An ISO 8583 card host built on pyiso8583, an implementation independent of Turnout's.

It decodes every message the connector sends with pyiso8583's own `default_ascii` spec
(ISO 8583:1987, ASCII, hex bitmaps: the layout of config/iso8583/iso87-ascii.yaml), checks
that re-encoding gives the same bytes, and builds its replies with pyiso8583:
  0800 → 0810 (39=00); 0100/0200/0220 → 0110/0210/0230 with 39 = 51 when the amount ends
  in 51, else 00 + approval code; every --silent-every'th financial request unanswered (so
  the connector reverses it); 0400/0401 → 0410 (39=00).
With --mac-alg and --mac-key it checks the MAC of every message (field 64, or 128 with a
secondary bitmap: the last 16 hex characters, over every byte before them) and MACs its
replies — ISO 9797-1 algorithm 3 or AES-CMAC, computed with pycryptodome, independently of
Turnout; --bad-mac-every N gives every Nth financial reply a wrong MAC.
Messages are framed with a 2-byte big-endian length. On SIGTERM it writes a JSON summary
(messages by MTI, decode errors, re-encode mismatches, fields seen per MTI, and how well
the reversals name their originals: field 41 as the original's, field 90 naming exactly one
request received, a 0401 keeping its 0400's STAN) to --summary.

usage: iso8583_peer.py --port PORT --summary FILE [--silent-every N]
                       [--mac-alg retail-des3|aes-cmac --mac-key HEX [--bad-mac-every N]]
"""
import argparse
import asyncio
import copy
import json
import signal
import sys

import iso8583
from Crypto.Cipher import AES, DES
from Crypto.Hash import CMAC
from iso8583.specs import default_ascii

SPEC = copy.deepcopy(default_ascii)

stats = {"by_mti": {}, "decode_errors": [], "reencode_mismatches": 0, "fields": {}, "financial": 0,
         "reversals": 0, "reversal_terminal_mismatches": 0, "reversal_f90_not_unique": 0,
         "repeat_stan_changed": 0, "mac_ok": 0, "mac_bad": 0, "mac_missing": 0, "bad_macs_sent": 0}
originals = {}      # RRN → field 41 of the first request with it
by_f90 = {}         # MTI + STAN + transmission time + acquirer (11 digits) → requests
reversal_stan = {}  # RRN → STAN of its 0400


def note_identification(doc):
    """Reversals checked as a host matching on field 90 and the terminal would find them."""
    mti = doc["t"]
    if mti[1] in "12" and mti[2] in "02":
        originals.setdefault(doc.get("37"), doc.get("41"))
        key = mti + doc.get("11", "") + doc.get("7", "") + doc.get("32", "").rjust(11, "0")
        by_f90[key] = by_f90.get(key, 0) + 1
    elif mti in ("0400", "0401"):
        stats["reversals"] += 1
        rrn = doc.get("37")
        if rrn in originals and originals[rrn] != doc.get("41"):
            stats["reversal_terminal_mismatches"] += 1
        if rrn in originals and by_f90.get(doc.get("90", "")[:31], 0) != 1:
            stats["reversal_f90_not_unique"] += 1
        if mti == "0400":
            reversal_stan[rrn] = doc.get("11")
        elif reversal_stan.get(rrn) != doc.get("11"):
            stats["repeat_stan_changed"] += 1


def mac_of(args, data):
    key = bytes.fromhex(args.mac_key)
    if args.mac_alg == "aes-cmac":
        c = CMAC.new(key, ciphermod=AES)
        c.update(data)
        return c.digest()[:8]
    # ISO 9797-1 algorithm 3: single-DES CBC under K1 (zero-padded), then d_K2, e_K1.
    k1, k2 = key[:8], key[8:]
    data = data + b"\0" * ((-len(data)) % 8 if data else 8)
    h = bytes(8)
    for i in range(0, len(data), 8):
        h = DES.new(k1, DES.MODE_ECB).encrypt(bytes(a ^ b for a, b in zip(data[i:i + 8], h)))
    return DES.new(k1, DES.MODE_ECB).encrypt(DES.new(k2, DES.MODE_ECB).decrypt(h))


def check_mac(doc, raw, args):
    field = "128" if any(k.isdigit() and 64 < int(k) < 128 for k in doc) else "64"
    if field not in doc:
        stats["mac_missing"] += 1
    elif bytes.fromhex(raw[-16:].decode()) == mac_of(args, raw[:-16]):
        stats["mac_ok"] += 1
    else:
        stats["mac_bad"] += 1


def sign(out, args, corrupt):
    field = "128" if any(k.isdigit() and int(k) > 64 for k in out) else "64"
    out[field] = "0" * 16
    body = bytes(iso8583.encode(out, SPEC)[0])
    code = bytearray(mac_of(args, body[:-16]))
    if corrupt:
        code[0] ^= 1
    return body[:-16] + code.hex().upper().encode()


def reply_for(doc, args):
    mti = doc["t"]
    if mti[2] not in "02":
        return None
    out = {"t": mti[:2] + chr(ord(mti[2]) + 1) + "0"}
    for f in ("3", "4", "7", "11", "12", "13", "32", "37", "41", "42", "49", "70", "90"):
        if f in doc:
            out[f] = doc[f]
    if mti[1] == "8" or mti[1] == "4":
        out["39"] = "00"
        return out
    stats["financial"] += 1
    if args.silent_every and stats["financial"] % args.silent_every == 0:
        return None
    if doc.get("4", "").endswith("51"):
        out["39"] = "51"
    else:
        out["39"] = "00"
        out["38"] = "PY" + doc["11"][-4:]
    return out


async def serve(reader, writer, args):
    try:
        while True:
            head = await reader.readexactly(2)
            raw = await reader.readexactly(int.from_bytes(head, "big"))
            try:
                doc, _ = iso8583.decode(raw, SPEC)
            except Exception as e:  # pyiso8583 raises DecodeError; anything else is a failure too
                stats["decode_errors"].append(f"{e}: {raw[:80]!r}")
                continue
            mti = doc["t"]
            stats["by_mti"][mti] = stats["by_mti"].get(mti, 0) + 1
            note_identification(doc)
            seen = stats["fields"].setdefault(mti, [])
            for k in doc:
                if k not in ("t", "p", "1") and int(k) not in seen:
                    seen.append(int(k))
            again, _ = iso8583.encode(copy.deepcopy(doc), SPEC)
            if bytes(again) != raw:
                stats["reencode_mismatches"] += 1
            if args.mac_key:
                check_mac(doc, raw, args)
            out = reply_for(doc, args)
            if out is not None:
                if args.mac_key:
                    corrupt = bool(args.bad_mac_every and mti[1] in "12" and stats["financial"] % args.bad_mac_every == 0)
                    stats["bad_macs_sent"] += corrupt
                    body = sign(out, args, corrupt)
                else:
                    body = bytes(iso8583.encode(out, SPEC)[0])
                writer.write(len(body).to_bytes(2, "big") + body)
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--summary", required=True)
    ap.add_argument("--silent-every", type=int, default=0)
    ap.add_argument("--mac-alg", choices=["retail-des3", "aes-cmac"])
    ap.add_argument("--mac-key", default="")
    ap.add_argument("--bad-mac-every", type=int, default=0)
    args = ap.parse_args()
    server = await asyncio.start_server(lambda r, w: serve(r, w, args), "127.0.0.1", args.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print(f"iso8583 peer on 127.0.0.1:{args.port}", flush=True)
    async with server:
        await stop.wait()
    for v in stats["fields"].values():
        v.sort()
    with open(args.summary, "w") as f:
        json.dump(stats, f, indent=1)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
