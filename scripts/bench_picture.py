"""The picture of a scripts/bench report: an SVG with end-to-end latency percentiles against
offered load for each layout (left) and CPU microseconds per payment for each process (right).
Plain SVG text, no plotting library."""
import html
import math

W, H = 1100, 470
PAD = 60
COLORS = {"p50": "#1b9e77", "p95": "#d95f02", "p99": "#7570b3"}
DASH = {"roles": "", "all": "6,4"}


def _text(x, y, s, size=12, anchor="start", weight="normal", color="#222"):
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{color}" font-family="sans-serif">{html.escape(str(s))}</text>')


def _nice_max(v):
    if v <= 0:
        return 1
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * e:
            return m * e
    return 10 * e


def latency_panel(layouts, x0, y0, w, h):
    """layouts: name → [(offered per s, {p50, p95, p99})]. Log-scaled offered load, linear ms."""
    out = []
    pts = [(r, lat) for rows in layouts.values() for r, lat in rows if r > 0]
    if not pts:
        return [_text(x0 + w / 2, y0 + h / 2, "no latency runs", anchor="middle")]
    rmin, rmax = min(r for r, _ in pts), max(r for r, _ in pts)
    lo, hi = math.log10(rmin) - 0.1, math.log10(max(rmax, rmin * 1.01)) + 0.1
    ymax = _nice_max(max(lat.get("p99", 0) for _, lat in pts))

    def X(r):
        return x0 + (math.log10(r) - lo) / (hi - lo) * w

    def Y(ms):
        return y0 + h - min(ms, ymax) / ymax * h

    out.append(f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#999"/>')
    for i in range(5):
        v = ymax * i / 4
        out.append(f'<line x1="{x0}" x2="{x0 + w}" y1="{Y(v):.1f}" y2="{Y(v):.1f}" stroke="#eee"/>')
        out.append(_text(x0 - 6, Y(v) + 4, f"{v:g}", size=11, anchor="end"))
    last = -1e9
    for r in sorted({r for r, _ in pts}):
        if X(r) - last >= 40:  # no labels on top of each other
            out.append(_text(X(r), y0 + h + 16, f"{r:,.0f}", size=11, anchor="middle"))
            last = X(r)
    out.append(_text(x0 + w / 2, y0 + h + 34, "offered payments/s (log scale)", anchor="middle"))
    out.append(_text(x0, y0 - 10, "end-to-end latency, ms", weight="bold"))
    for layout, rows in layouts.items():
        rows = sorted((r, lat) for r, lat in rows if r > 0)
        for q, color in COLORS.items():
            line = " ".join(f"{X(r):.1f},{Y(lat.get(q, 0)):.1f}" for r, lat in rows)
            out.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2" '
                       f'stroke-dasharray="{DASH.get(layout, "2,2")}"/>')
            for r, lat in rows:
                out.append(f'<circle cx="{X(r):.1f}" cy="{Y(lat.get(q, 0)):.1f}" r="3" fill="{color}"/>')
    ly = y0 + 8
    for q, color in COLORS.items():
        out.append(f'<line x1="{x0 + 10}" x2="{x0 + 34}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="2"/>')
        out.append(_text(x0 + 40, ly + 4, q, size=11))
        ly += 15
    for layout, label in (("roles", "solid: a process per role"), ("all", "dashed: turnout all")):
        if layout in layouts:
            out.append(_text(x0 + 10, ly + 4, label, size=11))
            ly += 15
    return out


def cpu_panel(cpu, x0, y0, w, h):
    """cpu: process name → µs per payment (largest first)."""
    out = [_text(x0, y0 - 10, "CPU per payment answered, µs (saturation run)", weight="bold")]
    items = sorted(cpu.items(), key=lambda kv: -kv[1])
    if not items:
        return out + [_text(x0 + w / 2, y0 + h / 2, "no CPU figures", anchor="middle")]
    vmax = _nice_max(max(v for _, v in items))
    label_w = 150
    bar_h = min(24, h / len(items) - 4)
    for i, (name, v) in enumerate(items):
        y = y0 + i * (bar_h + 4)
        bw = (w - label_w - 50) * v / vmax
        color = "#999" if name.startswith(("broker", "channel host", "load generator")) else "#3a6ea5"
        out.append(_text(x0 + label_w - 6, y + bar_h * 0.7, name, size=11, anchor="end"))
        out.append(f'<rect x="{x0 + label_w}" y="{y:.1f}" width="{bw:.1f}" height="{bar_h:.1f}" fill="{color}"/>')
        out.append(_text(x0 + label_w + bw + 4, y + bar_h * 0.7, f"{v:,.1f}", size=11))
    return out


def svg(title, layouts, cpu, footer=""):
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}">',
             f'<rect width="{W}" height="{H}" fill="white"/>',
             _text(PAD, 28, title, size=16, weight="bold")]
    parts += latency_panel(layouts, PAD, 70, 430, 320)
    parts += cpu_panel(cpu, 560, 70, 500, 340)
    if footer:
        parts.append(_text(PAD, H - 12, footer, size=11, color="#555"))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
