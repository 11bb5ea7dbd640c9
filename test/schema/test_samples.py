#!/usr/bin/env python3
"""Self-test of schemas/ and validate.py with hand-written messages.

usage: test_samples.py [SCHEMA_DIR]      (default: the repository's schemas/)

Valid samples are shaped like what the encoders write (encode_request,
encode_routed, encode_result, encode_batch_summary, the router's DLQ envelope);
each invalid sample changes one thing of a valid one. Also checks that every
schema property is described, that the enums agree with the C++ sources, and
runs validate.py end to end on a small dump. Exit status 1 on any failure.
"""
from __future__ import annotations

import copy
import importlib.util
import io
import json
import re
import sys
import tempfile
from contextlib import redirect_stdout
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

_spec = importlib.util.spec_from_file_location("turnout_validate", HERE / "validate.py")
V = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(V)

failures: list[str] = []
passed = 0


def report(ok: bool, what: str, detail: str = "") -> None:
    global passed
    if ok:
        passed += 1
        print(f"ok    {what}")
    else:
        failures.append(what)
        print(f"FAIL  {what}" + (f": {detail}" if detail else ""))


# ---------------------------------------------------------------- valid samples

T0 = "2026-11-26T06:49:29.667Z"
T1 = "2026-11-26T06:49:30.452Z"
T2 = "2026-11-26T06:49:30.910Z"
T3 = "2026-11-26T06:49:31.220Z"
SEALED_PAN = {"key_id": "dev-2026-11", "nonce": "cEl/YGQjhX0zxnRJ",
              "ciphertext": "XWcXjr/dlSG3EcZCGnUHhej+P+uJlLqq/jUUSoj136c="}
CARD_VIEW = {"kind": "card", "fingerprint": "dc79771fcd19d70796b9529789cd9522", "bin": "424242",
             "last4": "9230", "expiry": "3210", "sealed_pan": SEALED_PAN}

REQUEST_SALE = {
    "payment_id": "it1795675769397-s10", "type": "sale",
    "merchant": {"id": "m-43", "mcc": "5411", "country": "GB"},
    "amount": {"value": 518, "currency": "USD"},
    "instrument": {"kind": "card", "pan": "4242422511019230", "expiry": "3210"},
    "customer": {"id": "c-32282", "ip": "198.51.100.113", "country": "DE"},
    "metadata": {"order_id": "o-10"},
    "created_at": T0,
}
REQUEST_WALLET = {
    "payment_id": "it1795675769397-a77", "type": "authorize",
    "merchant": {"id": "m-2", "mcc": "5411", "country": "FR"},
    "amount": {"value": 150000, "currency": "JPY"},
    "instrument": {"kind": "wallet", "provider": "examplepay", "token": "w_482913"},
    "created_at": T0,
}
REQUEST_TOKEN = {
    "payment_id": "it1795675769397-s78", "type": "sale", "merchant": {"id": "m-3"},
    "amount": {"value": 1000000000000, "currency": "CHF"},
    "instrument": {"kind": "card_token", "token": "tok_662910"}, "created_at": T0,
}
REQUEST_BANK = {
    "payment_id": "it1795675769397-s79", "type": "sale", "merchant": {"id": "m-3"},
    "amount": {"value": 1, "currency": "EUR"},
    "instrument": {"kind": "bank_account", "token": "DE89370400440532013000"}, "created_at": T0,
}
# follow_up_for(): merchant without mcc/country, no instrument, original from the approved result.
REQUEST_REFUND = {
    "payment_id": "it1795675769397-r20001", "type": "refund", "merchant": {"id": "m-43"},
    "amount": {"value": 200, "currency": "USD"},
    "original": {"payment_id": "it1795675769397-s10", "channel": "acq-us", "channel_ref": "acq-us-9f3a0c1d2b4e5f60"},
    "created_at": T3,
}
REQUEST_CAPTURE = dict(REQUEST_REFUND, payment_id="it1795675769397-c20002", type="capture",
                       original={"payment_id": "it1795675769397-a18", "channel": "acq-eu", "channel_ref": "acq-eu-0e1d"})
REQUEST_VOID = dict(REQUEST_CAPTURE, payment_id="it1795675769397-v20003", type="void")

ROUTED = {  # the router's output: no risk yet
    "payment_id": "it1795675769397-s10", "root_id": "it1795675769397-s10", "type": "sale",
    "merchant": {"id": "m-43", "mcc": "5411", "country": "GB"},
    "amount": {"value": 518, "currency": "USD"},
    "instrument": CARD_VIEW,
    "customer": {"id": "c-32282", "ip": "198.51.100.113", "country": "DE"},
    "metadata": {"order_id": "o-10"},
    "route": {"rule": "usd-gbp-cards", "plan": ["acq-us", "psp-global"], "attempts": []},
    "timestamps": {"created_at": T0, "received_at": T1, "routed_at": T1},
}
CHANNEL = dict(ROUTED, risk={"score": 0, "decision": "approve", "rules_hit": []},
               timestamps={"created_at": T0, "received_at": T1, "routed_at": T1, "scored_at": T2})
CHANNEL_FAILOVER = dict(CHANNEL, route={"rule": "usd-gbp-cards", "plan": ["acq-us", "psp-global"],
                                       "attempts": [{"channel": "acq-us", "outcome": "soft_failure", "reason": "96"}]})
CHANNEL_BANK = dict(CHANNEL, instrument={"kind": "bank_account", "fingerprint": "df5839d38d318fe742659bf4b2197fb1",
                                          "last4": "4932"}, customer={})
CHANNEL_WALLET = dict(CHANNEL, instrument={"kind": "wallet", "fingerprint": "0123456789abcdef0123456789abcdef",
                                            "provider": "examplepay"})
CHANNEL_TOKEN = dict(CHANNEL, instrument={"kind": "card_token", "fingerprint": "fedcba9876543210fedcba9876543210"},
                     risk={"score": 50, "decision": "approve", "rules_hit": ["amount_limit"]})
CHANNEL_CAPTURE = {
    "payment_id": "it1795675769397-c20002", "root_id": "it1795675769397-a18", "type": "capture",
    "merchant": {"id": "m-43"}, "amount": {"value": 67006, "currency": "EUR"},
    "original": {"payment_id": "it1795675769397-a18", "channel": "acq-eu", "channel_ref": "acq-eu-0e1d"},
    "route": {"rule": "original_channel", "plan": ["acq-eu"], "attempts": []},
    "risk": {"score": 0, "decision": "skipped", "rules_hit": []},
    "timestamps": {"created_at": T0, "received_at": T1, "routed_at": T1, "scored_at": T2},
}

HEALTH = {"channel": "acq-eu", "circuit": "closed", "success_rate_permille": 996, "latency_ms": 3, "calls": 41,
          "updated_at": T3}
