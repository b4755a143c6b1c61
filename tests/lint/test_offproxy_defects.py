"""OFF's proxy defects (reference off-proxy.md sections 2-4), re-created as a contributor would write them.

Each case writes the closest declaration to today's defect into a copy of fixtures/_base, lints it,
and asserts the exact finding: code, file and line (the line marked `# <-` in the declaration), and
nothing else. Where the model makes the defect unexpressible, the attempt itself is refused (PX001)
at the line of the attempt. Two defects live only in generated config (an `access_log off` beside a
conditional log, `limit_req_dry_run` at http level): no declaration produces them, so their rules
are also run on a built host whose generated file is edited the way today's files are.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from proxygen.lint import lint
from tests.lint.fixtures import FIXTURES, TODAY, reported

MARK = "# <-"

PROXYGEN_TWO_SITES = """\
hosts:
  edge:
    nginx_version: 1.22.1
    sites: [app, {other}]
log_formats:
  main: '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_user_agent"'
rate_limit_zones:
  per-ip: {{key: $binary_remote_addr, rate: 15r/m}}
header_sets:
  backend:
    Host: $host
    X-Real-IP: $remote_addr
error_pages:
  503: 503.html
pages: [stop-crawling.txt]
"""

APP_HEAD = """\
server_names: [app.example.org]
tls: {certificate: app.example.org}
header_set: backend
error_pages: [503]
upstreams:
  app: {servers: [{address: "10.0.0.1:8080"}]}
"""

APP_ROOT_LOCATION = """\
locations:
  - path: /
    rate_limits: [{zone: per-ip, burst: 10, nodelay: true}]
    rate_limit_status: 429
    proxy: {upstream: app}
