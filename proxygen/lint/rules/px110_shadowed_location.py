"""PX110: a location nginx's selection algorithm never picks, because another one always wins."""

from __future__ import annotations

from collections import Counter

from proxygen.lint.rule import Hit, Rule
from proxygen.lint.rules._shared import candidate_uris, select, site_locations

ACME_PATH = "/.well-known/acme-challenge/"


def check(ctx):
    for source, site in ctx.sites():
        locations = site_locations(site, ctx.settings)
        for loc in locations:
            if loc.index is None and loc.path != ACME_PATH:
                continue  # the generated exact page locations always win
            uris = candidate_uris(loc, locations)
            if not uris:  # a regex no sample could be generated for: no claim
                continue
            winners = [select(locations, uri) for uri in uris]
            if any(w == loc for w in winners):
                continue
            winner, _ = Counter(w for w in winners if w is not None).most_common(1)[0]
            example = uris[winners.index(winner)]
            if loc.index is None:
                yield Hit(source, ("tls", "acme_challenge"),
                          f"{loc.label} is never selected: {winner.label} wins (e.g. for {example}), so "
                          f"certificate renewals (ACME http-01) fail; make that location skip "
                          f"{ACME_PATH}, or set tls.redirect_http: true (port 80 then answers the challenges)")
                continue
            yield Hit(source, ("locations", loc.index, "path"),
                      f"{loc.label} is never selected: {winner.label} wins for the URIs it should serve "
                      f"(e.g. {example}); remove it, reorder the regexes, or change the match")


RULE = Rule(
    code="PX110", name="shadowed-location", severity="warning",
    summary="A location can never be selected: an exact, `^~` prefix or earlier regex location always wins.",
    doc="""nginx picks a location by an algorithm, not by file order: an exact match (`=`) wins; otherwise the
longest matching prefix is remembered, and if it is `^~` (match: prefix_priority) the search stops;
otherwise regex locations are tried in declaration order and the first match wins; only when none
matches does the longest prefix serve. So `location /api/` beside `location ~ ^/api` is dead wherever
it is written, as is a regex after a broader regex, or a regex for URIs under a `^~` prefix. Lint
replays the algorithm on the URIs each location is written for (its path and a path below it; for a
regex, strings generated from the pattern) and reports a location none of them reaches, naming the
winner. Fix: delete the dead location, move a narrower regex before the broader one, or use
match: prefix_priority / exact to take precedence over regexes. The ACME challenge location proxygen
generates on a TLS server that does not redirect port 80 is checked too: a regex such as `~ /\\.`
(deny dotfiles) takes it, and certificate renewals fail months later.""",
    check=check,
)
