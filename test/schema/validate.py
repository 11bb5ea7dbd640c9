#!/usr/bin/env python3
"""Validate dumped Turnout messages against the JSON Schemas in schemas/.

usage: validate.py SCHEMA_DIR DUMP_DIR

DUMP_DIR holds one JSONL file per kind of message, each line one record value
exactly as it was on the topic:

    requests.jsonl  payments.requests (only requests the switch accepted)
    routed.jsonl    payments.routed
    channel.jsonl   payments.channel.<id>
    results.jsonl   payments.results
    batches.jsonl   settlement.batches
    dlq.jsonl       payments.dlq values written by the router

Every schema in SCHEMA_DIR is checked against the draft 2020-12 meta-schema
first. The exit status is 1 when a schema is invalid, when one of the six
files is missing or holds no record, or when any record does not validate.

The validator is Draft202012Validator with format assertion on, made stricter
in three places so that it agrees with the switch's JSON reader:
  * "integer" means a JSON integer literal (100.0 and 1e2 are numbers, not
    integers), as amounts must never be floats;
  * "pattern" uses ECMA-262 anchoring: `$` matches only at the very end of the
    string (Python's `$` also matches before a final newline);
  * "format": "date-time" is checked as RFC 3339 even without optional
    packages.
A line that is not UTF-8, not JSON, has a duplicate member name or uses
NaN/Infinity is an invalid record as well.
"""
from __future__ import annotations

import functools
import json
import multiprocessing
import os
import re
import sys
from pathlib import Path

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError, best_match

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX = "https://turnout.example/schemas/"

# dump file -> schema file
FILES = {
    "requests.jsonl": "payment-request.schema.json",
    "routed.jsonl": "routed-payment.schema.json",
    "channel.jsonl": "routed-payment.schema.json",
    "results.jsonl": "payment-result.schema.json",
    "batches.jsonl": "settlement-batch.schema.json",
    "dlq.jsonl": "dlq-sealed-record.schema.json",
}

MAX_ERRORS_SHOWN = 5


# ---------------------------------------------------------------- validator


@functools.lru_cache(maxsize=None)
def ecma_regex(pattern: str) -> re.Pattern:
    """Compiles a schema pattern so that an unescaped `$` outside a character
    class matches only at the end of the string, as in ECMA-262."""
    out = []
    escaped = in_class = False
    for ch in pattern:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            out.append(ch)
            escaped = True
        elif in_class:
            out.append(ch)
            in_class = ch != "]"
        elif ch == "[":
            out.append(ch)
            in_class = True
        elif ch == "$":
            out.append(r"\Z")
        else:
            out.append(ch)
    return re.compile("".join(out))


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _is_integer(checker, instance):
    return isinstance(instance, int) and not isinstance(instance, bool)


_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"([Zz]|[+-]([0-9]{2}):([0-9]{2}))\Z"
)
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_rfc3339_date_time(value) -> bool:
    """RFC 3339 `date-time`, with the range checks the switch's parser makes."""
    if not isinstance(value, str):
        return True
    m = _RFC3339.match(value)
    if not m:
        return False
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS[month - 1]:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if month == 2 and day == 29 and not leap:
        return False
    if hour > 23 or minute > 59 or second > 60:
        return False
    if m.group(9) is not None and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return False
    return True


def format_checker() -> FormatChecker:
    base = getattr(Draft202012Validator, "FORMAT_CHECKER", None)
    if base is None:  # jsonschema < 4.5
        from jsonschema import draft202012_format_checker as base
    checker = FormatChecker(formats=())
    checker.checkers = dict(base.checkers)
    checker.checks("date-time")(is_rfc3339_date_time)
    return checker


