"""Command-line options shared by the commands that read logs (logs check, crawlers analyze/simulate)
and edit blocklists: one definition, so the same flag means and says the same everywhere."""

from __future__ import annotations

import typer

_FORMAT_HELP = ("Built-in name (main, combined_upstream, proxied_requests, combined, common), a proxygen.yml "
                "log_formats name, a name in --nginx-conf, or a log_format string. Default: detect.")


def log_files():
    return typer.Argument(..., help="Access logs: files, rotated .gz files, globs, or - for stdin.")


def log_format():
    return typer.Option(None, "--format", "-f", help=_FORMAT_HELP)


def nginx_conf():
    return typer.Option(None, "--nginx-conf", help="nginx config file to read log_format directives from.")


def config(uses: str):
    return typer.Option(None, "--config", "-c", help=f"proxygen.yml (default: ./proxygen.yml if present): {uses}.")


def since():
    return typer.Option(None, "--since", help="Only requests at or after this time: ISO 8601 (UTC if no zone), "
                        "or that long before now: 30m, 2h, 1d.")


def until():
    return typer.Option(None, "--until", help="Only requests before this time (same forms as --since).")


def asn_db(uses: str):
    return typer.Option(None, "--asn-db", help=f"ASN database (.mmdb) {uses}.")


def json_output(what: str):
    return typer.Option(False, "--json", help=f"Print {what} as JSON.")


def blocklists_dir(purpose: str = ""):
    return typer.Option(None, "--dir", "-d", help=f"The blocklists directory{purpose} (default: blocklists_dir "
                                                  "of proxygen.yml, else ./blocklists).")
