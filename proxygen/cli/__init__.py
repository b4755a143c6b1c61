"""The `proxygen` command line: parses options, calls the core, chooses the output.

Each command group lives in its own module and imports the core lazily, so that
`proxygen --help` does not pay for polars, crossplane or jinja2.
"""

from __future__ import annotations

import os
import sys

import typer

from proxygen.errors import ProxygenError

app = typer.Typer(
    name="proxygen",
    help="Compile OFF's NGINX proxy configs from sites/*.yml, and find abusive crawlers in access logs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
crawlers_app = typer.Typer(help="Find abusive crawlers in access logs and turn them into rules.", no_args_is_help=True)
blocklist_app = typer.Typer(help="Inspect and edit blocklists/ (the rules the build renders).", no_args_is_help=True)
logs_app = typer.Typer(help="Read access logs: detect their format, count what parses.", no_args_is_help=True)
app.add_typer(crawlers_app, name="crawlers")
app.add_typer(blocklist_app, name="blocklist")
app.add_typer(logs_app, name="logs")


@app.callback()
def _root() -> None:
    """Compile OFF's NGINX proxy configs from sites/*.yml, and find abusive crawlers in access logs."""


@app.command()
def version() -> None:
    """Print proxygen's version."""
    from proxygen import __version__

    typer.echo(__version__)


def _register() -> None:
    """Attach every command module (an explicit list, no import magic)."""
    from proxygen.cli import blocklist_cmds, build_cmds, crawlers_cmds, logs_cmds, simulate_cmds

    build_cmds.register(app)            # build, lint, diff, schema
    crawlers_cmds.register(crawlers_app)  # crawlers analyze, crawlers update-ranges
    simulate_cmds.register(crawlers_app)  # crawlers simulate
    blocklist_cmds.register(blocklist_app)  # blocklist list|add|remove|prune
    logs_cmds.register(logs_app)        # logs check


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: user errors become a message and an exit code, never a traceback."""
    _register()
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit as done:
        if done.code == 130:  # Ctrl-C (typer's code for it): leave at once, see `_interrupted`
            _interrupted()
        raise
    except ProxygenError as err:
        from proxygen.cli.output import error

        error(str(err))
        sys.exit(err.exit_code)
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, and let nothing flush into the pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except OSError as err:  # the environment refused (a file where a directory goes, permissions, disk full)
        from proxygen.cli.output import error

        error(f"{err.filename}: {err.strerror}" if err.filename else str(err.strerror or err))
        sys.exit(1)


def _interrupted() -> None:
    """End an interrupted run now. Files are only ever replaced atomically, so there is nothing to finish;
    a normal exit would also finalise the reading threads and generators cut off mid-way, and print
    their KeyboardInterrupt as "Exception ignored" tracebacks."""
    try:
        sys.stdout.flush()
        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
    finally:
        os._exit(130)
