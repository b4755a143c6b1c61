"""Build behaviour: deterministic, written atomically and only when changed, re-checked before writing."""

from __future__ import annotations

import copy
import os

import pytest

from proxygen.compile import render as render_mod
from proxygen.compile.build import build
from proxygen.compile.check import CheckError, check_directives, parse
from proxygen.compile.output import write_build
from proxygen.compile.render import TemplateBug
from proxygen.errors import DeclarationError, ProxygenError
from proxygen.model import load_repository

from .conftest import FULL_SITE, SETTINGS, write_repo


def test_build_is_byte_identical_on_rebuild(repo_dir):
    a = build(load_repository(repo_dir))
    b = build(load_repository(repo_dir))
    assert a.hosts.keys() == b.hosts.keys()
    for host in a.hosts:
        assert a.hosts[host].files == b.hosts[host].files


def test_only_changed_files_are_rewritten_and_stale_ones_removed(repo_dir, tmp_path):
    out = tmp_path / "out"
    first = write_build(build(load_repository(repo_dir)), out)
    assert "edge/sites/full.conf" in first.written and "edge/nginx.conf" in first.written
    site_file = out / "edge" / "sites" / "full.conf"
    mtime = site_file.stat().st_mtime_ns
    second = write_build(build(load_repository(repo_dir)), out)
    assert second.written == [] and second.removed == [] and len(second.unchanged) == len(first.written)
    assert site_file.stat().st_mtime_ns == mtime

    site = copy.deepcopy(FULL_SITE)
    site["client_max_body_size"] = "30M"
    write_repo(repo_dir, sites={"full": site})
    third = write_build(build(load_repository(repo_dir)), out)
    assert third.written == ["edge/sites/full.conf"]
    assert "client_max_body_size 30M;" in site_file.read_text()

    # a site leaves the host: its file goes, a file proxygen did not write stays
    (out / "edge" / "notes.txt").write_text("mine")
    settings = copy.deepcopy(SETTINGS)
    settings["hosts"]["edge"]["sites"] = []
    write_repo(repo_dir, settings=settings, sites={"full": site})
    fourth = write_build(build(load_repository(repo_dir)), out)
    assert fourth.removed == ["edge/sites/full.conf"]
    assert not site_file.exists() and (out / "edge" / "notes.txt").read_text() == "mine"


