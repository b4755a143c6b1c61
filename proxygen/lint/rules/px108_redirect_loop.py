"""PX108: redirects that lead back to where they started (the browser gives up: too many redirects)."""

from __future__ import annotations

from proxygen.lint.rule import Hit, Rule
from proxygen.lint.rules._shared import describe, followed_redirects


def check(ctx):
    for source, redirect, walks in followed_redirects(ctx):
        for hops, loop in walks:
            if loop and (hops[-1][0].site, hops[-1][0].loc) == (redirect.site, redirect.loc):
                path = " -> ".join(url for _, url in hops if url)
                yield Hit(source, redirect.loc,
                          f"redirect loop: {path} comes back to {describe(redirect)}; "
                          f"point one of these redirects at the final URL")
                break


RULE = Rule(
    code="PX108", name="redirect-loop", severity="error",
    summary="A redirect leads, through other sites' redirects, back to itself.",
    doc="""A redirect-only site or a redirect location sends clients to a URL; when the site answering that URL
redirects (its `redirect:`, the location that URL selects, or the generated http -> https redirect) and
the chain comes back to the first redirect, every request bounces until the browser stops with "too
many redirects", and crawlers and monitoring see the site as down. Lint follows redirects by server
name (exact names, then `*.x` and `x.*` wildcards) across every declared site, choosing the location
each URL selects with nginx's algorithm. Fix: make one redirect of the cycle point at the URL that
actually serves the content.""",
    check=check,
)