StrictValidator = validators.extend(
    Draft202012Validator,
    validators={"pattern": _pattern},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


def inline_local_refs(schema: dict) -> dict:
    """The schema with each `{"$ref": "#/$defs/NAME", ...}` replaced by that definition
    (next to any other keywords of the node, under allOf): what validates is the same, but
    the validator no longer resolves a reference for every value it checks (a large dump
    validates about a third faster). Definitions that refer to themselves stay references."""
    defs = schema.get("$defs")
    if not isinstance(defs, dict):
        return schema

    def walk(node, seen: tuple):
        if isinstance(node, dict):
            ref = node.get("$ref")
            name = ref[len("#/$defs/"):] if isinstance(ref, str) and ref.startswith("#/$defs/") else None
            rest = {k: walk(v, seen) for k, v in node.items() if not (name and k == "$ref")}
            if not name or "/" in name or "~" in name or name not in defs or name in seen:
                return rest if not name else dict(rest, **{"$ref": ref})
            target = walk(defs[name], seen + (name,))
            if not rest:
                return target
            return dict(rest, allOf=list(rest.get("allOf", [])) + [target])
        if isinstance(node, list):
            return [walk(v, seen) for v in node]
        return node

    return walk(schema, ())


def make_validator(schema: dict):
    return StrictValidator(inline_local_refs(schema), format_checker=format_checker())


# ---------------------------------------------------------------- schemas


def check_schema_file(path: Path) -> tuple[dict | None, list[str]]:
    """Loads a schema and returns it with the problems found in it."""
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return None, [f"cannot read: {e}"]
    problems = []
    try:
        Draft202012Validator.check_schema(schema)
    except Exception as e:  # SchemaError, or a regex the meta-schema format check rejects
        problems.append(f"not a valid draft 2020-12 schema: {getattr(e, 'message', e)}")
    if not isinstance(schema, dict):
        return None, problems or ["not a JSON object"]
    if schema.get("$schema") != DRAFT_2020_12:
        problems.append(f'"$schema" must be "{DRAFT_2020_12}"')
    if schema.get("$id") != ID_PREFIX + path.name:
        problems.append(f'"$id" must be "{ID_PREFIX + path.name}"')
    for key in ("title", "description"):
        if not schema.get(key):
            problems.append(f'missing "{key}"')
    for pattern in _patterns(schema):
        try:
            ecma_regex(pattern)
        except re.error as e:
            problems.append(f"pattern {pattern!r}: {e}")
    if not problems:
        for i, example in enumerate(schema.get("examples", [])):
            err = best_match(make_validator(schema).iter_errors(example))
            if err is not None:
                problems.append(f"examples[{i}] does not validate: {describe(err)}")
    return (schema if not problems else None), problems


def _patterns(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "pattern" and isinstance(v, str):
                yield v
            elif k == "patternProperties" and isinstance(v, dict):
                yield from v.keys()
                yield from _patterns(v)
            else:
                yield from _patterns(v)
    elif isinstance(node, list):
        for v in node:
            yield from _patterns(v)


# ---------------------------------------------------------------- records


class RecordError(ValueError):
    pass


def _no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise RecordError(f"duplicate member name {k!r}")
        obj[k] = v
    return obj


def _no_constant(name):
    raise RecordError(f"{name} is not JSON")


def parse_record(raw: bytes):
    """One record value as the switch's JSON reader would take it, or RecordError."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RecordError(f"not UTF-8: {e}") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except RecordError:
        raise
    except ValueError as e:
        raise RecordError(f"not JSON: {e}") from None


def describe(err: ValidationError) -> str:
    where = err.json_path if hasattr(err, "json_path") else "$" + "".join(f"[{p!r}]" for p in err.absolute_path)
    message = err.message
    if err.validator == "enum" and len(err.validator_value) > 12:
        message = f"{err.instance!r} is not one of the {len(err.validator_value)} allowed values"
    if err.validator in ("oneOf", "anyOf") and err.context:
        # Name what is wrong in the alternative that came closest (e.g. the one of its kind).
        branches: dict = {}
        for e in err.context:
            branches.setdefault(e.relative_schema_path[0], []).append(e)
        # Prefer an alternative whose const/enum members matched (the discriminator), then fewest errors.
        closest = min(branches.values(),
                      key=lambda es: (any(e.validator in ("const", "enum") and e.relative_path for e in es), len(es)))
        message = f"matches none of the {err.validator} alternatives; closest: " + "; ".join(
            ("" if not e.relative_path else "".join(f"[{p!r}]" for p in e.relative_path) + ": ") + e.message
            for e in closest[:3])
    if len(message) > 300:
        message = message[:297] + "..."
    return f"{where}: {message}"


def read_lines(path: Path) -> list[bytes]:
    lines = path.read_bytes().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline that ends the last record
    return lines


def validate_file(path: Path, validator) -> tuple[int, int, list[str]]:
    """Returns (records, invalid, first error lines)."""
    return validate_lines(path.name, read_lines(path), 1, validator)


def validate_lines(name: str, lines: list[bytes], first: int, validator) -> tuple[int, int, list[str]]:
    """validate_file for the records `lines`, the first of them line `first` of file `name`."""
    records = invalid = 0
    shown: list[str] = []
    for number, raw in enumerate(lines, start=first):
        records += 1
        try:
            doc = parse_record(raw)
        except RecordError as e:
            invalid += 1
            if len(shown) < MAX_ERRORS_SHOWN:
                shown.append(f"  {name}:{number}: {e}")
            continue
        if next(validator.iter_errors(doc), None) is None:
            continue
        invalid += 1
        if len(shown) < MAX_ERRORS_SHOWN:
            err = best_match(validator.iter_errors(doc))
            shown.append(f"  {name}:{number}: {describe(err)}")
    return records, invalid, shown


# A dump this large is checked in chunks by one process per CPU (each record on its own, so
# the outcome is the same as checking it in one process, only sooner).
PARALLEL_FROM_RECORDS = 5000
CHUNK_RECORDS = 2000


def _validate_chunk(job: tuple[str, dict, list[bytes], int]) -> tuple[int, int, list[str]]:
    name, schema, lines, first = job
    return validate_lines(name, lines, first, make_validator(schema))


def validate_files(jobs: list[tuple[Path, dict]]) -> list[tuple[int, int, list[str]]]:
    """(records, invalid, first error lines) of each (dump file, schema)."""
    contents = [read_lines(path) for path, _ in jobs]
    workers = min(os.cpu_count() or 1, 8)
    if workers < 2 or sum(map(len, contents)) < PARALLEL_FROM_RECORDS:
        return [validate_lines(path.name, lines, 1, make_validator(schema))
                for (path, schema), lines in zip(jobs, contents)]
    chunks, owner = [], []
    for i, ((path, schema), lines) in enumerate(zip(jobs, contents)):
        for start in range(0, len(lines), CHUNK_RECORDS):
            chunks.append((path.name, schema, lines[start:start + CHUNK_RECORDS], start + 1))
            owner.append(i)
    out = [(0, 0, []) for _ in jobs]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for i, (records, invalid, shown) in zip(owner, pool.imap(_validate_chunk, chunks)):
            r, n, s = out[i]
            out[i] = (r + records, n + invalid, (s + shown)[:MAX_ERRORS_SHOWN])
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] in ("-h", "--help"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    schema_dir, dump_dir = Path(argv[1]), Path(argv[2])
    ok = True

    schemas: dict[str, dict] = {}
    schema_files = sorted(schema_dir.glob("*.schema.json"))
    if not schema_files:
        print(f"{schema_dir}: no *.schema.json files")
        return 1
    for path in schema_files:
        schema, problems = check_schema_file(path)
        if problems:
            ok = False
            for p in problems:
                print(f"schema {path.name}: {p}")
        else:
            schemas[path.name] = schema
    print(f"schemas: {len(schema_files)} checked, {len(schema_files) - len(schemas)} invalid")

    jobs: list[tuple[Path, dict]] = []
    for name, schema_name in FILES.items():
        path = dump_dir / name
        if schema_name not in schemas:
            print(f"{name}: not checked, schema {schema_name} is missing or invalid")
            ok = False
            continue
        if not path.is_file():
            print(f"{name}: missing")
            ok = False
            continue
        jobs.append((path, schemas[schema_name]))

    for (path, _), (records, invalid, shown) in zip(jobs, validate_files(jobs)):
        name = path.name
        print(f"{name}: {records} records, {invalid} invalid")
        for line in shown:
            print(line)
        if invalid > MAX_ERRORS_SHOWN:
            print(f"  ... and {invalid - MAX_ERRORS_SHOWN} more")
        if records == 0:
            print(f"{name}: empty")
            ok = False
        if invalid:
            ok = False

    for extra in sorted(p.name for p in dump_dir.glob("*.jsonl") if p.name not in FILES):
        print(f"{extra}: ignored (no schema for it)")

    print("schema validation " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