RESULT_APPROVED = {
    "payment_id": "it1795675769397-s10", "root_id": "it1795675769397-s10", "type": "sale",
    "status": "approved", "reason": {"code": "00", "message": "approved"},
    "amount": {"value": 518, "currency": "USD"}, "merchant_id": "m-43",
    "channel": "acq-us", "channel_ref": "acq-us-9f3a0c1d2b4e5f60", "approval_code": "5c0e1f",
    "risk": {"score": 0, "decision": "approve", "rules_hit": []},
    "route": {"rule": "usd-gbp-cards", "plan": ["acq-us", "psp-global"],
              "attempts": [{"channel": "acq-us", "outcome": "approved", "reason": "00"}]},
    "instrument": {"kind": "card", "fingerprint": "dc79771fcd19d70796b9529789cd9522", "bin": "424242", "last4": "9230"},
    "timestamps": {"created_at": T0, "received_at": T1, "routed_at": T1, "scored_at": T2, "completed_at": T3},
}
RESULT_DECLINED = dict(RESULT_APPROVED, status="declined", reason={"code": "51", "message": "insufficient funds"},
                       route={"rule": "usd-gbp-cards", "plan": ["acq-us", "psp-global"],
                              "attempts": [{"channel": "acq-us", "outcome": "declined", "reason": "51"}]})
del RESULT_DECLINED["approval_code"]
RESULT_RISK_DECLINED = {k: v for k, v in RESULT_APPROVED.items() if k not in ("channel", "channel_ref", "approval_code")}
RESULT_RISK_DECLINED.update(status="declined", reason={"code": "risk_bin_blocklist", "message": "declined by risk rules"},
                            risk={"score": 100, "decision": "decline", "rules_hit": ["bin_blocklist"]},
                            route={"rule": "usd-gbp-cards", "plan": ["acq-us", "psp-global"], "attempts": []})
RESULT_FAILED = {k: v for k, v in RESULT_APPROVED.items() if k not in ("channel_ref", "approval_code")}
RESULT_FAILED.update(status="failed", channel="psp-global",
                     reason={"code": "channels_exhausted",
                             "message": "every channel of the plan failed; last: 91 issuer or switch inoperative"},
                     route={"rule": "usd-gbp-cards", "plan": ["acq-us", "psp-global"],
                            "attempts": [{"channel": "acq-us", "outcome": "soft_failure", "reason": "91"},
                                         {"channel": "psp-global", "outcome": "soft_failure", "reason": "91"}]})
RESULT_WALLET = dict(RESULT_APPROVED, instrument={"kind": "wallet", "fingerprint": "0123456789abcdef0123456789abcdef"})
RESULT_BANK_SHORT = dict(RESULT_APPROVED, instrument={"kind": "bank_account", "fingerprint": "0123456789abcdef0123456789abcdef"})
RESULT_CAPTURE = {
    "payment_id": "it1795675769397-c20002", "root_id": "it1795675769397-a18", "type": "capture",
    "status": "approved", "reason": {"code": "00", "message": "approved"},
    "amount": {"value": 67006, "currency": "EUR"}, "merchant_id": "m-43",
    "channel": "acq-eu", "channel_ref": "acq-eu-7b1f00aa12c4d9e3", "approval_code": "0a9b8c",
    "risk": {"score": 0, "decision": "skipped", "rules_hit": []},
    "route": {"rule": "original_channel", "plan": ["acq-eu"],
              "attempts": [{"channel": "acq-eu", "outcome": "approved", "reason": "00"}]},
    "original": {"payment_id": "it1795675769397-a18", "channel": "acq-eu", "channel_ref": "acq-eu-0e1d"},
    "timestamps": {"created_at": T0, "received_at": T1, "routed_at": T1, "scored_at": T2, "completed_at": T3},
}
RESULT_REJECTED = {  # make_rejected_result(): nothing but these five
    "payment_id": "it1795675769397-s396", "root_id": "it1795675769397-s396", "status": "rejected",
    "reason": {"code": "amount_not_integer", "message": "amount.value must be an integer count of minor units"},
    "timestamps": {"received_at": T1, "completed_at": T1},
}
RESULT_DUPLICATE = dict(RESULT_REJECTED, payment_id="it1795675769397-r20001", root_id="it1795675769397-s10",
                        reason={"code": "duplicate_request", "message": "payment_id was already received"})

RESULT_LIFE_CYCLE_REJECTED = {  # a capture refused by a life-cycle rule (LifeCycleGate::refuse)
    "payment_id": "lc1795685247962-C4", "root_id": "lc1795685247962-A1", "type": "capture", "status": "rejected",
    "reason": {"code": "capture_exceeds_authorized", "message": "at most 1000 minor units are left to capture"},
    "amount": {"value": 1001, "currency": "EUR"}, "merchant_id": "m-lc",
    "original": {"payment_id": "lc1795685247962-A1", "channel": "acq-eu", "channel_ref": "acq-eu-8ddca3df8aa3b459"},
    "timestamps": {"created_at": T0, "received_at": T1, "completed_at": T1},
}

STATE = {  # encode_life_cycle: an authorize, two partial captures, refused steps, a refund
    "root_id": "lc1795685247962-A1", "kind": "authorize", "status": "partially_refunded",
    "original_status": "approved", "merchant_id": "m-lc", "currency": "EUR", "amount": 10000,
    "authorized": 10000, "captured": 9000, "refunded": 5000, "voided": 0, "channel": "acq-eu",
    "channel_ref": "acq-eu-8ddca3df8aa3b459", "approval_code": "a9be48", "created_at": T0, "updated_at": T3,
    "history": [
        {"payment_id": "lc1795685247962-A1", "type": "authorize", "status": "approved", "amount": 10000,
         "reason_code": "00", "channel": "acq-eu", "channel_ref": "acq-eu-8ddca3df8aa3b459", "approval_code": "a9be48",
         "at": T1},
        {"payment_id": "lc1795685247962-C2", "type": "capture", "status": "rejected", "amount": 6000,
         "reason_code": "capture_exceeds_authorized", "at": T1},
        {"payment_id": "lc1795685247962-C1", "type": "capture", "status": "approved", "amount": 6000,
         "reason_code": "00", "channel": "acq-eu", "channel_ref": "acq-eu-644753df8aea4459", "approval_code": "4e0895",
         "at": T2},
        {"payment_id": "lc1795685247962-C3", "type": "capture", "status": "approved", "amount": 3000,
         "reason_code": "00", "channel": "acq-eu", "channel_ref": "acq-eu-0e0753df8aca4459", "approval_code": "70afa2",
         "at": T2},
        {"payment_id": "lc1795685247962-R1", "type": "refund", "status": "approved", "amount": 5000,
         "reason_code": "00", "channel": "acq-eu", "channel_ref": "acq-eu-317c06df8aaa7759", "approval_code": "9116e3",
         "at": T3},
    ],
}
STATE_VOIDED = dict(STATE, root_id="lc1795685247962-A2", status="voided", captured=0, refunded=0, voided=10000,
                    history=STATE["history"][:1] + [{"payment_id": "lc1795685247962-V2", "type": "void",
                                                     "status": "approved", "amount": 10000, "reason_code": "00",
                                                     "channel": "acq-eu", "at": T2}])
