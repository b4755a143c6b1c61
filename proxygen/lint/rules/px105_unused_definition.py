"""PX105: something declared in proxygen.yml for sites to use, that nothing uses."""

from __future__ import annotations

from proxygen.lint.rule import Hit, Rule

# The crawler-defence tarpit rewrites to this page (proxygen/compile/build.py TARPIT_PAGE): declaring it
# is required before any site enables crawler_defence, so it counts as used by the blocklist.
_BLOCKLIST_PAGES = ("stop-crawling.txt",)


def _uses(ctx):
    zones, caches, header_sets, formats, codes, pages = set(), set(), set(), set(), set(), set(_BLOCKLIST_PAGES)
    formats.add(ctx.settings.http.access_log_format)
    for _, site in ctx.sites():
        for _, opts in site.all_options():
            zones.update(rl.zone for rl in opts.rate_limits)
            if opts.cache is not None:
                caches.add(opts.cache.zone)
            if opts.header_set is not None:
                header_sets.add(opts.header_set)
        if site.logs.access is not False:
            formats.add(site.logs.access.format)
        codes.update(site.error_pages)
        pages.update(site.pages)
    return zones, caches, header_sets, formats, codes, pages


def check(ctx):
    s = ctx.settings
    zones, caches, header_sets, formats, codes, pages = _uses(ctx)
    for name in s.rate_limit_zones:
        if name not in zones:
            yield Hit("proxygen.yml", ("rate_limit_zones", name),
                      f"rate-limit zone {name} is used by no site (rate_limits: [{{zone: {name}}}]); remove it")
    for name in s.cache_zones:
        if name not in caches:
            yield Hit("proxygen.yml", ("cache_zones", name), f"cache zone {name} is used by no site (cache: {{zone: {name}}}); remove it")
    for name in s.header_sets:
        if name not in header_sets:
            yield Hit("proxygen.yml", ("header_sets", name), f"header set {name} is used by no site (header_set: {name}); remove it")
    for name in s.log_formats:
        if name not in formats:
            yield Hit("proxygen.yml", ("log_formats", name),
                      f"log format {name} is used by no site (logs.access.format) nor http.access_log_format; "
                      f"every host still declares it; remove it")
    for code in s.error_pages:
        if code not in codes:
            # keys are stored as written: `503:` is the string "503" in the key path
            yield Hit("proxygen.yml", ("error_pages", str(code)),
                      f"error page {code} is used by no site (error_pages: [{code}]); remove it")
    for i, page in enumerate(s.pages):
        if page not in pages:
            yield Hit("proxygen.yml", ("pages", i), f"page {page} is served by no site (pages: [{page}]); remove it")


RULE = Rule(
    code="PX105", name="unused-definition", severity="warning",
    summary="A rate-limit zone, cache zone, header set, log format, error page or page in proxygen.yml is used by no site.",
    doc="""proxygen.yml holds what sites share, referenced by name. A definition nothing references is dead
weight that readers take for live configuration: a zone someone tunes during an incident with no effect,
a header set believed to reach a backend, a log format declared on every host. It is usually the
leftover of a site that was removed or renamed (or a reference that was mistyped and fixed elsewhere).
Remove the definition, or reference it from the site that should use it. The host-wide log format
(`http.access_log_format`) and the crawler-defence tarpit page (stop-crawling.txt) count as used. A log
format kept only so `crawlers analyze --format NAME` can read another server's logs is not used by
any host: say so with a `lint_ignore` entry in proxygen.yml.""",
    check=check,
)
