import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "proxygen", *args], capture_output=True, text=True)


def test_help_lists_command_groups():
    out = run("--help")
    assert out.returncode == 0
    for group in ("crawlers", "blocklist", "logs", "version"):
        assert group in out.stdout


def test_version():
    from proxygen import __version__

    out = run("version")
    assert out.returncode == 0 and out.stdout.strip() == __version__


def test_unknown_command_is_usage_error():
    assert run("no-such-command").returncode == 2