STATE_REJECTED = {  # an original rejected before its type could be read: no kind, no channel
    "root_id": "it1795675769397-s396", "status": "rejected", "original_status": "rejected", "currency": "",
    "amount": 0, "authorized": 0, "captured": 0, "refunded": 0, "voided": 0, "created_at": T1, "updated_at": T1,
    "history": [{"payment_id": "it1795675769397-s396", "status": "rejected", "amount": 0,
                 "reason_code": "amount_not_integer", "at": T1}],
}

BATCH = {
    "batch_id": "acq-us.USD.20261126T064930Z.0", "channel": "acq-us", "currency": "USD",
    "window_start": "2026-11-26T06:49:30.000Z", "window_end": "2026-11-26T06:49:33.000Z",
    "status": "closed",
    "record_count": 71, "debit_total": 6223364, "credit_total": 0, "net": 6223364, "fee_total": 94060,
    "merchants": [{"merchant_id": "m-17", "record_count": 40, "debit": 3500000, "credit": 0, "fees": 52900, "net": 3500000},
                  {"merchant_id": "m-43", "record_count": 31, "debit": 2723364, "credit": 0, "fees": 41160, "net": 2723364}],
    "file": "acq-us.USD.20261126T064930Z.0.csv",
    "sha256": "6a45063f1e3b5b266a54c72d76e777bf4051a3a40138bd265a5990f887d0ef04",
    "fixed_width_file": "acq-us.USD.20261126T064930Z.0.txt",
    "fixed_width_sha256": "0b5a9d0c8a3f7d6f2c9e1b4a5d6c7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d",
    "closed_at": "2026-11-26T06:49:34.018Z",
}
BATCH_SETTLED = dict(BATCH, status="settled", settled_at="2026-11-26T07:10:00.000Z")
BATCH_REFUNDS = dict(BATCH, batch_id="psp-global.GBP.20261126T065000Z", file="psp-global.GBP.20261126T065000Z.csv",
                     fixed_width_file="psp-global.GBP.20261126T065000Z.txt",
                     channel="psp-global", currency="GBP", record_count=2, debit_total=100, credit_total=700, net=-600,
                     fee_total=0, merchants=[{"merchant_id": "m-3", "record_count": 2, "debit": 100, "credit": 700,
                                              "fees": 0, "net": -600}])

DLQ = {"sealed": {"key_id": "dev-2026-11", "nonce": "5XyEGyP8c2EEIW9T",
                  "ciphertext": "JwFRDej/dWyzmMcScmOpr+05ecTosMwsccPO1+BafNR7qxhf4Wo7Djp73GiwyWAYTU0181jX1bLp6Cde"}}


# ---------------------------------------------------------------- invalid samples


def change(doc, path, value=None, delete=False):
    """A copy of `doc` with the member at `path` (a dotted path) set or deleted."""
    out = copy.deepcopy(doc)
    keys = path.split(".")
    node = out
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node[k]
    last = int(keys[-1]) if isinstance(node, list) else keys[-1]
    if delete:
        del node[last]
    else:
        node[last] = value
    return out


def drop(doc, path):
    return change(doc, path, delete=True)


PENDING = {"payment_id": "w-1", "root_id": "w-1", "channel": "psp-global", "channel_ref": "psp_0a1b",
           "pending_since_ms": 1795685324273, "pending_since": "2026-11-26T09:28:44.273Z",
           "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
           "routed": {"payment_id": "w-1", "root_id": "w-1", "type": "sale"}}
EVENT = {"event_id": "evt_1", "payment_id": "w-1", "root_id": "w-1", "status": "approved", "code": "approved",
         "message": "approved", "channel_ref": "psp_0a1b", "approval_code": "a1b2c3"}


