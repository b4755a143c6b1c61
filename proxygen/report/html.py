"""The --html report: one self-contained file (inline CSS and SVG, no script, no network).

It shows the summary, a requests-per-minute timeline of all traffic and of the top findings (inline
SVG, so it renders anywhere, offline, and survives being mailed around), and the findings table with
each finding's evidence and sample lines. Every value from the logs is HTML-escaped.
"""

from __future__ import annotations

from html import escape as _html_escape

from proxygen.analyze.findings import iso
from proxygen.report.table import summary_line
from proxygen.report.terminal_text import terminal_safe


def escape(value) -> str:
    """HTML-escaped text, with the controls and bidi overrides a log line may carry shown as escapes
    (`terminal_safe`): a user agent must not reorder or hide the text around it in the report."""
    return _html_escape(terminal_safe(str(value)))

COLORS = ["#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
W, H, PAD_L, PAD_B, PAD_T, PAD_R = 960, 280, 56, 28, 12, 12

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px} h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;width:100%} th,td{border:1px solid #ddd;padding:4px 6px;vertical-align:top}
th{background:#f4f4f4;text-align:left} td.num{text-align:right;white-space:nowrap}
.block{color:#b00020;font-weight:bold} .throttle{color:#a36200;font-weight:bold} .observe{color:#666}
details pre{white-space:pre-wrap;word-break:break-all;font-size:12px;background:#f8f8f8;padding:6px}
.legend span{display:inline-block;margin-right:14px} .legend i{display:inline-block;width:12px;height:3px;
vertical-align:middle;margin-right:4px}
svg text{font-size:11px;fill:#555}
"""


def _points(frame, t0: float, t1: float, ymax: float) -> str:
    span = max(t1 - t0, 60.0)
    pts = []
    for minute, requests in frame.select("minute", "requests").iter_rows():
        x = PAD_L + (minute.timestamp() - t0) / span * (W - PAD_L - PAD_R)
        y = H - PAD_B - (requests / ymax) * (H - PAD_B - PAD_T)
        pts.append(f"{x:.1f},{y:.1f}")
    return " ".join(pts)


def timeline_svg(analysis) -> str:
    """An inline SVG line chart: total requests per minute and those of the top findings."""
    total = analysis.timeline
    if total is None or total.height == 0:
        return '<svg id="timeline" class="timeline" width="%d" height="40"><text x="8" y="24">no timed requests</text></svg>' % W
    t0 = total["minute"].min().timestamp()
    t1 = total["minute"].max().timestamp()
    ymax = max(float(total["requests"].max() or 1), 1.0)
    lines = [f'<polyline class="series total" fill="none" stroke="#1f77b4" stroke-width="1.5" '
             f'points="{_points(total, t0, t1, ymax)}"><title>all requests</title></polyline>']
    legend = ['<span><i style="background:#1f77b4"></i>all requests</span>']
    for i, (name, frame) in enumerate(analysis.series.items()):
        if frame is None or frame.height == 0:
            continue
        color = COLORS[i % len(COLORS)]
        # minutes without requests of this key are zeros, not a line drawn across the gap
        frame = (total.select("minute").join(frame.select("minute", "requests"), on="minute", how="left")
                 .fill_null(0))
        lines.append(f'<polyline class="series finding" fill="none" stroke="{color}" stroke-width="1.2" '
                     f'points="{_points(frame, t0, t1, ymax)}"><title>{escape(name)}</title></polyline>')
        legend.append(f'<span><i style="background:{color}"></i>{escape(name)}</span>')
    axes = [
        f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}" stroke="#999"/>',
        f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{H - PAD_B}" stroke="#999"/>',
        f'<text x="4" y="{PAD_T + 10}">{int(ymax):,}/min</text>',
        f'<text x="4" y="{H - PAD_B}">0</text>',
        f'<text x="{PAD_L}" y="{H - 8}">{escape(iso(total["minute"].min()) or "")}</text>',
        f'<text x="{W - PAD_R}" y="{H - 8}" text-anchor="end">{escape(iso(total["minute"].max()) or "")}</text>',
    ]
    return (f'<svg id="timeline" class="timeline" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
            f'viewBox="0 0 {W} {H}" role="img" aria-label="requests per minute">{"".join(axes)}{"".join(lines)}'
            f'</svg><div class="legend">{"".join(legend)}</div>')


def _finding_row(i: int, f) -> str:
    key = f"AS{f.key}" if f.key_type == "asn" else (f.key if f.key else "(empty)")
    asn = f"AS{f.asn} {f.asn_org or ''}".strip() if f.asn is not None else "-"
    action = f.action + (" (allowlisted)" if f.allowlisted else "")
    evidence = "\n".join(f"{h.detector} [{h.action}, strength {h.strength:.2f}]: {h.why}\n    {h.numbers}"
                         for h in f.detectors)
    samples = "\n".join(f.samples) or "(none kept)"
    return (
        f'<tr class="finding" data-key-type="{escape(f.key_type)}" data-action="{escape(f.action)}">'
        f'<td class="num">{i}</td><td class="{escape(f.action)}">{escape(action)}</td>'
        f'<td>{escape(f.key_type)}</td><td><code>{escape(key)}</code></td><td class="num">{f.score}</td>'
        f'<td class="num">{f.requests:,}</td><td class="num">{f.share:.1%}</td><td class="num">{f.ips:,}</td>'
        f'<td>{escape(asn)}</td><td>{escape(iso(f.first_seen) or "-")}<br>{escape(iso(f.last_seen) or "-")}</td>'
        f'<td>{escape(f.why)}<details><summary>evidence and samples</summary><pre>{escape(evidence)}</pre>'
        f'<pre>{escape(samples)}</pre></details></td></tr>'
    )


def render(analysis, title: str = "proxygen crawler analysis") -> str:
    s = analysis.summary
    rows = "\n".join(_finding_row(i, f) for i, f in enumerate(analysis.findings, 1))
    if not rows:
        rows = '<tr><td colspan="11">No findings.</td></tr>'
    notes = "".join(f"<li>{escape(m)}</li>" for m in s.messages + [f"malformed: {x}" for x in s.malformed_samples])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{escape(title)}</title><style>{CSS}</style></head>
<body>
<h1>{escape(title)}</h1>
<p id="summary">{escape(summary_line(analysis))}</p>
<p>Files: {escape(", ".join(s.files))}</p>
{f"<ul>{notes}</ul>" if notes else ""}
<h2>Requests per minute</h2>
{timeline_svg(analysis)}
<h2>Findings</h2>
<table id="findings">
<thead><tr><th>#</th><th>action</th><th>type</th><th>key</th><th>score</th><th>requests</th><th>share</th>
<th>IPs</th><th>ASN</th><th>first / last seen</th><th>why</th></tr></thead>
<tbody>
{rows}
</tbody></table>
</body></html>
"""
