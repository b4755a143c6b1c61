"""`proxygen logs check`: what it prints and its exit codes (0 read, 1 input error, 2 usage error)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

from .conftest import REAL_10K, main_line


def run(*args, stdin: bytes | None = None):
    return subprocess.run([sys.executable, "-m", "proxygen", "logs", "check", *args], input=stdin,
                          capture_output=True)


def test_real_log_reports_format_counts_and_time_range():
    out = run(REAL_10K)
    text = out.stdout.decode()
    assert out.returncode == 0, out.stderr
    assert "format: combined (detected from the first lines)" in text
    assert "lines read: 10,000  parsed: 10,000  malformed: 0" in text
    assert "time range: 2015-05-17T10:05:00+00:00 .. 2015-05-20T21:05:59+00:00" in text
    assert "\x1b[" not in text and "reading" not in out.stderr.decode()  # piped: no colours, no progress bar


def test_json_output_with_malformed_samples(tmp_path):
    path = tmp_path / "a.log"
    path.write_text("\n".join([main_line()] * 5 + ["oops"]) + "\n")
    out = run(str(path), "--json", "--format", "main")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["format"]["name"] == "main" and data["format"]["chosen"] == "given"
    assert (data["lines_read"], data["parsed"], data["malformed"]) == (6, 5, 1)
    assert data["malformed_samples"] == [{"file": str(path), "line": 6, "text": "oops"}]


def test_stdin_and_gzip(tmp_path):
    data = gzip.compress(("\n".join([main_line()] * 3) + "\n").encode())
    out = run("-", stdin=data)
    assert out.returncode == 0, out.stderr
    assert "parsed: 3" in out.stdout.decode() and "<stdin>" in out.stdout.decode()


def test_stdin_with_a_given_format_reads_every_line_and_refuses_the_wrong_one():
    """The first lines are read to check the format, then put back in front: none is lost."""
    lines = "".join(main_line(request=f"GET /p/{i} HTTP/1.1") + "\n" for i in range(5000)).encode()
    out = run("-", "--format", "main", stdin=lines)
    assert out.returncode == 0, out.stderr
    assert "lines read: 5,000  parsed: 5,000  malformed: 0" in out.stdout.decode()
    out = run("-", "--format", "combined", stdin=lines)
    err = out.stderr.decode()
    assert out.returncode == 1 and "error: <stdin>: --format combined parses 0 of the first 200 lines" in err
    assert "Formats that parse them: main (100%)" in err and "Traceback" not in err


def test_ctrl_c_while_reading_an_open_pipe_ends_at_once():
    """`tail -f access.log | proxygen ... -` never ends by itself: Ctrl-C must. (It used to wait forever:
    the kernel handed the signal to the thread blocked reading the pipe, and the main thread waited for
    a batch without a timeout.)"""
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "proxygen", "logs", "check", "-", "--format", "main"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write("".join(main_line() + "\n" for _ in range(40000)).encode())  # past the format check
    proc.stdin.flush()
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(timeout=20) == 130
    finally:
        proc.kill()
        proc.stdin.close()
    assert proc.stderr.read().decode() == "interrupted\n"


def test_truncated_gzip_message_and_exit_zero(tmp_path):
    blob = gzip.compress(("\n".join(main_line(request=f"GET /p/{i} HTTP/1.1") for i in range(20000)) + "\n").encode())
    path = tmp_path / "cut.gz"
    path.write_bytes(blob[: len(blob) // 2])
    out = run(str(path))
    assert out.returncode == 0
    assert "gzip file is truncated" in out.stdout.decode()


def test_undetectable_format_exits_1_without_traceback(tmp_path):
    path = tmp_path / "x.log"
    path.write_text("hello world\n" * 3)
    out = run(str(path))
    err = out.stderr.decode()
    assert out.returncode == 1
    assert "cannot detect the log format" in err and "hello world" in err and "Traceback" not in err


def test_log_text_is_shown_never_obeyed_by_the_terminal(tmp_path):
    """Lines are written by clients: escape sequences in a sample are printed as visible escapes."""
    path = tmp_path / "a.log"
    path.write_text(main_line() + "\n" + "junk \x1b[2J\x1b]0;owned\x07 line\rFAKE\u202e\n")
    out = run(str(path), "--format", "main")
    text = out.stdout.decode()
    assert out.returncode == 0, out.stderr
    assert "a.log:2: junk \\x1B[2J\\x1B]0;owned\\x07 line\\x0DFAKE\\u202E" in text
    assert not any(c in text for c in "\x1b\x07\r\u202e")
    path.write_text("hello \x1b[31mworld\n" * 3)
    err = run(str(path)).stderr.decode()  # undetectable: the error shows the first line
    assert "First line: hello \\x1B[31mworld" in err and "\x1b" not in err


def test_missing_file_and_bad_options_exit_2(tmp_path):
    assert run(str(tmp_path / "none.log")).returncode == 2
    path = tmp_path / "a.log"
    path.write_text(main_line() + "\n")
    out = run(str(path), "--since", "not-a-date")
    assert out.returncode == 2 and "--since" in out.stderr.decode()
    assert run(str(path), "--format", "nope").returncode == 2


def test_nginx_conf_format(tmp_path):
    conf = tmp_path / "log_format.conf"
    conf.write_text("log_format edge '$remote_addr [$time_local] $status';\n")
    path = tmp_path / "a.log"
    path.write_text("192.0.2.1 [31/Jan/2025:12:00:00 +0000] 200\n")
    out = run(str(path), "--nginx-conf", str(conf), "--format", "edge")
    assert out.returncode == 0, out.stderr
    assert "format: edge (given)" in out.stdout.decode()


def test_empty_file_exits_1_with_a_message(tmp_path):
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    out = run(str(path))
    assert out.returncode == 1
    assert "empty file" in out.stdout.decode() and "nothing to read" in out.stderr.decode()


def _stderr_on_a_terminal(*args) -> tuple[int, bytes]:
    """Run `logs check` with stderr on a pseudo-terminal; return (exit code, what the terminal got)."""
    import os
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "proxygen", "logs", "check", *args],
                            stdout=subprocess.PIPE, stderr=slave)
    proc.communicate(timeout=60)
    os.close(slave)
    data = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    return proc.returncode, data


def test_progress_bar_on_a_terminal_only_without_quiet():
    from .conftest import HERE

    sample = str(HERE.parent.parent / "examples" / "access-sample.log.gz")
    code, terminal = _stderr_on_a_terminal(sample)
    assert code == 0 and b"reading" in terminal
    code, terminal = _stderr_on_a_terminal(sample, "--quiet")
    assert code == 0 and terminal == b""