CASES = {
    "payment-request.schema.json": {
        "valid": [
            ("card sale (encode_request)", REQUEST_SALE),
            ("wallet authorize", REQUEST_WALLET),
            ("card_token sale of 10^12 minor units", REQUEST_TOKEN),
            ("bank_account sale of 1 minor unit", REQUEST_BANK),
            ("refund with original, no instrument (follow_up_for)", REQUEST_REFUND),
            ("capture", REQUEST_CAPTURE),
            ("void", REQUEST_VOID),
            ("refund that also names its instrument", change(REQUEST_REFUND, "instrument", REQUEST_TOKEN["instrument"])),
            ("original.channel_ref empty", change(REQUEST_REFUND, "original.channel_ref", "")),
            ("created_at with offset and 9 fraction digits", change(REQUEST_SALE, "created_at", "2026-11-26T08:33:25.123456789+02:00")),
            ("created_at lower-case t and z, no fraction", change(REQUEST_SALE, "created_at", "2026-11-26t06:33:25z")),
            ("created_at on a leap day", change(REQUEST_SALE, "created_at", "2024-02-29T23:59:59.999Z")),
            ("empty merchant.mcc (the decoder treats it as absent)", change(REQUEST_SALE, "merchant.mcc", "")),
            ("empty customer and metadata objects", change(change(REQUEST_SALE, "customer", {}), "metadata", {})),
            ("payment_id of 64 characters of every allowed kind",
             change(REQUEST_SALE, "payment_id", ("Az09._:-" * 8))),
            ("19-digit card number", change(REQUEST_SALE, "instrument.pan", "6011000990139424000")),
        ],
        "invalid": [
            ("amount.value 12.5 (a float)", change(REQUEST_SALE, "amount.value", 12.5)),
            ("amount.value 518.0 (a float, even if whole)", change(REQUEST_SALE, "amount.value", 518.0)),
            ("amount.value as a string", change(REQUEST_SALE, "amount.value", "518")),
            ("amount.value 0", change(REQUEST_SALE, "amount.value", 0)),
            ("amount.value negative", change(REQUEST_SALE, "amount.value", -518)),
            ("amount.value above 10^12", change(REQUEST_SALE, "amount.value", 1000000000001)),
            ("amount.value true", change(REQUEST_SALE, "amount.value", True)),
            ("unknown currency ABC", change(REQUEST_SALE, "amount.currency", "ABC")),
            ("lower-case currency", change(REQUEST_SALE, "amount.currency", "usd")),
            ("amount with an extra member", change(REQUEST_SALE, "amount.minor", 2)),
            ("amount missing", drop(REQUEST_SALE, "amount")),
            ("refund without original", drop(REQUEST_REFUND, "original")),
            ("capture without original", drop(REQUEST_CAPTURE, "original")),
            ("sale with original", change(REQUEST_SALE, "original", REQUEST_REFUND["original"])),
            ("sale without instrument", drop(REQUEST_SALE, "instrument")),
            ("authorize without instrument", drop(REQUEST_WALLET, "instrument")),
            ("unknown top-level member", change(REQUEST_SALE, "surprise", 1)),
            ("type missing", drop(REQUEST_SALE, "type")),
            ("type not known", change(REQUEST_SALE, "type", "payout")),
            ("payment_id missing", drop(REQUEST_SALE, "payment_id")),
            ("payment_id empty", change(REQUEST_SALE, "payment_id", "")),
            ("payment_id of 65 characters", change(REQUEST_SALE, "payment_id", "p" * 65)),
            ("payment_id with a space", change(REQUEST_SALE, "payment_id", "ord 1")),
            ("payment_id with a slash", change(REQUEST_SALE, "payment_id", "ord/1")),
            ("payment_id ending in a newline", change(REQUEST_SALE, "payment_id", "ord-1\n")),
            ("payment_id a number", change(REQUEST_SALE, "payment_id", 42)),
            ("merchant missing", drop(REQUEST_SALE, "merchant")),
            ("merchant.id empty", change(REQUEST_SALE, "merchant.id", "")),
            ("merchant.id of 65 characters", change(REQUEST_SALE, "merchant.id", "m" * 65)),
            ("merchant.mcc of 3 digits", change(REQUEST_SALE, "merchant.mcc", "541")),
            ("merchant.mcc with a letter", change(REQUEST_SALE, "merchant.mcc", "54a1")),
            ("merchant.country lower case", change(REQUEST_SALE, "merchant.country", "gb")),
            ("merchant.country of one letter", change(REQUEST_SALE, "merchant.country", "G")),
            ("merchant with an unknown member", change(REQUEST_SALE, "merchant.name", "Shop")),
            ("card without expiry", drop(REQUEST_SALE, "instrument.expiry")),
            ("card without pan", drop(REQUEST_SALE, "instrument.pan")),
            ("card number of 11 digits", change(REQUEST_SALE, "instrument.pan", "42424225110")),
            ("card number of 20 digits", change(REQUEST_SALE, "instrument.pan", "42424225110192301234")),
            ("card number with spaces", change(REQUEST_SALE, "instrument.pan", "4242 4225 1101 9230")),
            ("card number as a JSON number", change(REQUEST_SALE, "instrument.pan", 4242422511019230)),
            ("expiry month 13", change(REQUEST_SALE, "instrument.expiry", "3213")),
            ("expiry month 00", change(REQUEST_SALE, "instrument.expiry", "3200")),
            ("expiry MM/YY", change(REQUEST_SALE, "instrument.expiry", "10/32")),
            ("card with a token", change(REQUEST_SALE, "instrument.token", "tok_1")),
            ("card_token with a pan", change(REQUEST_TOKEN, "instrument.pan", "4242422511019230")),
            ("card_token without token", drop(REQUEST_TOKEN, "instrument.token")),
            ("token of 129 characters", change(REQUEST_TOKEN, "instrument.token", "t" * 129)),
            ("empty token", change(REQUEST_BANK, "instrument.token", "")),
            ("bank_account with a provider", change(REQUEST_BANK, "instrument.provider", "x")),
            ("wallet without provider", drop(REQUEST_WALLET, "instrument.provider")),
            ("wallet provider of 33 characters", change(REQUEST_WALLET, "instrument.provider", "p" * 33)),
            ("instrument kind unknown", change(REQUEST_TOKEN, "instrument.kind", "crypto")),
            ("instrument kind missing", drop(REQUEST_TOKEN, "instrument.kind")),
            ("instrument not an object", change(REQUEST_SALE, "instrument", "card")),
            ("customer with an unknown member", change(REQUEST_SALE, "customer.email", "a@example.org")),
            ("customer.ip of 46 characters", change(REQUEST_SALE, "customer.ip", "1" * 46)),
            ("customer.id of 65 characters", change(REQUEST_SALE, "customer.id", "c" * 65)),
            ("customer.country lower case", change(REQUEST_SALE, "customer.country", "de")),
            ("customer null", change(REQUEST_SALE, "customer", None)),
            ("metadata with 21 members", change(REQUEST_SALE, "metadata", {f"k{i}": "v" for i in range(21)})),
            ("metadata value a number", change(REQUEST_SALE, "metadata.order_id", 10)),
            ("metadata value of 257 characters", change(REQUEST_SALE, "metadata.order_id", "x" * 257)),
            ("metadata key of 65 characters", change(REQUEST_SALE, "metadata", {"k" * 65: "v"})),
            ("metadata an array", change(REQUEST_SALE, "metadata", ["order_id"])),
            ("original with a fourth member", change(REQUEST_REFUND, "original.amount", 1)),
            ("original without channel_ref", drop(REQUEST_REFUND, "original.channel_ref")),
            ("original.channel empty", change(REQUEST_REFUND, "original.channel", "")),
            ("original.channel_ref of 65 characters", change(REQUEST_REFUND, "original.channel_ref", "r" * 65)),
            ("original.payment_id invalid", change(REQUEST_REFUND, "original.payment_id", "s 10")),
            ("created_at missing", drop(REQUEST_SALE, "created_at")),
            ("created_at 30 February", change(REQUEST_SALE, "created_at", "2026-02-30T00:00:00Z")),
            ("created_at 29 February of a common year", change(REQUEST_SALE, "created_at", "2023-02-29T00:00:00Z")),
            ("created_at hour 24", change(REQUEST_SALE, "created_at", "2026-11-26T24:00:00Z")),
            ("created_at with a space for T", change(REQUEST_SALE, "created_at", "2026-11-26 06:33:25Z")),
            ("created_at without offset", change(REQUEST_SALE, "created_at", "2026-11-26T06:33:25.123")),
            ("created_at with 10 fraction digits", change(REQUEST_SALE, "created_at", "2026-11-26T06:33:25.1234567891Z")),
            ("created_at offset +0200", change(REQUEST_SALE, "created_at", "2026-11-26T06:33:25+0200")),
            ("created_at as epoch milliseconds", change(REQUEST_SALE, "created_at", 1795674805123)),
        ],
    },
    "routed-payment.schema.json": {
        "valid": [
            ("payments.routed: card, no risk (encode_routed)", ROUTED),
            ("payments.channel: card, risk approve", CHANNEL),
            ("payments.channel: after a soft failure on the first channel", CHANNEL_FAILOVER),
            ("bank_account with last4, empty customer", CHANNEL_BANK),
            ("bank_account with a short number: no last4", change(CHANNEL_BANK, "instrument", {"kind": "bank_account", "fingerprint": "df5839d38d318fe742659bf4b2197fb1"})),
            ("wallet with provider", CHANNEL_WALLET),
            ("card_token, rules hit below the decline score", CHANNEL_TOKEN),
            ("capture to the original channel, risk skipped", CHANNEL_CAPTURE),
            ("capture on payments.routed", drop(change(CHANNEL_CAPTURE, "timestamps", {"received_at": T1, "routed_at": T1}), "risk")),
            ("no created_at (request created at the epoch)", drop(ROUTED, "timestamps.created_at")),
            ("route with action and skipped channels", change(change(ROUTED, "route.action", "health"), "route.skipped", ["acq-eu"])),
            ("risk review with named rules", change(change(change(CHANNEL, "risk.decision", "review"), "risk.score", 70),
                                                   "risk.rules_hit", ["card_velocity", "country_mismatch"])),
            ("sealed_pan bound to its payment (aad v2)", change(ROUTED, "instrument.sealed_pan.aad", "v2")),
        ],
        "invalid": [
            ("instrument with a clear pan", change(ROUTED, "instrument.pan", "4242422511019230")),
            ("instrument with a token", change(CHANNEL_TOKEN, "instrument.token", "tok_662910")),
            ("wallet with its token", change(CHANNEL_WALLET, "instrument.token", "w_1")),
            ("instrument with an unknown member", change(ROUTED, "instrument.holder", "A N Other")),
            ("card without sealed_pan", drop(ROUTED, "instrument.sealed_pan")),
            ("sealed_pan with an unknown aad version", change(ROUTED, "instrument.sealed_pan.aad", "v3")),
            ("card without bin", drop(ROUTED, "instrument.bin")),
            ("card last4 with letters", change(ROUTED, "instrument.last4", "12ab")),
            ("card_token with a bin", change(CHANNEL_TOKEN, "instrument.bin", "424242")),
            ("wallet without provider", drop(CHANNEL_WALLET, "instrument.provider")),
            ("fingerprint in upper case", change(ROUTED, "instrument.fingerprint", "DC79771FCD19D70796B9529789CD9522")),
            ("fingerprint of 31 hex digits", change(ROUTED, "instrument.fingerprint", "dc79771fcd19d70796b9529789cd952")),
            ("fingerprint missing", drop(ROUTED, "instrument.fingerprint")),
            ("sealed_pan nonce of 12 characters", change(ROUTED, "instrument.sealed_pan.nonce", "cEl/YGQjhX0z")),
            ("sealed_pan ciphertext without its padding", change(ROUTED, "instrument.sealed_pan.ciphertext", SEALED_PAN["ciphertext"][:-1])),
            ("sealed_pan ciphertext in the URL-safe alphabet", change(ROUTED, "instrument.sealed_pan.ciphertext", SEALED_PAN["ciphertext"].replace("/", "_").replace("+", "-"))),
            ("sealed_pan ciphertext too short for a card number", change(ROUTED, "instrument.sealed_pan.ciphertext", "AAAAAAAAAAAAAAAAAAAAAA==")),
            ("sealed_pan with the clear pan", change(ROUTED, "instrument.sealed_pan.pan", "4242422511019230")),
            ("sale without instrument", drop(ROUTED, "instrument")),
            ("capture without original", drop(CHANNEL_CAPTURE, "original")),
            ("sale with original", change(ROUTED, "original", CHANNEL_CAPTURE["original"])),
            ("capture routed by a rule instead of to its original channel", change(CHANNEL_CAPTURE, "route.rule", "default")),
            ("capture scored", change(CHANNEL_CAPTURE, "risk", {"score": 0, "decision": "approve", "rules_hit": []})),
            ("risk decline on a channel topic", change(CHANNEL, "risk", {"score": 100, "decision": "decline", "rules_hit": ["bin_blocklist"]})),
            ("risk rule name not in [a-z0-9_]", change(CHANNEL, "risk.rules_hit", ["Card-Velocity"])),
            ("route action unknown", change(ROUTED, "route.action", "cheapest")),
            ("route skipped empty", change(ROUTED, "route.skipped", [])),
            ("risk decline forwarded to a channel", change(CHANNEL, "risk.decision", "decline")),
            ("risk score a float", change(CHANNEL, "risk.score", 0.0)),
            ("risk without scored_at", change(CHANNEL, "timestamps", ROUTED["timestamps"])),
            ("scored_at without risk", change(ROUTED, "timestamps", CHANNEL["timestamps"])),
            ("completed_at on a routed payment", change(ROUTED, "timestamps.completed_at", T3)),
            ("received_at missing", drop(ROUTED, "timestamps.received_at")),
            ("timestamp without milliseconds", change(ROUTED, "timestamps.routed_at", "2026-11-26T06:49:30Z")),
            ("timestamp with an offset", change(ROUTED, "timestamps.routed_at", "2026-11-26T07:49:30.452+01:00")),
            ("timestamp on 31 November", change(ROUTED, "timestamps.routed_at", "2026-11-31T06:49:30.452Z")),
            ("attempt that was approved", change(CHANNEL_FAILOVER, "route.attempts.0.outcome", "approved")),
            ("attempt without reason", drop(CHANNEL_FAILOVER, "route.attempts.0.reason")),
            ("empty plan", change(ROUTED, "route.plan", [])),
            ("channel id with a dot", change(ROUTED, "route.plan", ["acq.us"])),
            ("route missing", drop(ROUTED, "route")),
            ("root_id missing", drop(ROUTED, "root_id")),
            ("amount as a float", change(ROUTED, "amount.value", 518.5)),
            ("merchant.mcc empty (the encoder leaves it out)", change(ROUTED, "merchant.mcc", "")),
            ("customer.id empty (the encoder leaves it out)", change(ROUTED, "customer.id", "")),
            ("metadata empty (the encoder leaves it out)", change(ROUTED, "metadata", {})),
            ("unknown top-level member", change(ROUTED, "status", "approved")),
        ],
    },
    "payment-result.schema.json": {
        "valid": [
            ("approved card sale (encode_result)", RESULT_APPROVED),
            ("declined by the channel (51)", RESULT_DECLINED),
            ("declined by risk, no channel", RESULT_RISK_DECLINED),
            ("failed: every channel failed softly", RESULT_FAILED),
            ("approved wallet: fingerprint only", RESULT_WALLET),
            ("approved bank account with a short number", RESULT_BANK_SHORT),
            ("approved capture with original", RESULT_CAPTURE),
            ("rejected before decoding: only the five members", RESULT_REJECTED),
            ("rejected duplicate keyed by its root", RESULT_DUPLICATE),
            ("capture refused by a life-cycle rule", RESULT_LIFE_CYCLE_REJECTED),
            ("approved without approval code or channel_ref", drop(drop(RESULT_APPROVED, "approval_code"), "channel_ref")),
            ("route by least cost, risk review", change(change(change(RESULT_APPROVED, "route.action", "least_cost"),
                                                               "risk.decision", "review"), "risk.rules_hit", ["country_mismatch"])),
        ],
        "invalid": [
            ("status unknown", change(RESULT_APPROVED, "status", "pending")),
            # What settlement and state dead-letter (switch/codec/result_decoder.cpp).
            ("negative amount", change(RESULT_APPROVED, "amount.value", -5000)),
            ("line feed in merchant_id", change(RESULT_APPROVED, "merchant_id", "m-1\nD0000")),
            ("line separator in merchant_id", change(RESULT_APPROVED, "merchant_id", "m-1\u2028x")),
            ("channel id with '/'", change(RESULT_APPROVED, "channel", "acq/../x")),
            ("carriage return in channel_ref", change(RESULT_APPROVED, "channel_ref", "ref\r\nT000")),
            ("channel_ref of 129 bytes", change(RESULT_APPROVED, "channel_ref", "r" * 129)),
            ("tab in approval_code", change(RESULT_APPROVED, "approval_code", "a1\tb2")),
            ("reason.code with a space", change(RESULT_APPROVED, "reason.code", "do not honor")),
            ("route action unknown", change(RESULT_APPROVED, "route.action", "random")),
            ("risk decision unknown", change(RESULT_APPROVED, "risk.decision", "maybe")),
            ("status missing", drop(RESULT_APPROVED, "status")),
            ("reason missing", drop(RESULT_REJECTED, "reason")),
            ("reason without message", drop(RESULT_REJECTED, "reason.message")),
            ("reason.code a number", change(RESULT_APPROVED, "reason.code", 0)),
            ("rejected with a type", change(RESULT_REJECTED, "type", "sale")),
            ("life-cycle refusal of a sale", change(RESULT_LIFE_CYCLE_REJECTED, "type", "sale")),
            ("life-cycle refusal without original", drop(RESULT_LIFE_CYCLE_REJECTED, "original")),
            ("life-cycle refusal with a route", change(RESULT_LIFE_CYCLE_REJECTED, "route",
                                                       {"rule": "original_channel", "plan": ["acq-eu"], "attempts": []})),
            ("router rejection code with an amount", change(RESULT_REJECTED, "amount", {"value": 1, "currency": "EUR"})),
            ("rejected with an amount", change(RESULT_REJECTED, "amount", {"value": 518, "currency": "USD"})),
            ("rejected with a routed_at", change(RESULT_REJECTED, "timestamps.routed_at", T1)),
            ("rejected for a reason that never gets a result", change(RESULT_REJECTED, "reason.code", "invalid_json")),
            ("rejected without timestamps", drop(RESULT_REJECTED, "timestamps")),
            ("rejected without root_id", drop(RESULT_REJECTED, "root_id")),
            ("approved without type", drop(RESULT_APPROVED, "type")),
            ("approved without amount", drop(RESULT_APPROVED, "amount")),
            ("approved without route", drop(RESULT_APPROVED, "route")),
            ("approved without risk", drop(RESULT_APPROVED, "risk")),
            ("approved without channel", drop(RESULT_APPROVED, "channel")),
            ("approved without scored_at", drop(RESULT_APPROVED, "timestamps.scored_at")),
            ("approved sale without instrument", drop(RESULT_APPROVED, "instrument")),
            ("capture without original", drop(RESULT_CAPTURE, "original")),
            ("sale with original", change(RESULT_APPROVED, "original", RESULT_CAPTURE["original"])),
            ("instrument with a clear pan", change(RESULT_APPROVED, "instrument.pan", "4242422511019230")),
            ("instrument with expiry", change(RESULT_APPROVED, "instrument.expiry", "3210")),
            ("instrument with sealed_pan", change(RESULT_APPROVED, "instrument.sealed_pan", SEALED_PAN)),
            ("card instrument without last4", drop(RESULT_APPROVED, "instrument.last4")),
            ("wallet instrument with provider", change(RESULT_WALLET, "instrument.provider", "examplepay")),
            ("risk decline with a channel", change(RESULT_RISK_DECLINED, "channel", "acq-us")),
            ("risk decline reported as approved", change(RESULT_RISK_DECLINED, "status", "approved")),
            ("risk decline with a channel's code", change(RESULT_RISK_DECLINED, "reason.code", "51")),
            ("failed with an approval code", change(RESULT_FAILED, "approval_code", "123456")),
            ("amount.value a float", change(RESULT_APPROVED, "amount.value", 518.0)),
            ("amount.value negative", change(RESULT_APPROVED, "amount.value", -518)),
            ("merchant_id empty", change(RESULT_APPROVED, "merchant_id", "")),
            ("channel_ref empty (the encoder leaves it out)", change(RESULT_APPROVED, "channel_ref", "")),
            ("completed_at not RFC 3339", change(RESULT_APPROVED, "timestamps.completed_at", "26/11/2026 06:49")),
            ("unknown top-level member", change(RESULT_APPROVED, "pan", "4242422511019230")),
        ],
    },
    "settlement-batch.schema.json": {
        "valid": [
            ("batch summary (encode_batch_summary)", BATCH),
            ("refunds outweigh: negative net, no instance suffix", BATCH_REFUNDS),
            ("settled after reconciliation", BATCH_SETTLED),
        ],
        "invalid": [
            ("sha256 in upper case", change(BATCH, "sha256", BATCH["sha256"].upper())),
            ("sha256 of 63 digits", change(BATCH, "sha256", BATCH["sha256"][:63])),
            ("record_count 0", change(BATCH, "record_count", 0)),
            ("debit_total a float", change(BATCH, "debit_total", 6223364.0)),
            ("credit_total negative", change(BATCH, "credit_total", -1)),
            ("net as a string", change(BATCH, "net", "6223364")),
            ("net beyond int64", change(BATCH, "net", 2 ** 63)),
            ("file missing", drop(BATCH, "file")),
            ("file not a .csv", change(BATCH, "file", "acq-us.USD.20261126T064930Z.0.txt")),
            ("batch_id not channel.currency.window", change(BATCH, "batch_id", "batch-1")),
            ("window_start without milliseconds", change(BATCH, "window_start", "2026-11-26T06:49:30Z")),
            ("closed_at missing", drop(BATCH, "closed_at")),
            ("unknown currency", change(BATCH, "currency", "XXX")),
            ("status open (open batches are not published)", change(BATCH, "status", "open")),
            ("settled without settled_at", drop(BATCH_SETTLED, "settled_at")),
            ("settled_at on a closed batch", change(BATCH, "settled_at", "2026-11-26T07:10:00.000Z")),
            ("fee_total missing", drop(BATCH, "fee_total")),
            ("fee_total negative", change(BATCH, "fee_total", -1)),
            ("merchant line without fees", change(BATCH, "merchants", [{"merchant_id": "m-1", "record_count": 1,
                                                                       "debit": 1, "credit": 0, "net": 1}])),
            ("fixed-width file not a .txt", change(BATCH, "fixed_width_file", "acq-us.USD.20261126T064930Z.0.csv")),
            ("unknown member", change(BATCH, "records", [])),
        ],
    },
    "payment-state.schema.json": {
        "valid": [
            ("authorize, partial captures, refund (encode_life_cycle)", STATE),
            ("voided authorization", STATE_VOIDED),
            ("original rejected unreadable", STATE_REJECTED),
        ],
        "invalid": [
            ("status unknown", change(STATE, "status", "settled")),
            ("amount a float", change(STATE, "captured", 9000.0)),
            ("negative refund", change(STATE, "refunded", -1)),
            ("history empty", change(STATE, "history", [])),
            ("history entry without status", drop(STATE, "history.0.status")),
            ("kind capture", change(STATE, "kind", "capture")),
            ("router fields (in_flight) on payments.state", change(STATE, "in_flight", [])),
            ("a clear card number", change(STATE, "pan", "4242422511019230")),
            ("updated_at not RFC 3339", change(STATE, "updated_at", "26/11/2026")),
            ("captured missing", drop(STATE, "captured")),
        ],
    },
    "dlq-sealed-record.schema.json": {
        "valid": [
            ("router DLQ envelope", DLQ),
            ("sealed empty value (16-byte tag only)", change(DLQ, "sealed.ciphertext", "AAAAAAAAAAAAAAAAAAAAAA==")),
            ("envelope bound to its field (aad v2)", change(DLQ, "sealed.aad", "v2")),
            ("a record larger than any request: its first bytes and the digest of the whole",
             change(change(change(DLQ, "truncated", True), "original_bytes", 800000), "sha256", "ab" * 32)),
        ],
        "invalid": [
            ("the original request in clear", REQUEST_SALE),
            ("sealed without nonce", drop(DLQ, "sealed.nonce")),
            ("sealed without key_id", drop(DLQ, "sealed.key_id")),
            ("ciphertext not base64", change(DLQ, "sealed.ciphertext", "not base64 at all, is it?")),
            ("ciphertext shorter than a GCM tag", change(DLQ, "sealed.ciphertext", "AAAA")),
            ("nonce with padding", change(DLQ, "sealed.nonce", "5XyEGyP8c2EEIW==")),
            ("an extra member next to sealed", change(DLQ, "reason", "invalid_json")),
            ("an extra member inside sealed", change(DLQ, "sealed.pan", "4242422511019230")),
            ("truncated without its digest", change(change(DLQ, "truncated", True), "original_bytes", 800000)),
            ("a digest without truncated", change(DLQ, "sha256", "ab" * 32)),
            ("truncated false", change(change(change(DLQ, "truncated", False), "original_bytes", 1), "sha256", "ab" * 32)),
        ],
    },
    "channel-health.schema.json": {
        "valid": [
            ("closed circuit (encode_channel_health)", HEALTH),
            ("open circuit, no calls", dict(HEALTH, circuit="open", success_rate_permille=0, calls=0)),
        ],
        "invalid": [
            ("circuit unknown", change(HEALTH, "circuit", "broken")),
            ("success rate as a fraction", change(HEALTH, "success_rate_permille", 0.98)),
            ("success rate above 1000", change(HEALTH, "success_rate_permille", 1001)),
            ("updated_at missing", drop(HEALTH, "updated_at")),
            ("channel id with a dot", change(HEALTH, "channel", "acq.eu")),
        ],
    },
    "pending-payment.schema.json": {
        "valid": [("a wallet payment waiting for its webhook", PENDING),
                  ("given up, watched for a late event (give_up)",
                   change(change(PENDING, "expired_at_ms", 1795685924273), "expired_at", "2026-11-26T09:38:44.273Z"))],
        "invalid": [
            ("no routed payment", drop(PENDING, "routed")),
            ("a float time", change(PENDING, "pending_since_ms", 1.5)),
            ("an unknown member", change(PENDING, "status", "pending")),
        ],
    },
    "channel-event.schema.json": {
        "valid": [("an approval from a webhook", EVENT),
                  ("with the signed webhook it came from (encode_channel_event)",
                   change(change(EVENT, "origin", '{"event_id":"evt_1","type":"payment.updated","payment":{}}'),
                          "origin_auth", {"Turnout-Timestamp": "1795685324273", "Turnout-Signature": "v1=00"})),
                  ("a cancel reported by the channel", change(EVENT, "status", "reversed"))],
        "invalid": [
            ("a pending status", change(EVENT, "status", "pending")),
            ("no event id", drop(EVENT, "event_id")),
            ("a signature header that is not a string", change(EVENT, "origin_auth", {"Turnout-Signature": 1})),
        ],
    },
}


