"""The blocklist and simulate commands: exit codes and messages (the logic is tested through the API)."""

import json
import subprocess
import sys
from pathlib import Path

PROXYGEN = [sys.executable, "-m", "proxygen"]


def run(args, cwd):
    return subprocess.run(PROXYGEN + args, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_blocklist_add_list_remove(tmp_path):
    r = run(["blocklist", "add", "203.0.113.7", "-a", "block", "-r", "scraper", "--expires", "never"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "added 203.0.113.7" in r.stdout
    r = run(["blocklist", "list", "--json"], tmp_path)
    rows = json.loads(r.stdout)["entries"]
    assert [(x["rule"], x["action"], x["expires"]) for x in rows] == [("203.0.113.7", "block", None)]
    r = run(["blocklist", "add", "203.0.113.0/33", "-a", "block", "-r", "x"], tmp_path)
    assert r.returncode == 2 and "error: cidr: '203.0.113.0/33' is not a valid CIDR" in r.stderr
    assert "Traceback" not in r.stderr
    r = run(["blocklist", "remove", "203.0.113.7"], tmp_path)
    assert r.returncode == 0 and "removed 203.0.113.7" in r.stdout
    r = run(["blocklist", "remove", "203.0.113.7"], tmp_path)
    assert r.returncode == 2 and "is not in" in r.stderr


def test_invalid_blocklist_file_exits_1_with_position(tmp_path):
    (tmp_path / "blocklists").mkdir()
    (tmp_path / "blocklists/manual.yml").write_text("entries:\n  - ip: 1.2.3.4\n    action: nuke\n    reason: r\n")
    r = run(["blocklist", "list"], tmp_path)
    assert r.returncode == 1
    assert "blocklists/manual.yml:3:13: entries[0].action:" in r.stderr and "Traceback" not in r.stderr


def test_list_on_a_terminal_shows_reasons_as_text(tmp_path):
    """On a terminal the entries are a rich table: a reason quoting a user agent with rich markup or
    escape sequences is shown literally (it used to stop `list` with a markup error)."""
    import os
    import pty

    reason = "UA 'scraper [/bold] [red]x' \x1b[2J"
    r = run(["blocklist", "add", "203.0.113.7", "-a", "block", "-r", reason, "--expires", "never"], tmp_path)
    assert r.returncode == 0, r.stderr
    leader, follower = pty.openpty()
    proc = subprocess.Popen(PROXYGEN + ["blocklist", "list"], cwd=tmp_path, stdin=follower, stdout=follower,
                            stderr=follower, env={**os.environ, "COLUMNS": "300"})
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    out = b"".join(chunks).decode()
    assert "Traceback" not in out and "203.0.113.7" in out
    assert "UA 'scraper [/bold] [red]x' \\x1B[2J" in out and "\x1b[2J" not in out


def test_a_blocklists_directory_that_cannot_be_made_is_an_error_not_a_traceback(tmp_path):
    (tmp_path / "afile").write_text("x")
    r = run(["blocklist", "add", "203.0.113.7", "-a", "block", "-r", "scraper", "--dir", "afile/blocklists"],
            tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip() == "error: afile/blocklists: Not a directory"