"""


def repo_with(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURES / "_base", root)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def marked(root: Path, code: str) -> set[tuple[str, int, str]]:
    """(file, line, code) of every line marked `# <-` in the repository's files."""
    out = set()
    for path in sorted(root.rglob("*.yml")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if MARK in line:
                out.add((path.relative_to(root).as_posix(), number, code))
    return out


def assert_only(root: Path, code: str):
    report = lint(root, today=TODAY)
    want = marked(root, code)
    assert want, "the case marks no line"
    assert reported(report, root) == want, "\n".join(str(f) for f in report.findings)
    return report


# --- section 2: cross-file couplings ----------------------------------------------------------

def test_upstream_borrowed_from_another_file_is_undefined(tmp_path):
    """Today one vhost proxies to an upstream another vhost defines: removing that file breaks it."""
    root = repo_with(tmp_path, {
        "proxygen.yml": PROXYGEN_TWO_SITES.format(other="shop"),
        "sites/shop.yml": """\
            server_names: [shop.example.org]
            tls: {certificate: shop.example.org}
            locations:
              - path: /
                proxy: {upstream: app}  # <- app is declared by sites/app.yml
            """,
    })
    report = assert_only(root, "PX102")
    assert "unknown upstream 'app'" in report.findings[0].message


def test_same_map_variable_in_two_files_is_defined_twice(tmp_path):
    """Today several sibling vhosts each define `map $cookie_session $auth`; the last one wins."""
    root = repo_with(tmp_path, {
        "proxygen.yml": PROXYGEN_TWO_SITES.format(other="sibling"),
        "sites/app.yml": APP_HEAD + """\
            maps:
              - {variable: $auth, source: $cookie_session, default: "1", entries: [{exact: "", value: "0"}]}
            """.replace("            ", "") + APP_ROOT_LOCATION,
        "sites/sibling.yml": """\
            server_names: [sibling.example.org]
            tls: {certificate: sibling.example.org}
            maps:
              - variable: $auth  # <-
                source: $cookie_session_id
                default: "1"
            upstreams:
              po: {servers: [{address: "10.0.0.2:8080"}]}
            locations:
              - path: /
                proxy: {upstream: po}
            """,
    })
    report = assert_only(root, "PX103")
    assert "also defined by site app" in report.findings[0].message


def test_listen_443_without_ssl_cannot_be_declared(tmp_path):
    """Today a vhost says `listen 443;` and works only because another vhost on the socket has `ssl`."""
    root = repo_with(tmp_path, {
        "sites/app.yml": APP_HEAD.replace("tls: {certificate: app.example.org}\n", "") + """\
            directives:
              - {name: listen, args: ["443"]}  # <-
            """.replace("            ", "") + APP_ROOT_LOCATION,
    })
    report = assert_only(root, "PX001")
    assert "listen cannot be set through directives" in report.findings[0].message


def test_same_server_name_in_two_files_clashes(tmp_path):
    """Today two files declare prices.openfoodfacts.org; nginx warns and ignores one."""
    root = repo_with(tmp_path, {
        "proxygen.yml": PROXYGEN_TWO_SITES.format(other="prices-old"),
        "sites/prices-old.yml": """\
            server_names:
              - old-prices.example.org
              - app.example.org  # <-
            redirect: {to: "https://app.example.org"}
            """,
    })
    report = assert_only(root, "PX101")
    assert "also served by site app" in report.findings[0].message


# --- sections 3 and 4: logs and dry-runs ------------------------------------------------------

def test_access_log_off_beside_a_conditional_log_cannot_be_declared(tmp_path):
    """Today `access_log off;` sits beside the conditional log of some sibling vhosts and cancels it."""
    root = repo_with(tmp_path, {
        "sites/app.yml": APP_HEAD + """\
            logs:
              access: {format: main, if: $proxygen_allowlisted}
            directives:
              - {name: access_log, args: ["off"]}  # <-
            """.replace("            ", "") + APP_ROOT_LOCATION,
    })
    report = assert_only(root, "PX001")
    assert "access_log cannot be set through directives" in report.findings[0].message


def test_conditional_log_on_an_undefined_variable_is_refused_at_its_line(tmp_path):
    """The other way a conditional log records nothing: its variable is a typo nginx will not know
    (even one that looks like proxygen's own $proxygen_allowlisted)."""
    root = repo_with(tmp_path, {
        "sites/app.yml": APP_HEAD + """\
            logs:
              access: {format: main, if: $proxygen_allowlist}  # <-
            """.replace("            ", "") + APP_ROOT_LOCATION,
    })
    assert_only(root, "PX104")


def test_generated_access_log_off_beside_another_is_reported_at_logs(tmp_path):
    """The generated-config check itself, on today's shape: a built server block edited to hold
    `access_log off;` beside its access_log (as the sibling vhosts have it)."""
    root = repo_with(tmp_path, {
        "sites/app.yml": APP_HEAD + """\
            logs:  # <-
              access: {format: main, if: $proxygen_allowlisted}
            """.replace("            ", "") + APP_ROOT_LOCATION,
    })
    ctx = _built(root)
    files = ctx.build.hosts["edge"].files
    files["sites/app.conf"] = files["sites/app.conf"].replace("    error_log ", "    access_log off;\n    error_log ", 1)
    assert_hits(ctx, "px106_access_log_cancelled", root, "PX106", "turns every access log of the block off")


def test_generated_access_log_off_at_http_level_cancels_the_host_log(tmp_path):
    """A site file's top level is inside nginx.conf's http block: `access_log off` there sits beside
    the host-wide access_log (includes are followed as nginx reads them)."""
    root = repo_with(tmp_path, {
        # no `logs:` key here: the finding is reported where the site's declaration starts
        "sites/app.yml": APP_HEAD.replace("]\n", "]  # <-\n", 1) + APP_ROOT_LOCATION,
    })
    ctx = _built(root)
    files = ctx.build.hosts["edge"].files
    files["sites/app.conf"] = "access_log off;\n" + files["sites/app.conf"]
    assert_hits(ctx, "px106_access_log_cancelled", root, "PX106", "in the same http block")


def test_dry_run_at_http_level_cannot_be_declared(tmp_path):
    """Today the images limits' `limit_req_dry_run on;` sits at http level and leaks to every vhost.
    Declarations reach server and location blocks only, and not through directives."""
    root = repo_with(tmp_path, {
        "sites/app.yml": APP_HEAD + """\
            directives:
              - {name: limit_req_dry_run, args: ["on"]}  # <-
            """.replace("            ", "") + APP_ROOT_LOCATION,
    })
    report = assert_only(root, "PX001")
    assert "use rate_limit_dry_run" in report.findings[0].message


def test_generated_dry_run_at_http_level_is_reported(tmp_path):
    """The generated-config check itself: nginx.conf's http block edited to hold limit_req_dry_run."""
    root = repo_with(tmp_path, {})
    ctx = _built(root)
    files = ctx.build.hosts["edge"].files
    files["nginx.conf"] = files["nginx.conf"].replace("http {\n", "http {\n    limit_req_dry_run on;\n", 1)
    hits = list(_rule("px107_stale_dry_run").check(ctx))
    assert [(h.source, h.loc) for h in hits] == [("proxygen.yml", ())]
    assert "at http level" in hits[0].message and "nginx.conf:" in hits[0].message


def test_site_dry_run_without_a_date_is_reported(tmp_path):
    """Today's sibling sites: `limit_req_dry_run on` (240 r/m per IP), never enforced, no date."""
    root = repo_with(tmp_path, {
        "sites/app.yml": APP_HEAD + """\
            rate_limit_dry_run: true  # <-
            """.replace("            ", "") + APP_ROOT_LOCATION,
    })
    assert_only(root, "PX107")


def test_dry_run_forgotten_for_months_is_reported(tmp_path):
    """A dated dry-run, six months old on TODAY (2026-06-01), default limit 30 days."""
    root = repo_with(tmp_path, {
        "sites/app.yml": APP_HEAD + APP_ROOT_LOCATION + """\
              - path: /images/
                rate_limits: [{zone: per-ip, burst: 100}]
                rate_limit_dry_run: true
                rate_limit_dry_run_since: 2025-12-01  # <-
                proxy: {upstream: app}
            """.replace("            ", ""),
    })
    report = assert_only(root, "PX107")
    assert "since 2025-12-01 (182 days" in report.findings[0].message


def test_blocklist_dry_run_zone_forgotten_for_months_is_reported(tmp_path):
    root = repo_with(tmp_path, {
        "blocklists/manual.yml": """\
            zones:
              crawl: {rate: 30r/m, burst: 10, dry_run: true}  # <-
            entries:
              - cidr: 198.51.100.0/24
                action: throttle
                zone: crawl
                reason: "product pages crawled from one hosting range"
                created: 2026-01-10
            """,
    })
    report = assert_only(root, "PX107")
    assert "blocklists/manual.yml:" in report.findings[0].message


# --- helpers for the generated-config checks --------------------------------------------------

def _built(root: Path):
    from proxygen.compile.build import build
    from proxygen.lint.context import LintContext
    from proxygen.model import load_repository

    repo = load_repository(root)
    return LintContext(repo, build(repo, None), TODAY)


def _rule(module: str):
    import importlib

    return importlib.import_module(f"proxygen.lint.rules.{module}").RULE


def assert_hits(ctx, module: str, root: Path, code: str, text: str):
    hits = list(_rule(module).check(ctx))
    got = {(str(ctx.position(h.source, h.loc).file), ctx.position(h.source, h.loc).line, code) for h in hits}
    assert got == marked(root, code), [h.message for h in hits]
    assert all(text in h.message for h in hits)


@pytest.mark.parametrize("module", ["px106_access_log_cancelled", "px107_stale_dry_run"])
def test_generated_config_checks_are_silent_on_the_unedited_build(tmp_path, module):
    ctx = _built(repo_with(tmp_path, {}))
    assert list(_rule(module).check(ctx)) == []
