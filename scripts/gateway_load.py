"""HTTP load on the payments gateway for scripts/bench: POST /v1/payments over keep-alive
connections (asyncio, raw sockets, HTTP/1.1), closed loop at saturation or open loop at a
fixed rate. Each payment is a card sale of its own card number (so no per-card risk rule
fires), answered 200 with its final result, or 202 when it is still pending at the
gateway's wait_ms.

    run_saturation(host, port, key, merchant, count, connections, prefix) -> dict
    run_fixed_rate(host, port, key, merchant, rate, seconds, connections, prefix) -> dict

Latency at a fixed rate is taken from each request's scheduled send time, so a backlog in
the client or the server shows in it (no coordinated omission).
"""
import asyncio
import json
import random
import time


def luhn_pan(prefix, length=16, rng=random):
    digits = [int(c) for c in prefix] + [rng.randrange(10) for _ in range(length - len(prefix) - 1)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


def request_bytes(host, port, key, merchant, payment_id, rng):
    body = json.dumps({
        "payment_id": payment_id, "type": "sale",
        "merchant": {"id": merchant, "mcc": "5411", "country": "GB"},
        "amount": {"value": rng.randrange(100, 50000), "currency": "USD"},
        "instrument": {"kind": "card", "pan": luhn_pan("424242", rng=rng), "expiry": "3210"},
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
    }, separators=(",", ":")).encode()
    head = (f"POST /v1/payments HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nIdempotency-Key: {payment_id}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    return head + body


async def read_response(reader):
    """(status, body) of one HTTP/1.1 response with a Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


class Tally:
    def __init__(self):
        self.statuses = {}
        self.final = {}  # result status -> count (200 answers)
        self.latencies = []
        self.errors = 0

    def add(self, status, body, latency_s):
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies.append(latency_s)
        if status == 200:
            try:
                s = json.loads(body).get("status", "?")
            except ValueError:
                s = "unreadable"
            self.final[s] = self.final.get(s, 0) + 1

    def summary(self, seconds, offered=None):
        lat = sorted(self.latencies)

        def pct(p):
            return round(lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000, 1) if lat else 0.0

        done = self.statuses.get(200, 0)
        out = {"requests": len(lat), "seconds": round(seconds, 2),
               "results_per_s": round(done / seconds, 1) if seconds else 0,
               "answers_per_s": round(len(lat) / seconds, 1) if seconds else 0,
               "statuses": {str(k): v for k, v in sorted(self.statuses.items())}, "results": self.final,
               "connection_errors": self.errors,
               "latency_ms": {"p50": pct(50), "p95": pct(95), "p99": pct(99), "max": pct(100)}}
        if offered is not None:
            out["offered_per_s"] = offered
        return out


async def _connect(host, port):
    return await asyncio.open_connection(host, port, limit=1 << 20)


async def _saturation(host, port, key, merchant, count, connections, prefix):
    tally = Tally()
    rng = random.Random(1)
    next_id = iter(range(count))

    async def worker():
        reader, writer = await _connect(host, port)
        try:
            for i in next_id:
                req = request_bytes(host, port, key, merchant, f"{prefix}-{i}", rng)
                t = time.perf_counter()
                writer.write(req)
                try:
                    status, body = await read_response(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    tally.errors += 1
                    writer.close()
                    reader, writer = await _connect(host, port)
                    continue
                tally.add(status, body, time.perf_counter() - t)
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return tally.summary(time.perf_counter() - t0)


async def _fixed_rate(host, port, key, merchant, rate, seconds, connections, prefix):
    tally = Tally()
    rng = random.Random(2)
    total = int(rate * seconds)
    queue = asyncio.Queue()

    async def worker():
        reader, writer = await _connect(host, port)
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                i, scheduled = item
                writer.write(request_bytes(host, port, key, merchant, f"{prefix}-{i}", rng))
                try:
                    status, body = await read_response(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    tally.errors += 1
                    writer.close()
                    reader, writer = await _connect(host, port)
                    continue
                tally.add(status, body, time.perf_counter() - scheduled)
        finally:
            writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    t0 = time.perf_counter()
    for i in range(total):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((i, scheduled))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return tally.summary(time.perf_counter() - t0, offered=rate)


def run_saturation(host, port, key, merchant, count, connections, prefix):
    return asyncio.run(_saturation(host, port, key, merchant, count, connections, prefix))


def run_fixed_rate(host, port, key, merchant, rate, seconds, connections, prefix):
    return asyncio.run(_fixed_rate(host, port, key, merchant, rate, seconds, connections, prefix))