def run_samples(schemas: dict) -> None:
    for schema_name, groups in CASES.items():
        validator = V.make_validator(schemas[schema_name])
        short = schema_name.replace(".schema.json", "")
        for what, doc in groups["valid"]:
            errors = list(validator.iter_errors(doc))
            report(not errors, f"{short}: valid: {what}",
                   "; ".join(V.describe(e) for e in errors[:3]))
        for what, doc in groups["invalid"]:
            errors = list(validator.iter_errors(doc))
            report(bool(errors), f"{short}: rejects {what}", "validated")


# ---------------------------------------------------------------- schema checks


def undescribed(node, path="$"):
    """Properties without a description (conditional refinements excluded)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("allOf", "anyOf", "oneOf", "if", "then", "else", "not", "examples"):
                continue
            if key == "properties" and isinstance(value, dict):
                for name, sub in value.items():
                    if isinstance(sub, dict) and "description" not in sub:
                        yield f"{path}.properties.{name}"
            yield from undescribed(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from undescribed(value, f"{path}[{i}]")


def enum_at(schema, *path):
    node = schema
    for p in path:
        node = node[p]
    return node


def source(rel: str) -> str | None:
    p = REPO / rel
    return p.read_text(encoding="utf-8") if p.is_file() else None


def run_schema_checks(schema_dir: Path) -> dict:
    schemas = {}
    for name in CASES:
        schema, problems = V.check_schema_file(schema_dir / name)
        report(not problems, f"{name}: valid draft 2020-12 schema, $id, title, description, examples validate",
               "; ".join(problems))
        if schema is None:
            sys.exit(f"cannot go on without {name}")
        schemas[name] = schema
        missing = list(undescribed(schema))
        report(not missing, f"{name}: every property has a description", ", ".join(missing[:5]))

    req, routed, res, batch = (schemas[n] for n in list(CASES)[:4])
    money_cpp = source("switch/model/money.cpp")
    if money_cpp:
        codes = re.findall(r'\{"([A-Z]{3})",\s*\d+,\s*\d+\}', money_cpp)
        for name, s in (("payment-request", req), ("routed-payment", routed), ("payment-result", res),
                        ("settlement-batch", batch)):
            report(s["$defs"]["currency"]["enum"] == codes,
                   f"{name}: currencies are those of switch/model/money.cpp ({len(codes)})")
    payment_cpp = source("switch/model/payment.cpp")
    if payment_cpp:
        def names(var):
            m = re.search(var + r"\{([^}]*)\}", payment_cpp)
            return re.findall(r'"([a-z_]+)"', m.group(1)) if m else None
        report(enum_at(req, "properties", "type", "enum") == names("kTypes") == enum_at(res, "properties", "type", "enum"),
               "payment types agree with switch/model/payment.cpp")
        report(enum_at(req, "properties", "instrument", "properties", "kind", "enum") == names("kKinds")
               == enum_at(routed, "properties", "instrument", "properties", "kind", "enum"),
               "instrument kinds agree with switch/model/payment.cpp")
        report(enum_at(res, "properties", "status", "enum") == names("kStatuses"),
               "result statuses agree with switch/model/payment.cpp")
    decoder_hpp, router_cpp = source("switch/codec/request_decoder.hpp"), source("switch/router/router_stage.cpp")
    if decoder_hpp and router_cpp:
        declared = re.findall(r'inline constexpr std::string_view (\w+) = "(\w+)"', decoder_hpp)
        # Rejections before payment_id is read get no result, so no result carries their code.
        no_id = {"oversize_record", "invalid_json", "not_an_object", "missing_payment_id", "invalid_payment_id"}
        expected = [code for _, code in declared if code not in no_id]
        expected += [c for c in re.findall(r'reject_with\(\{"(\w+)"', router_cpp) if c not in expected]
        in_schema = res["allOf"][0]["then"]["properties"]["reason"]["properties"]["code"]["enum"]
        report(sorted(in_schema) == sorted(expected),
               "rejected reason codes agree with the decoder and the router",
               f"schema {sorted(set(in_schema) ^ set(expected))}")
        life_cycle_hpp = source("switch/domain/life_cycle.hpp") or ""
        lc_codes = [c for _, c in re.findall(r'inline constexpr std::string_view (\w+) = "(\w+)"', life_cycle_hpp)]
        report(lc_codes and res["$defs"]["life_cycle_code"]["enum"] == lc_codes,
               "life-cycle rejection codes agree with switch/domain/life_cycle.hpp", f"{lc_codes}")
    return schemas


# ---------------------------------------------------------------- validate.py end to end


def run_validate_py(schema_dir: Path) -> None:
    def dump(tmp: Path, files: dict) -> None:
        for name, lines in files.items():
            (tmp / name).write_bytes(b"".join(l + b"\n" for l in lines))

    def line(doc) -> bytes:
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()

    good = {
        "requests.jsonl": [line(d) for _, d in CASES["payment-request.schema.json"]["valid"]],
        "routed.jsonl": [line(ROUTED), line(CHANNEL_CAPTURE)],
        "channel.jsonl": [line(CHANNEL), line(CHANNEL_FAILOVER), line(CHANNEL_CAPTURE)],
        "results.jsonl": [line(d) for _, d in CASES["payment-result.schema.json"]["valid"]],
        "batches.jsonl": [line(BATCH), line(BATCH_REFUNDS)],
        "dlq.jsonl": [line(DLQ)],
    }

    def run(files: dict, missing: str | None = None) -> tuple[int, str]:
        with tempfile.TemporaryDirectory() as tmp:
            dump(Path(tmp), files)
            if missing:
                (Path(tmp) / missing).unlink()
            out = io.StringIO()
            with redirect_stdout(out):
                rc = V.main(["validate.py", str(schema_dir), tmp])
            return rc, out.getvalue()

    rc, out = run(good)
    report(rc == 0 and "routed.jsonl: 2 records, 0 invalid" in out, "validate.py: a good dump passes", out)

    bad = dict(good, **{"routed.jsonl": good["routed.jsonl"] + [line(change(ROUTED, "instrument.pan", "4242422511019230"))]})
    rc, out = run(bad)
    report(rc == 1 and "routed.jsonl: 3 records, 1 invalid" in out and "routed.jsonl:3:" in out,
           "validate.py: a routed payment with a pan fails, reported with its line number", out)

    for what, raw in (("that is not JSON", b'{"payment_id":"p-1","type":"sale",'),
                      ("with a duplicate member name", line(RESULT_REJECTED)[:-1] + b',"status":"approved"}'),
                      ("containing NaN", line(RESULT_REJECTED)[:-1] + b',"x":NaN}'),
                      ("that is not UTF-8", b'{"payment_id":"p-\xff"}'),
                      ("that is an empty line", b"")):
        rc, out = run(dict(good, **{"results.jsonl": [raw] + good["results.jsonl"]}))
        report(rc == 1 and "results.jsonl:1:" in out, f"validate.py: a record {what} fails", out)

    rc, out = run(good, missing="dlq.jsonl")
    report(rc == 1 and "dlq.jsonl: missing" in out, "validate.py: a missing file fails", out)
    rc, out = run(dict(good, **{"requests.jsonl": []}))
    report(rc == 1 and "requests.jsonl: empty" in out, "validate.py: an empty file fails", out)

    with tempfile.TemporaryDirectory() as tmp:
        for p in schema_dir.glob("*.schema.json"):
            (Path(tmp) / p.name).write_text(p.read_text())
        broken = json.loads((Path(tmp) / "settlement-batch.schema.json").read_text())
        broken["properties"]["net"]["type"] = "int64"
        (Path(tmp) / "settlement-batch.schema.json").write_text(json.dumps(broken))
        with tempfile.TemporaryDirectory() as d:
            dump(Path(d), good)
            buf = io.StringIO()
            with redirect_stdout(buf):
                rc = V.main(["validate.py", tmp, d])
        report(rc == 1 and "schema settlement-batch.schema.json" in buf.getvalue(),
               "validate.py: an invalid schema fails", buf.getvalue())


def main(argv: list[str]) -> int:
    schema_dir = Path(argv[1]) if len(argv) > 1 else REPO / "schemas"
    schemas = run_schema_checks(schema_dir)
    run_samples(schemas)
    run_validate_py(schema_dir)
    print(f"\n{passed} passed, {len(failures)} failed")
    for f in failures:
        print(f"  failed: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
