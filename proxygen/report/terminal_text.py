"""Text from logs and blocklists made safe to show on a terminal.

Whoever sends a request writes part of the access log: a user agent or a path can carry terminal
escape sequences (ESC [ ... moves the cursor or hides text, ESC ] retitles the window), carriage
returns that overwrite what was printed, Unicode line separators, and bidirectional overrides
that show text in another order than it is stored. nginx escapes control characters in its logs
(escape=default writes `\\x1B`), but Apache logs, `escape=none` formats and binary junk do not,
and blocklist reasons quote user agents. Everything the CLI prints from such sources goes through
`terminal_safe`, which writes those characters the way nginx does, as visible escapes.
"""

from __future__ import annotations

import re

#: C0 controls but tab and newline, DEL and C1 controls, the Unicode line and paragraph separators,
#: bidirectional marks, embeddings, overrides and isolates, and the byte-order mark.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                     "\u2066-\u2069\ufeff]")


def _escaped(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02X}" if code < 0x100 else f"\\u{code:04X}"


def terminal_safe(text: str) -> str:
    """`text` with every character that could change what a terminal shows written as `\\xHH` or
    `\\uHHHH` (tabs and newlines are kept: callers print multi-line messages)."""
    return _UNSAFE.sub(_escaped, text)
