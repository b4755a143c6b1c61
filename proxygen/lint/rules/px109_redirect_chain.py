"""PX109: a redirect to a URL that redirects again (two hops where one would do)."""

from __future__ import annotations

from proxygen.lint.rule import Hit, Rule
from proxygen.lint.rules._shared import describe, followed_redirects


def check(ctx):
    for source, redirect, walks in followed_redirects(ctx):
        for hops, loop in walks:
            if len(hops) < 2:
                continue
            if loop and any((r.site, r.loc) == (redirect.site, redirect.loc) for r, _ in hops[1:]):
                continue  # part of a loop: PX108
            final = next((url for _, url in reversed(hops) if url), hops[-1][1])
            advice = "which ends in a redirect loop (PX108)" if loop else f"redirect to {final} directly"
            yield Hit(source, redirect.loc,
                      f"redirect chain: {hops[0][1]} is redirected again by {describe(hops[1][0])}"
                      f"{' (and further)' if len(hops) > 2 else ''}; {advice}")
            break


RULE = Rule(
    code="PX109", name="redirect-chain", severity="warning",
    summary="A redirect points at a URL that is itself redirected (a redirect-only site, a redirect location, http -> https).",
    doc="""Each hop costs the client a round trip (a TLS handshake when the host changes), and search engines
follow only a few hops and may drop the page. Chains appear when a service moves twice, or when a
redirect targets `http://` on a site that redirects to https. Lint follows the target by server name
and the location it selects; it reports the first redirect of a chain and the URL where the chain
ends. Fix: point the redirect at that final URL.""",
    check=check,
)
