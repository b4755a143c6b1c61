"""The terminal report: a summary line and a ranked table of findings (rich; plain text when piped)."""

from __future__ import annotations

from proxygen.analyze.findings import iso
from proxygen.report.terminal_text import terminal_safe

ACTION_STYLE = {"block": "bold red", "throttle": "yellow", "observe": "dim"}


def _key(f) -> str:
    if f.key_type == "asn":
        return f"AS{f.key}"
    if f.key_type == "ua":
        return repr(f.key) if f.key else "'' (empty)"
    return f.key


def summary_line(analysis) -> str:
    s = analysis.summary
    span = f"{iso(s.first_time)} .. {iso(s.last_time)}" if s.first_time else "no parsed lines"
    rules = sum(1 for f in analysis.findings if f.action != "observe")
    outside = f", {s.filtered_out:,} outside --since/--until" if s.filtered_out else ""
    return (f"{s.lines_read:,} lines read, {s.parsed:,} parsed, {s.malformed:,} malformed{outside} ({s.format}); "
            f"{span}; {s.requests:,} requests from {s.ips:,} IPs; "
            f"{len(analysis.findings)} findings, {rules} proposed rules")


def render_plain(analysis, top: int = 50) -> str:
    """The same report as text, one finding per paragraph (for pipes, mail and grep)."""
    lines = [summary_line(analysis)]
    lines += [f"note: {msg}" for msg in analysis.summary.messages]
    if not analysis.findings:
        lines.append("No findings.")
    for i, f in enumerate(analysis.findings[:top], 1):
        asn = f"AS{f.asn} {f.asn_org or ''}".strip() if f.asn is not None else "-"
        action = f.action + (" (allowlisted)" if f.allowlisted else "")
        lines.append(f"{i}. {action} {f.key_type} {_key(f)}  score {f.score}  requests {f.requests:,} "
                     f"({f.share:.1%})  IPs {f.ips:,}  ASN {asn}  [{', '.join(h.detector for h in f.detectors)}]")
        lines.append(f"   {f.why}")
    if len(analysis.findings) > top:
        lines.append(f"... {len(analysis.findings) - top} more findings (use --top or --json)")
    return "\n".join(lines) + "\n"


def render(analysis, console, top: int = 50) -> None:
    """A rich table on a terminal; `render_plain` text otherwise. Keys and reasons come from logs:
    they are shown as text, never read as rich markup or terminal control (`terminal_safe`)."""
    from rich.table import Table
    from rich.text import Text

    if not console.is_terminal:
        console.file.write(terminal_safe(render_plain(analysis, top)))
        return
    console.print(summary_line(analysis), markup=False, highlight=False)
    for msg in analysis.summary.messages:
        console.print(terminal_safe(f"note: {msg}"), markup=False)
    if not analysis.findings:
        console.print("No findings.", markup=False)
        return
    table = Table(show_lines=True, expand=False)
    for name, kw in (("#", {"justify": "right"}), ("action", {}), ("key", {"overflow": "fold", "max_width": 42}),
                     ("score", {"justify": "right"}), ("requests", {"justify": "right"}),
                     ("share", {"justify": "right"}), ("IPs", {"justify": "right"}),
                     ("ASN", {"overflow": "fold", "max_width": 24}), ("detectors", {}),
                     ("why", {"overflow": "fold", "min_width": 30})):
        table.add_column(name, **kw)
    for i, f in enumerate(analysis.findings[:top], 1):
        action = f.action + (" (allowlisted)" if f.allowlisted else "")
        asn = f"AS{f.asn} {f.asn_org or ''}".strip() if f.asn is not None else "-"
        table.add_row(str(i), Text(action, style=ACTION_STYLE[f.action]),
                      Text(terminal_safe(f"{f.key_type} {_key(f)}")), str(f.score), f"{f.requests:,}",
                      f"{f.share:.1%}", f"{f.ips:,}", Text(terminal_safe(asn)),
                      ", ".join(h.detector for h in f.detectors), Text(terminal_safe(f.why)))
    console.print(table)
    if len(analysis.findings) > top:
        console.print(f"... {len(analysis.findings) - top} more findings (use --top or --json)", markup=False)
