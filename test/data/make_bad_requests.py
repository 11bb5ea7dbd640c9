#!/usr/bin/env python3
"""Writes the bad-input corpus: test/data/bad-requests/<case>.json (the exact record value,
often not JSON at all) and test/data/bad-requests/MANIFEST.tsv, one line per case:

    case <TAB> expected DLQ reason <TAB> result (yes: a `rejected` result is expected,
    because the payment_id is readable; no: DLQ only) <TAB> record key (id: the payment_id
    or the case name, null: no key, empty: a zero-length key)

The unit test (test/unit/codec/bad_input_test.cpp) decodes every case; the integration test
(test/integration/hostile_input_test.cpp) publishes them through the real switch.
Run it again after changing a case: python3 test/data/make_bad_requests.py
"""
import json
import os
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "bad-requests"


def good(pid, **changes):
    r = {
        "payment_id": pid,
        "type": "sale",
        "merchant": {"id": "m-bad", "mcc": "5411", "country": "DE"},
        "amount": {"value": 1299, "currency": "EUR"},
        "instrument": {"kind": "card", "pan": "4111111111111111", "expiry": "2812"},
        "created_at": "2026-11-26T06:33:25.123Z",
    }
    for k, v in changes.items():
        if v is DROP:
            r.pop(k, None)
        else:
            r[k] = v
    return r


DROP = object()


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def follow_up(pid, type_, original=DROP, **changes):
    r = good(pid, type=type_, instrument=DROP, **changes)
    if original is not DROP:
        r["original"] = original
    return r


ORIG = {"payment_id": "bad-orig-1", "channel": "acq-eu", "channel_ref": "acq-eu-0001"}
cases = []  # (name, bytes, reason, result, key)


def add(name, data, reason, result, key="id"):
    if isinstance(data, dict):
        data = dumps(data)
    elif isinstance(data, str):
        data = data.encode()
    cases.append((name, data, reason, "yes" if result else "no", key))


def with_amount(name, raw_value, reason):
    # A literal amount value, spliced in as text so that floats, exponents and huge
    # numbers reach the decoder exactly as written.
    body = dumps(good("bad-" + name)).replace(b'"value":1299', b'"value":' + raw_value.encode())
    add(name, body, reason, True)


pid = lambda n: "bad-" + n  # noqa: E731
valid = dumps(good("bad-truncated"))

