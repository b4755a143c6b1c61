"""The quote funnel: refuses control characters and stray variables, and every accepted value reaches
nginx as exactly the text it was (checked with crossplane's lexer and with the real nginx)."""

from __future__ import annotations

import io
import shutil
import subprocess
import time
import urllib.request

import pytest

from proxygen.compile.quote import QuoteError, quote, unquote_token
from tests.ports import free_port
from .payloads import CONTROL, STRUCTURAL


def lex(text: str):
    from crossplane.lexer import _lex_file_object

    return list(_lex_file_object(io.StringIO(text)))


@pytest.mark.parametrize("payload", CONTROL)
@pytest.mark.parametrize("mode", [{}, {"variables": True}, {"regex": True}])
def test_control_characters_are_refused(payload, mode):
    with pytest.raises(QuoteError, match="control character"):
        quote(payload, **mode)


def test_dollar_needs_a_field_that_expands_variables():
    with pytest.raises(QuoteError, match=r"'\$' is not allowed"):
        quote("$host")
    assert quote("$host", variables=True) == "$host"
    with pytest.raises(QuoteError, match="does not start a variable"):
        quote("price: 5$", variables=True)
    assert quote("^/a$", regex=True) == '"^/a$"' or quote("^/a$", regex=True) == "^/a$"


@pytest.mark.parametrize("payload", [p for p in STRUCTURAL if "$" not in p])
def test_every_accepted_value_is_one_token_equal_to_itself(payload):
    token = quote(payload)
    tokens = lex(f"d {token};\nnext x;\n")
    words = [(t, q) for t, _, q in tokens]
    # d, <value>, ;, next, x, ;  -- the value neither swallowed nor produced a directive
    assert len(words) == 6, words
    assert words[0] == ("d", False) and words[2] == (";", False) and words[3] == ("next", False)
    assert unquote_token(*words[1]) == payload


def test_leading_hash_and_trailing_backslash_are_quoted():
    assert quote("#x").startswith('"')
    assert quote("a\\") == '"a\\\\"'
    assert quote("") == '""'
    assert quote("plain-word_1.2") == "plain-word_1.2"


def test_non_strings_are_refused():
    for bad in (None, True, False):
        with pytest.raises(QuoteError):
            quote(bad)


@pytest.mark.nginx
@pytest.mark.skipif(shutil.which("nginx") is None and not shutil.os.path.exists("/usr/sbin/nginx"),
                    reason="nginx not installed")
def test_real_nginx_returns_each_value_verbatim(tmp_path):
    """The oracle is nginx itself: `return 200 <quoted value>` must answer with the exact value."""
    payloads = [p for p in STRUCTURAL if "$" not in p]
    port = free_port()
    locations = "\n".join(f"        location = /p{i} {{ return 200 {quote(p)}; }}" for i, p in enumerate(payloads))
    (tmp_path / "logs").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""daemon on;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/logs/error.log;
events {{ worker_connections 16; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
{locations}
    }}
}}
""", encoding="utf-8")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    subprocess.run([nginx, "-p", f"{tmp_path}/", "-c", str(conf), "-e", f"{tmp_path}/logs/error.log"],
                   check=True, capture_output=True, timeout=30)
    try:
        deadline = time.time() + 5
        while not (tmp_path / "nginx.pid").exists() and time.time() < deadline:
            time.sleep(0.02)
        for i, payload in enumerate(payloads):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/p{i}", timeout=5) as resp:
                assert resp.read().decode("utf-8") == payload, payload
    finally:
        pid = int((tmp_path / "nginx.pid").read_text().strip())
        import os
        import signal

        os.kill(pid, signal.SIGQUIT)
        deadline = time.time() + 5
        while (tmp_path / "nginx.pid").exists() and time.time() < deadline:
            time.sleep(0.02)


from hypothesis import given, settings, strategies as st  # noqa: E402

_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\u2028\u2029"), max_size=40)


@settings(max_examples=400, deadline=None)
@given(_TEXT, st.sampled_from(["plain", "regex"]))
def test_any_text_is_one_token_equal_to_itself(value, mode):
    if mode == "plain" and "$" in value:
        with pytest.raises(QuoteError):
            quote(value)
        return
    token = quote(value, regex=(mode == "regex"))
    words = [(t, q) for t, _, q in lex(f"d {token};\nnext x;\n")]
    assert len(words) == 6 and words[2] == (";", False) and words[3] == ("next", False), (value, token, words)
    assert unquote_token(*words[1]) == value
