"""Proxy-wide settings (`proxygen.yml` at the repository root).

Everything shared by several sites is declared here once and referenced by
name from site declarations: proxy hosts, log formats, rate-limit zones, cache
zones, header sets, error pages, TLS defaults, allowlists and the analyzer's
crawler settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, IPvAnyAddress, field_validator,
                      model_validator)

from proxygen.model.allowlists import Allowlists
from proxygen.model.crawlers import CrawlerSettings
from proxygen.model.lint_settings import LintIgnore, LintSettings
from proxygen.model.values import (AbsPath, Duration, HeaderName, Name, NginxVersion, Rate, Size, Text, VarText,
                                   no_duplicates)
from proxygen.model.site import MapDecl


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HostPaths(_Strict):
    """Where things live on the proxy host (production paths; `lint --nginx` swaps them for a sandbox)."""

    certificates: AbsPath = Field("/etc/letsencrypt/live", description="<dir>/<name>/{fullchain,privkey,chain}.pem")
    logs: AbsPath = "/var/log/nginx"
    cache: AbsPath = Field("/var/cache/nginx", description="Parent directory of cache zones with a relative path.")
    pid: AbsPath = "/run/nginx.pid"
    html: AbsPath = Field("/opt/openfoodfacts-infrastructure/html",
                          description="Directory holding the shared error pages and pages like stop-crawling.txt.")
    acme: AbsPath = Field("/var/www/letsencrypt", description="Webroot for ACME http-01 challenges.")
    mime_types: AbsPath = "/etc/nginx/mime.types"
    temp: AbsPath | None = Field(None, description="Parent of nginx's temp directories (default: nginx's built-in "
                                                   "paths); the nginx -t sandbox sets it so it runs unprivileged.")


class StubStatus(_Strict):
    """nginx's status page (stub_status) for the Prometheus exporter running on the proxy itself.

    It gets its own server on a loopback address, so it is never reachable from outside the host.
    """

    address: IPvAnyAddress = Field("127.0.0.1", description="A loopback address (127.0.0.0/8 or ::1).")
    port: int = Field(8080, ge=1, le=65535)

    @field_validator("address")
    @classmethod
    def _loopback(cls, address):
        if not address.is_loopback:
            raise ValueError(f"{address} is not a loopback address (127.0.0.0/8 or ::1): the status page must "
                             "stay local to the host")
        return address

    def listen(self) -> str:
        address = str(self.address)  # the default stays a str (pydantic does not validate defaults)
        return f"[{address}]:{self.port}" if ":" in address else f"{address}:{self.port}"


class Host(_Strict):
    """One proxy host: which sites it serves and with which nginx."""

    name: Name = Field("", description="Filled from the key in `hosts:`.")
    description: Text = ""
    nginx_version: NginxVersion = Field(description="Target nginx version; decides which directives are emitted.")
    sites: Annotated[list[Name], AfterValidator(no_duplicates)] = Field(
        default_factory=list, description="Site names (file names in sites/ without .yml).")
    user: Name | None = Field("nginx", description="The `user` nginx workers run as (null: omit the directive).")
    worker_processes: int | Literal["auto"] = "auto"
    worker_connections: int = Field(4096, ge=16, le=1_000_000)
    ipv6: bool = Field(True, description="Also listen on [::].")
    http_port: int = Field(80, ge=1, le=65535)
    https_port: int = Field(443, ge=1, le=65535)
    reject_unknown_hosts: bool = Field(
        True, description="A default server answers 444 / rejects the TLS handshake for names no site declares.")
    resolver: list[Annotated[str, Field(pattern=r"^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$")]] = Field(
        default_factory=list, description="DNS resolvers: host, IPv4 or [IPv6], optional :port.")
    paths: HostPaths = Field(default_factory=HostPaths)
    stub_status: StubStatus | None = Field(
        None, description="Serve nginx's status page on a local listen for the exporter (e.g. 127.0.0.1:8080).")
    certificates: list[Name] | None = Field(
        None, description="Certificate directories provisioned on the host (under paths.certificates, by certbot); "
                          "when listed, lint reports a site whose tls.certificate is not among them (PX112).")

    def version_tuple(self) -> tuple[int, int, int]:
        a, b, c = self.nginx_version.split(".")
        return int(a), int(b), int(c)


class LogFormat(_Strict):
    format: VarText = Field(min_length=1, description="nginx log_format string ($variables allowed).")
    escape: Literal["default", "json", "none"] | None = None


def _format_shorthand(value):
    """`main: '$remote_addr ...'` is short for `main: {format: '$remote_addr ...'}`."""
    return {"format": value} if isinstance(value, str) else value


LogFormatOrText = Annotated[LogFormat, BeforeValidator(_format_shorthand, json_schema_input_type=LogFormat | str)]


class RateLimitZone(_Strict):
    """A `limit_req_zone`: requests with the same `key` share a bucket; an empty key is never limited."""

    name: Name = Field("", description="Filled from the key in `rate_limit_zones:`.")
    key: VarText = Field(min_length=2)
    size: Size = "10m"
    rate: Rate


class CacheZone(_Strict):
    """A `proxy_cache_path` zone."""

    name: Name = ""
    path: AbsPath | Name = Field(description="Absolute, or relative to the host's paths.cache.")
    levels: Literal["1", "2", "1:1", "1:2", "2:1", "2:2", "1:1:1", "1:1:2", "1:2:2", "2:2:2"] = "1:2"
    size: Size = "10m"
    max_size: Size | None = None
    inactive: Duration | None = None
    use_temp_path: bool = False


class TlsDefaults(_Strict):
    protocols: list[Literal["TLSv1.2", "TLSv1.3"]] = Field(default_factory=lambda: ["TLSv1.2", "TLSv1.3"], min_length=1)
    ciphers: Text | None = None
    prefer_server_ciphers: bool = False
    ecdh_curve: Name | None = None
    session_cache: Text | None = "shared:SSL:10m"
    session_timeout: Duration | None = "1d"
    session_tickets: bool = False
    hsts_max_age: int = Field(63072000, ge=0, description="Default Strict-Transport-Security max-age (seconds).")


class HttpDefaults(_Strict):
    """http-level settings shared by every site of a host."""

    server_tokens: bool = False
    gzip: bool = True
    client_max_body_size: Size = "1m"
    types_hash_max_size: int = 2048
    map_hash_bucket_size: int = 128
    server_names_hash_bucket_size: int = 128
    access_log_format: Name = Field("main", description="Format of the host-wide access log.")


class Settings(_Strict):
    """The whole of proxygen.yml."""

    hosts: dict[Name, Host]
    log_formats: dict[Name, LogFormatOrText] = Field(
        default_factory=dict, description="Named log formats: a format string, or {format, escape}.")
    rate_limit_zones: dict[Name, RateLimitZone] = Field(default_factory=dict)
    cache_zones: dict[Name, CacheZone] = Field(default_factory=dict)
    header_sets: dict[Name, dict[HeaderName, VarText]] = Field(
        default_factory=dict, description="Named sets of proxy_set_header lines (e.g. `backend`).")
    error_pages: dict[int, Name] = Field(
        default_factory=dict, description="Status -> file in the host's paths.html (e.g. 503: 503.html).")
    pages: list[Name] = Field(default_factory=list,
                              description="Other files in paths.html sites may serve (e.g. stop-crawling.txt).")
    tls: TlsDefaults = Field(default_factory=TlsDefaults)
    http: HttpDefaults = Field(default_factory=HttpDefaults)
    allowlists: Allowlists = Field(default_factory=Allowlists)
    crawlers: CrawlerSettings = Field(default_factory=CrawlerSettings)
    maps: list[MapDecl] = Field(
        default_factory=list,
        description="http-level maps shared by sites on any host (declared once, emitted on every host; nginx "
                    "computes a map only when a request uses its variable). Their strings may use only nginx's "
                    "own variables and other shared maps.")
    blocklists_dir: str = Field("blocklists", min_length=1, description="Relative to the repository root.")
    lint: LintSettings = Field(default_factory=LintSettings)
    lint_ignore: list[LintIgnore] = Field(
        default_factory=list, description="Accepted lint findings in proxygen.yml, each with a reason.")

    @model_validator(mode="before")
    @classmethod
    def _names_from_keys(cls, data):
        """`hosts: {x: {...}}` -> Host(name="x"), same for zones: the key is the name."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for section in ("hosts", "rate_limit_zones", "cache_zones"):
            value = data.get(section)
            if isinstance(value, dict):
                data[section] = {k: ({**v, "name": k} if isinstance(v, dict) and "name" not in v else v)
                                 for k, v in value.items()}
        return data

    @model_validator(mode="after")
    def _references(self):
        for code in self.error_pages:
            if not 300 <= code <= 599:
                raise ValueError(f"error_pages: {code} is not an HTTP status from 300 to 599")
        if self.http.access_log_format not in self.log_formats and self.http.access_log_format != "combined":
            raise ValueError(f"http.access_log_format: unknown log format {self.http.access_log_format!r}")
        return self


def load_settings(path: str | Path) -> Settings:
    """Read and validate proxygen.yml; errors carry file:line:col."""
    from proxygen.model.yamlpos import load_yaml, validate

    path = Path(path)
    doc = load_yaml(path, _display(path))
    return validate(Settings, doc)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
