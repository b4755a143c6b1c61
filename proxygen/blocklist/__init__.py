"""The blocklist store: blocklists/*.yml as the source of truth for block, throttle and tarpit rules.

Loading and validation (store), comment-preserving edits (edit), merging analyzer proposals (merge)
and the data the build renders (render). Never calls the analyzer; the analyzer hands it Proposals.
"""

from proxygen.blocklist.entry import Entry, ThrottleZone, parse_rate
from proxygen.blocklist.store import ANALYZER_FILE, MANUAL_FILE, Blocklist, load_blocklists

__all__ = ["ANALYZER_FILE", "MANUAL_FILE", "Blocklist", "Entry", "ThrottleZone", "load_blocklists", "parse_rate"]