# -- not JSON, not UTF-8, not one document
add("empty_value", b"", "invalid_json", False)
add("empty_value_null_key", b"", "invalid_json", False, key="null")
add("whitespace_only", b" \n\t ", "invalid_json", False)
add("binary_garbage", bytes(random.Random(8).randrange(256) for _ in range(512)), "invalid_json", False)
add("nul_bytes", b"\0\0\0\0", "invalid_json", False, key="null")
add("utf8_invalid_byte", dumps(good(pid("utf8_invalid_byte"))).replace(b"m-bad", b"m-\xff\xfe"), "invalid_json", False)
add("utf8_overlong_slash", dumps(good(pid("utf8_overlong_slash"))).replace(b"m-bad", b"m-\xc0\xaf"), "invalid_json", False)
add("utf8_encoded_surrogate", dumps(good(pid("utf8_encoded_surrogate"))).replace(b"m-bad", b"m-\xed\xa0\x80"), "invalid_json", False)
add("utf8_truncated_sequence", dumps(good(pid("utf8_truncated_sequence"))).replace(b"m-bad", b"m-\xe2\x82"), "invalid_json", False)
add("latin1_text", dumps(good(pid("latin1_text"))).replace(b"m-bad", b"caf\xe9"), "invalid_json", False)
add("bom_prefix", b"\xef\xbb\xbf" + dumps(good(pid("bom_prefix"))), "invalid_json", False)
add("truncated_json", valid[: len(valid) // 2], "invalid_json", False)
add("trailing_garbage", dumps(good(pid("trailing_garbage"))) + b"xyz", "invalid_json", False)
add("two_documents", dumps(good(pid("two_documents"))) + dumps(good(pid("two_documents_b"))), "invalid_json", False)
add("comment_in_json", dumps(good(pid("comment_in_json"))).replace(b'{"payment_id"', b'{/* c */"payment_id"'), "invalid_json", False)
add("single_quotes", b"{'payment_id':'bad-single_quotes'}", "invalid_json", False)
add("nan_literal", dumps(good(pid("nan_literal"))).replace(b'"value":1299', b'"value":NaN'), "invalid_json", False)
add("infinity_literal", dumps(good(pid("infinity_literal"))).replace(b'"value":1299', b'"value":Infinity'), "invalid_json", False)
add("deep_nesting_arrays", b"[" * 10000 + b"]" * 10000, "invalid_json", False)
add("deep_nesting_objects", b'{"a":' * 5000 + b"1" + b"}" * 5000, "invalid_json", False)
nested = {"x": "y"}
for _ in range(17):
    nested = {"n": nested}
add("nesting_17_in_metadata", good(pid("nesting_17_in_metadata"), metadata=nested), "invalid_json", False)
# Two values for one member: readers disagree on which one counts, so the record is refused
# as a whole and no result is sent for a payment_id that may not be the one meant.
add("duplicate_payment_id_member", b'{"payment_id":"bad-dup-a",' + dumps(good("bad-dup-b"))[1:], "invalid_json", False)
add("duplicate_amount_member",
    dumps(good(pid("duplicate_amount_member"))).replace(b'"amount":', b'"amount":{"value":1,"currency":"EUR"},"amount":'),
    "invalid_json", False)
add("duplicate_nested_member",
    dumps(good(pid("duplicate_nested_member"))).replace(b'"value":1299', b'"value":1,"value":100000000'),
    "invalid_json", False)
add("lone_surrogate_escape", dumps(good(pid("lone_surrogate_escape"))).replace(b"m-bad", b"m-\\ud800"), "invalid_json", False)

# -- not an object
add("top_level_array", b'[{"payment_id":"bad-top_level_array"}]', "not_an_object", False)
add("top_level_string", b'"bad-top_level_string"', "not_an_object", False)
add("top_level_number", b"1299", "not_an_object", False)
add("top_level_null", b"null", "not_an_object", False, key="null")
add("top_level_true", b"true", "not_an_object", False)

# -- payment_id
add("payment_id_missing", good(pid("x"), payment_id=DROP), "missing_payment_id", False)
add("payment_id_number", good(12345), "invalid_payment_id", False)
add("payment_id_null", good(None), "invalid_payment_id", False)
add("payment_id_empty", good(""), "invalid_payment_id", False, key="empty")
add("payment_id_too_long", good("b" * 65), "invalid_payment_id", False)
add("payment_id_space_slash", good("bad id/1"), "invalid_payment_id", False)
add("payment_id_unicode", good("bad-päy"), "invalid_payment_id", False)
add("payment_id_newline", good("bad-\n1"), "invalid_payment_id", False)
add("payment_id_object", good({"id": "bad-1"}), "invalid_payment_id", False)

# -- unknown fields, wrong types
add("unknown_top_field", good(pid("unknown_top_field"), cvv="123"), "unknown_field", True)
add("unknown_field_named_like_pan", good(pid("unknown_field_named_like_pan"), **{"4111111111111111": "x"}),
    "unknown_field", True)
add("unknown_amount_field", good(pid("unknown_amount_field"), amount={"value": 1, "currency": "EUR", "fx": 1}),
    "unknown_field", True)
add("type_missing", good(pid("type_missing"), type=DROP), "invalid_type", True)
add("type_unknown", good(pid("type_unknown"), type="purchase"), "invalid_type", True)
add("type_upper_case", good(pid("type_upper_case"), type="SALE"), "invalid_type", True)
add("type_number", good(pid("type_number"), type=1), "invalid_type", True, key="null")
add("merchant_missing", good(pid("merchant_missing"), merchant=DROP), "invalid_merchant", True)
add("merchant_string", good(pid("merchant_string"), merchant="m-1"), "invalid_merchant", True)
add("merchant_id_empty", good(pid("merchant_id_empty"), merchant={"id": ""}), "invalid_merchant", True)
add("merchant_id_number", good(pid("merchant_id_number"), merchant={"id": 17}), "invalid_merchant", True)
# A line break or control character in a merchant id would split a clearing-file line.
add("merchant_id_line_break", good(pid("merchant_id_line_break"), merchant={"id": "m-1\nTRAILER,1,0,0,0,0"}),
    "invalid_merchant", True)
add("merchant_id_control_char", good(pid("merchant_id_control_char"), merchant={"id": "m-\u0000-1"}),
    "invalid_merchant", True)
add("merchant_mcc_letters", good(pid("merchant_mcc_letters"), merchant={"id": "m-1", "mcc": "54a1"}),
    "invalid_merchant", True)

# -- amounts
add("amount_missing", good(pid("amount_missing"), amount=DROP), "missing_amount", True)
add("amount_number_not_object", good(pid("amount_number_not_object"), amount=1299), "missing_amount", True)
add("amount_value_missing", good(pid("amount_value_missing"), amount={"currency": "EUR"}), "missing_amount", True)
with_amount("amount_float", "12.5", "amount_not_integer")
with_amount("amount_float_whole", "1299.0", "amount_not_integer")
with_amount("amount_exponent", "1e3", "amount_not_integer")
with_amount("amount_string", '"1299"', "amount_not_integer")
with_amount("amount_bool", "true", "amount_not_integer")
with_amount("amount_null", "null", "amount_not_integer")
with_amount("amount_array", "[1299]", "amount_not_integer")
with_amount("amount_zero", "0", "amount_out_of_range")
with_amount("amount_negative", "-1299", "amount_out_of_range")
with_amount("amount_negative_zero", "-0", "amount_out_of_range")
with_amount("amount_above_max", "1000000000001", "amount_out_of_range")
with_amount("amount_int64_max", "9223372036854775807", "amount_out_of_range")
with_amount("amount_int64_min", "-9223372036854775808", "amount_out_of_range")
with_amount("amount_uint64_max", "18446744073709551615", "amount_out_of_range")
with_amount("amount_beyond_uint64", "99999999999999999999999999", "amount_out_of_range")
with_amount("amount_huge_exponent", "1e400", "amount_out_of_range")
with_amount("amount_tiny_float", "1e-400", "amount_not_integer")
add("currency_unknown", good(pid("currency_unknown"), amount={"value": 1, "currency": "XXY"}), "unknown_currency", True)
add("currency_lower_case", good(pid("currency_lower_case"), amount={"value": 1, "currency": "eur"}),
    "unknown_currency", True)
add("currency_number", good(pid("currency_number"), amount={"value": 1, "currency": 978}), "unknown_currency", True)
add("currency_missing", good(pid("currency_missing"), amount={"value": 1}), "unknown_currency", True)

# -- instruments
add("instrument_missing", good(pid("instrument_missing"), instrument=DROP), "missing_instrument", True)
add("instrument_string", good(pid("instrument_string"), instrument="4111111111111111"), "invalid_instrument", True)
add("instrument_kind_unknown", good(pid("instrument_kind_unknown"), instrument={"kind": "cash"}),
    "invalid_instrument", True)
add("card_with_cvv", good(pid("card_with_cvv"), instrument={"kind": "card", "pan": "4111111111111111",
                                                             "expiry": "2812", "cvv": "123"}),
    "invalid_instrument", True)
add("pan_luhn_fails", good(pid("pan_luhn_fails"), instrument={"kind": "card", "pan": "4111111111111112", "expiry": "2812"}),
    "invalid_pan", True)
add("pan_too_short", good(pid("pan_too_short"), instrument={"kind": "card", "pan": "42424242426", "expiry": "2812"}),
    "invalid_pan", True)
add("pan_too_long", good(pid("pan_too_long"), instrument={"kind": "card", "pan": "41111111111111111113", "expiry": "2812"}),
    "invalid_pan", True)
add("pan_with_spaces", good(pid("pan_with_spaces"), instrument={"kind": "card", "pan": "4111 1111 1111 1111",
                                                                 "expiry": "2812"}), "invalid_pan", True)
add("pan_number", good(pid("pan_number"), instrument={"kind": "card", "pan": 4111111111111111, "expiry": "2812"}),
    "invalid_pan", True)
add("expiry_month_13", good(pid("expiry_month_13"), instrument={"kind": "card", "pan": "5555555555554444",
                                                                 "expiry": "2813"}), "invalid_expiry", True)
add("expiry_missing", good(pid("expiry_missing"), instrument={"kind": "card", "pan": "5555555555554444"}),
    "invalid_expiry", True)
add("wallet_without_provider", good(pid("wallet_without_provider"), instrument={"kind": "wallet", "token": "t"}),
    "invalid_instrument", True)
add("token_too_long", good(pid("token_too_long"), instrument={"kind": "card_token", "token": "t" * 129}),
    "invalid_instrument", True)

# -- follow-ups and their original
add("capture_missing_original", follow_up(pid("capture_missing_original"), "capture"), "missing_original", True)
add("refund_missing_original", follow_up(pid("refund_missing_original"), "refund"), "missing_original", True)
add("void_missing_original", follow_up(pid("void_missing_original"), "void"), "missing_original", True)
add("original_incomplete", follow_up(pid("original_incomplete"), "refund", {"payment_id": "bad-orig-2"}),
    "invalid_original", True)
add("original_extra_member", follow_up(pid("original_extra_member"), "capture", dict(ORIG, amount=1)),
    "invalid_original", True)
add("original_bad_payment_id", follow_up(pid("original_bad_payment_id"), "void", dict(ORIG, payment_id="a b")),
    "invalid_original", True)
add("original_on_sale", dict(good(pid("original_on_sale")), original=ORIG), "invalid_original", True)
add("original_channel_ref_line_break", follow_up(pid("original_channel_ref_line_break"), "refund",
                                                 dict(ORIG, channel_ref="ref\r\nTRAILER")),
    "invalid_original", True)

# -- created_at, customer, metadata
add("created_at_missing", good(pid("created_at_missing"), created_at=DROP), "invalid_created_at", True)
add("created_at_garbage", good(pid("created_at_garbage"), created_at="yesterday"), "invalid_created_at", True)
add("created_at_month_13", good(pid("created_at_month_13"), created_at="2026-13-01T00:00:00Z"),
    "invalid_created_at", True)
add("created_at_number", good(pid("created_at_number"), created_at=1764138805123), "invalid_created_at", True)
add("customer_string", good(pid("customer_string"), customer="c-1"), "invalid_customer", True)
add("customer_unknown_field", good(pid("customer_unknown_field"), customer={"id": "c-1", "email": "a@b"}),
    "invalid_customer", True)
add("customer_country_lower", good(pid("customer_country_lower"), customer={"country": "de"}), "invalid_customer", True)
add("metadata_too_many", good(pid("metadata_too_many"), metadata={f"k{i}": "v" for i in range(21)}),
    "invalid_metadata", True)
add("metadata_number_value", good(pid("metadata_number_value"), metadata={"n": 1}), "invalid_metadata", True)
add("metadata_array", good(pid("metadata_array"), metadata=["a"]), "invalid_metadata", True)
add("metadata_value_too_long", good(pid("metadata_value_too_long"), metadata={"k": "v" * 257}),
    "invalid_metadata", True)

# -- size
big = good(pid("oversize_record"), metadata={"k": "v"})
body = dumps(big).replace(b'"k":"v"', b'"k":"' + b"v" * 70000 + b'"')
add("oversize_record", body, "oversize_record", False)
add("oversize_garbage", b"\x00" * 65537, "oversize_record", False, key="null")


def main():
    OUT.mkdir(exist_ok=True)
    for f in OUT.iterdir():
        f.unlink()
    names = set()
    lines = []
    for name, data, reason, result, key in cases:
        assert name not in names, name
        names.add(name)
        (OUT / f"{name}.json").write_bytes(data)
        lines.append(f"{name}\t{reason}\t{result}\t{key}\n")
    (OUT / "MANIFEST.tsv").write_text("# case\treason\tresult\tkey (see test/data/make_bad_requests.py)\n" + "".join(lines))
    print(f"{len(cases)} cases in {OUT}")


if __name__ == "__main__":
    main()