def test_failed_build_leaves_previous_output_untouched(repo_dir, tmp_path):
    out = tmp_path / "out"
    write_build(build(load_repository(repo_dir)), out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    site = copy.deepcopy(FULL_SITE)
    site["locations"][0]["proxy"]["upstream"] = "missing"
    write_repo(repo_dir, sites={"full": site})
    with pytest.raises(DeclarationError):
        write_build(build(load_repository(repo_dir)), out)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_http2_form_follows_the_target_version(repo_dir):
    settings = copy.deepcopy(SETTINGS)
    settings["hosts"]["old"]["sites"] = ["full"]
    settings["hosts"]["edge"]["sites"] = []
    write_repo(repo_dir, settings=settings)
    old = build(load_repository(repo_dir)).hosts["old"].files["sites/full.conf"]
    assert "listen 443 ssl http2;" in old and "http2 on;" not in old
    settings["hosts"]["old"]["nginx_version"] = "1.25.1"
    write_repo(repo_dir, settings=settings)
    new = build(load_repository(repo_dir)).hosts["old"].files["sites/full.conf"]
    assert "listen 443 ssl;" in new and "    http2 on;" in new


def test_directive_newer_than_the_target_is_refused(repo_dir):
    site = copy.deepcopy(FULL_SITE)
    site["directives"].append({"name": "http2_max_concurrent_streams", "args": ["64"]})
    settings = copy.deepcopy(SETTINGS)
    settings["hosts"]["edge"]["nginx_version"] = "1.22.1"
    write_repo(repo_dir, settings=settings, sites={"full": site})
    with pytest.raises(CheckError, match=r"http2_max_concurrent_streams needs nginx >= 1\.25\.1; the host targets 1\.22\.1"):
        build(load_repository(repo_dir))


def test_directive_table_checks_context_and_arguments():
    tree = parse("http { server { listen 80; proxy_pass http://x; limit_req_dry_run on on; } }\n"
                 "events { }\nhttp2 on;\nmap $a $b { default 0; ~weird-entry any thing; }\n", "t.conf")
    problems = [str(p) for p in check_directives(tree, "t.conf", (1, 25, 1))]
    assert "t.conf:1: proxy_pass is not allowed in server" in problems
    assert "t.conf:1: limit_req_dry_run takes 1 argument(s), got 2" in problems
    assert "t.conf:3: http2 is not allowed in main" in problems
    assert "t.conf:4: map is not allowed in main" in problems
    assert not any("weird-entry" in p for p in problems)  # map bodies are data
    assert len(problems) == 4
    assert check_directives(parse("ssl_reject_handshake on;\n", "x"), "x", (1, 19, 3), "server")[0].message == \
        "ssl_reject_handshake needs nginx >= 1.19.4; the host targets 1.19.3"


@pytest.mark.parametrize("source", [
    "x {{ v }};",
    "x {{ v ~ 'y' }};",
    "x {{ v ~ (v|q) }};",                  # concatenation with a quoted value (markup_join)
    "x {{ (v|q) + v }};",
    "x {{ (v|q)|replace('a', 'b') }};",
    "x {{ (v|q)|upper }};",
    "x {{ [v, v|q]|join(' ') }};",
    "x {{ v|safe }};",
    "x {{ v|e }};",
    "{% macro m() %}y{% endmacro %}x {{ m() ~ v }};",
    "{% macro m() %}y{% endmacro %}x {{ m() + v }};",
])
def test_a_template_cannot_print_a_raw_value(source):
    env = render_mod.environment()
    funnel = render_mod.Funnel()
    render_mod._current.append(funnel)
    try:
        with pytest.raises(TemplateBug, match="unquoted value"):
            env.from_string(source).render(v="a; b")
    finally:
        render_mod._current.pop()


def test_what_a_template_may_print():
    env = render_mod.environment()
    funnel = render_mod.Funnel()
    render_mod._current.append(funnel)
    try:
        assert env.from_string("x {{ v|q }} {{ n }} {{ b|onoff }};").render(v="a; b", n=3, b=True) == "x __pgq0__ 3 on;"
        assert env.from_string("{% macro m(v) %}y {{ v|q }}{% endmacro %}{{ m(v) }};").render(v="z") == "y __pgq1__;"
    finally:
        render_mod._current.pop()


def test_structural_recheck_catches_a_broken_funnel(repo_dir, monkeypatch):
    """If quoting ever let a value through raw, the re-check must stop the build."""
    import proxygen.compile.render as r

    site = copy.deepcopy(FULL_SITE)
    site["headers"][0]["value"] = "DENY; return 200 pwned"
    write_repo(repo_dir, sites={"full": site})
    repo = load_repository(repo_dir)
    assert build(repo)  # with the real funnel: fine, one quoted argument
    monkeypatch.setattr(r, "quote", lambda value, **_: str(value))  # a funnel that forgets to quote
    with pytest.raises(CheckError, match=r"expected .*, found"):
        build(repo)


def test_value_glued_to_template_text_is_a_template_bug(tmp_path):
    from proxygen.compile.check import check_structure

    funnel = render_mod.Funnel()
    funnel.values.append(("a", "a"))
    with pytest.raises(TemplateBug, match="whole argument"):
        check_structure("t.conf", "x http://a;\n", "x http://__pgq0__;\n", funnel)
    with pytest.raises(TemplateBug, match="comment"):
        check_structure("t.conf", "# a\nx y;\n", "# __pgq0__\nx y;\n", funnel)


def test_output_files_are_written_with_mode_0644(repo_dir, tmp_path):
    write_build(build(load_repository(repo_dir)), tmp_path / "o")
    assert oct(os.stat(tmp_path / "o" / "edge" / "nginx.conf").st_mode & 0o777) == "0o644"


def test_a_failed_write_leaves_previous_output_untouched(repo_dir, tmp_path, monkeypatch):
    import proxygen.compile.output as output

    out = tmp_path / "out"
    write_build(build(load_repository(repo_dir)), out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    site = copy.deepcopy(FULL_SITE)
    site["client_max_body_size"] = "99M"
    settings = copy.deepcopy(SETTINGS)
    settings["http"] = {"client_max_body_size": "2m"}
    write_repo(repo_dir, settings=settings, sites={"full": site})
    result = build(load_repository(repo_dir))
    real = output._write_temporary
    calls = []

    def failing(target, data):
        calls.append(target)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(target, data)

    monkeypatch.setattr(output, "_write_temporary", failing)
    with pytest.raises(ProxygenError, match=r"cannot write the build output \(No space left on device\); "
                                            "nothing was changed"):
        write_build(result, out)
    assert len(calls) == 3
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # no temporaries left either


def test_lint_api_reports_problems_and_unserved_sites(repo_dir):
    from proxygen.lint import lint

    clean = lint(repo_dir)
    assert clean.ok and clean.hosts == 2 and clean.sites == 1
    write_repo(repo_dir, sites={"full": FULL_SITE, "spare": {"server_names": ["spare.org"],
                                                              "locations": [{"path": "/", "return": 204}]}})
    noted = lint(repo_dir)
    assert noted.ok and "sites/spare.yml: validated, but no host in proxygen.yml serves it" in noted.notes
    write_repo(repo_dir, sites={"full": FULL_SITE, "spare": {"server_names": ["spare.org"], "locations": []}})
    bad = lint(repo_dir)
    assert not bad.ok and bad.problems[0].startswith("sites/spare.yml:")


def test_acme_challenge_escapes_the_site_basic_auth_and_access_rules(repo_dir):
    site = copy.deepcopy(FULL_SITE)
    site["tls"]["redirect_http"] = False
    site["basic_auth"] = {"realm": "staging", "user_file": "/etc/nginx/staging.htpasswd"}
    site["access"] = {"allow": ["10.0.0.0/8"], "deny": ["all"]}
    write_repo(repo_dir, sites={"full": site})
    text = build(load_repository(repo_dir)).hosts["edge"].files["sites/full.conf"]
    acme = text.split("location /.well-known/acme-challenge/ {")[1].split("}")[0]
    assert "auth_basic off;" in acme and "allow all;" in acme
    assert "listen 80;" in text and "listen 443 ssl;" in text and text.count("server {") == 1


def test_burst_zero_is_left_out_so_nginx_accepts_it(repo_dir):
    """nginx refuses `burst=0` (its default); a declared burst of 0 renders no burst parameter."""
    from proxygen.lint import lint

    site = copy.deepcopy(FULL_SITE)
    site["locations"][0]["rate_limits"][0]["burst"] = 0
    write_repo(repo_dir, sites={"full": site})
    from proxygen.compile.build import build
    from proxygen.model import load_repository

    conf = build(load_repository(repo_dir), "edge").hosts["edge"].files["sites/full.conf"]
    assert "limit_req zone=per-ip nodelay;" in conf and "burst=0" not in conf
    report = lint(repo_dir, host="edge", nginx=True)
    assert report.ok and "edge: nginx -t ok" in report.notes, report.problems
