"""The --json output of `proxygen crawlers analyze`: a documented, stable schema.

    {
      "schema": "proxygen/crawlers-analyze/v1",
      "summary": {
        "files": [...], "format": "main",
        "lines_read": int, "parsed": int, "malformed": int, "filtered_out": int,
        "malformed_samples": ["file:line: text", ...], "messages": [...],
        "time_range": {"first": ISO-8601 UTC | null, "last": ISO-8601 UTC | null},
        "requests": int, "ips": int, "asn_db": path | null,
        "findings": int, "rules": int        # findings proposing block/throttle
      },
      "findings": [                          # ranked: blocks, throttles, observations; then score
        {
          "key_type": "ip" | "cidr" | "asn" | "ua", "key": str,
          "action": "block" | "throttle" | "observe",
          "proposed_action": same values,    # before allowlists
          "allowlisted": str | null,         # why it may not become a rule
          "score": 0-100, "why": str,        # one plain-language sentence
          "detectors": [{"name", "action", "strength", "numbers": {...}, "why"}],
          "requests": int, "share": float (0-1), "ips": int,
          "asn": int | null, "asn_org": str | null,
          "first_seen": ISO-8601 | null, "last_seen": ISO-8601 | null,
          "ua_match": "contains" | "exact" | null,   # for key_type ua
          "user_agents": [str], "samples": [str]      # samples: combined-format lines
        }
      ]
    }

Fields are only ever added within v1; a removal or change of meaning bumps the version.
"""

from __future__ import annotations

import json

from proxygen.analyze.findings import iso

SCHEMA = "proxygen/crawlers-analyze/v1"


def document(analysis) -> dict:
    s = analysis.summary
    return {
        "schema": SCHEMA,
        "summary": {
            "files": s.files, "format": s.format,
            "lines_read": s.lines_read, "parsed": s.parsed, "malformed": s.malformed,
            "filtered_out": s.filtered_out, "malformed_samples": s.malformed_samples, "messages": s.messages,
            "time_range": {"first": iso(s.first_time), "last": iso(s.last_time)},
            "requests": s.requests, "ips": s.ips, "asn_db": s.asn_db,
            "findings": len(analysis.findings),
            "rules": sum(1 for f in analysis.findings if f.action != "observe"),
        },
        "findings": [f.to_json() for f in analysis.findings],
    }


def render(analysis) -> str:
    return json.dumps(document(analysis), indent=2, ensure_ascii=False, default=str) + "\n"
