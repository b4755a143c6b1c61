"""Site declarations (`sites/<name>.yml`, one per service).

A site is a set of server names with TLS, upstream pools and locations. The
same options (headers, timeouts, limits, auth...) can be set on the site (they
apply to every location) or on one location. Anything shared between sites is
referenced by name from proxygen.yml. There is no raw-text field: a directive
the model lacks goes in `directives:` as a name and arguments, checked against
the directive table.
"""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, IPvAnyNetwork, field_validator,
                      model_validator)

from proxygen.model.lint_settings import LintIgnore
from proxygen.model.values import (AbsPath, Duration, HeaderName, Name, Regex, ServerName, Size, Text, VarText,
                                   Variable, no_duplicates)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _status(value: int, low: int = 200, high: int = 599) -> int:
    if not low <= value <= high:
        raise ValueError(f"HTTP status must be between {low} and {high}")
    return value


class Header(_Strict):
    """A response header (`add_header`); `always` adds it to error responses too."""

    name: HeaderName
    value: VarText
    always: bool = False


class CacheValid(_Strict):
    codes: list[int | Literal["any"]] = Field(default_factory=lambda: [200, 301, 302], min_length=1)
    time: Duration


class Cache(_Strict):
    """Cache responses in a zone declared in proxygen.yml `cache_zones:`."""

    zone: Name
    key: VarText | None = Field(None, description="proxy_cache_key; nginx's default is $scheme$proxy_host$request_uri.")
    valid: list[CacheValid] = Field(default_factory=list)


class RateLimit(_Strict):
    """Apply a rate-limit zone from proxygen.yml `rate_limit_zones:`."""

    zone: Name
    burst: int | None = Field(None, ge=0, le=100000)
    nodelay: bool = False
    delay: int | None = Field(None, ge=0, le=100000)

    @model_validator(mode="after")
    def _one_delay_mode(self):
        if self.nodelay and self.delay is not None:
            raise ValueError("set either nodelay or delay, not both")
        return self


class Timeouts(_Strict):
    connect: Duration | None = None
    read: Duration | None = None
    send: Duration | None = None


class BasicAuth(_Strict):
    """HTTP basic auth. The realm may be a $variable (e.g. from a map): nginx turns auth off when it is "off"."""

    realm: VarText = Field(min_length=1)
    user_file: AbsPath = Field(description="htpasswd file on the proxy host.")


class Access(_Strict):
    """allow/deny lists, emitted allow first, then deny (first match wins in nginx)."""

    allow: list[IPvAnyNetwork | Literal["all"]] = Field(default_factory=list)
    deny: list[IPvAnyNetwork | Literal["all"]] = Field(default_factory=list)


class AccessLog(_Strict):
    format: Name = "main"
    file: Name | None = Field(None, description="File name in the host's log directory (default <site>.access.log).")
    buffer: Size | None = None
    flush: Duration | None = None
    condition: Variable | None = Field(None, alias="if", description="Log only when this variable is non-empty and not 0.")

    @model_validator(mode="after")
    def _flush_needs_buffer(self):
        if self.flush is not None and self.buffer is None:
            raise ValueError("flush needs buffer")
        return self


class ErrorLog(_Strict):
    file: Name | None = None
    level: Literal["debug", "info", "notice", "warn", "error", "crit", "alert", "emerg"] | None = None


class Logs(_Strict):
    access: AccessLog | Literal[False] = Field(default_factory=AccessLog)
    error: ErrorLog = Field(default_factory=ErrorLog)


class Return(_Strict):
    """`return status [text|url]`."""

    status: int
    text: Text | None = None
    url: VarText | None = None

    @field_validator("status")
    @classmethod
    def _code(cls, v: int) -> int:
        return _status(v, 200, 599) if v != 444 else v

    @model_validator(mode="after")
    def _one(self):
        if self.text is not None and self.url is not None:
            raise ValueError("set text or url, not both")
        if self.url is not None and self.status not in (301, 302, 303, 307, 308):
            raise ValueError("url needs a redirect status (301, 302, 303, 307, 308)")
        return self


def _return_shorthand(value):
    """`return: 403` is short for `return: {status: 403}`."""
    return {"status": value} if isinstance(value, int) and not isinstance(value, bool) else value


ReturnOrStatus = Annotated[Return, BeforeValidator(_return_shorthand, json_schema_input_type=Return | int)]


class Redirect(_Strict):
    """Redirect to another URL; `keep_uri` appends the request URI (path and query)."""

    to: VarText = Field(pattern=r"^https?://[^\s/]+", description="Target URL, e.g. https://connect.openfoodfacts.org")
    status: Literal[301, 302, 307, 308] = 301
    keep_uri: bool = True


class Condition(_Strict):
    """An `if` on one variable with a safe action (return or rewrite ... last), nothing else."""

    variable: Variable
    equals: Text | None = None
    not_equals: Text | None = None
    matches: Regex | None = Field(None, description="Case-sensitive regular expression.")
    matches_i: Regex | None = Field(None, description="Case-insensitive regular expression.")
    return_: ReturnOrStatus | None = Field(None, alias="return")
    rewrite: AbsPath | None = Field(None, description="Serve this URI instead (rewrite ^ URI last).")
    why: Text = Field("", description="For readers of the declaration; never emitted.")

    @model_validator(mode="after")
    def _exactly_one(self):
        tests = [t for t in (self.equals, self.not_equals, self.matches, self.matches_i) if t is not None]
        if len(tests) != 1:
            raise ValueError("set exactly one of equals, not_equals, matches, matches_i")
        if (self.return_ is None) == (self.rewrite is None):
            raise ValueError("set exactly one action: return or rewrite")
        return self


class Directive(_Strict):
    """Escape hatch for a directive the model lacks: a name and arguments, checked against the directive table."""

    name: Name
    args: list[VarText] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        from proxygen.compile.directives import DIRECTIVES, FORBIDDEN

        if name in FORBIDDEN:
            raise ValueError(f"{name} cannot be set through directives: ({FORBIDDEN[name]})")
        if name not in DIRECTIVES:
            raise ValueError(f"unknown directive {name!r} (not in proxygen's directive table)")
        return name

    @model_validator(mode="after")
    def _arg_count(self):
        from proxygen.compile.directives import DIRECTIVES

        spec = DIRECTIVES[self.name]
        if not spec.accepts(len(self.args)):
            raise ValueError(f"{self.name} takes {spec.describe_args()}, got {len(self.args)}")
        return self


class Options(_Strict):
    """Options valid on a site (server) and on a location."""

    client_max_body_size: Size | None = None
    timeouts: Timeouts | None = None
    buffering: bool | None = Field(None, description="proxy_buffering")
    request_buffering: bool | None = Field(None, description="proxy_request_buffering")
    intercept_errors: bool | None = Field(
        None, description="proxy_intercept_errors: answer the backend's error statuses with error_pages too.")
    header_set: Name | None = Field(None, description="A proxy header set from proxygen.yml `header_sets:`.")
    proxy_headers: dict[HeaderName, VarText] = Field(default_factory=dict, description="proxy_set_header lines.")
    headers: list[Header] = Field(default_factory=list, description="Response headers (add_header).")
    basic_auth: BasicAuth | Literal[False] | None = None
    access: Access | None = None
    rate_limits: list[RateLimit] = Field(default_factory=list)
    rate_limit_status: int | None = None
    rate_limit_dry_run: bool | None = None
    rate_limit_dry_run_since: datetime.date | None = Field(
        None, description="When dry-run started (YYYY-MM-DD); lint reports dry-runs older than lint.dry_run_max_age_days.")
    cache: Cache | None = None
    rules: list[Condition] = Field(default_factory=list, description="Conditions checked before the location's action.")
    directives: list[Directive] = Field(default_factory=list)
    lint_ignore: list[LintIgnore] = Field(
        default_factory=list, description="Accepted lint findings in this block, each with a reason (never emitted).")

    @field_validator("rate_limit_status")
    @classmethod
    def _rl_status(cls, v):
        return None if v is None else _status(v, 400, 599)


class Proxy(_Strict):
    """proxy_pass to an upstream pool of this site, or to a URL."""

    upstream: Name | None = None
    url: VarText | None = Field(None, pattern=r"^https?://[^\s/]+")
    uri: VarText | None = Field(None, description="Appended to the target, e.g. $request_uri or /.")
    redirect: bool = Field(True, description="false: proxy_redirect off")
    http_version: Literal["1.0", "1.1"] | None = None
    websocket: bool = Field(False, description="Pass WebSocket upgrades (HTTP/1.1 + Upgrade/Connection headers).")

    @model_validator(mode="after")
    def _target(self):
        if (self.upstream is None) == (self.url is None):
            raise ValueError("set exactly one of upstream or url")
        if self.uri is not None and not (self.uri.startswith("/") or self.uri.startswith("$")):
            raise ValueError("uri must start with / or a $variable")
        return self


class Static(_Strict):
    """Serve files from disk; `try_files` falls back to `fallback` (a named location like @backend, or =404)."""

    root: AbsPath | None = None
    alias: AbsPath | None = None
    try_files: list[VarText] = Field(default_factory=list)
    fallback: str | None = Field(None, pattern=r"^(@[A-Za-z0-9_-]+|=[1-5][0-9][0-9])$")
    index: list[Name] = Field(default_factory=list)
    expires: Duration | Literal["off", "max", "epoch"] | None = None

    @model_validator(mode="after")
    def _where(self):
        if (self.root is None) == (self.alias is None):
            raise ValueError("set exactly one of root or alias")
        if self.fallback is not None and not self.try_files:
            raise ValueError("fallback needs try_files")
        return self


class Location(Options):
    """A location: a path, how it matches, and one action."""

    path: str = Field(min_length=1)
    match: Literal["prefix", "prefix_priority", "exact", "regex", "regex_i", "named"] = Field(
        "prefix", description="prefix; prefix_priority (nginx ^~: when it is the longest matching prefix, regex "
                              "locations are not tried, so every subpath stays here); exact (=); regex (~); "
                              "regex_i (~*); named (@name).")
    proxy: Proxy | None = None
    static: Static | None = None
    return_: ReturnOrStatus | None = Field(None, alias="return")
    redirect: Redirect | None = None
    deny: bool = Field(False, description="deny all (403)")
    why: Text = Field("", description="For readers of the declaration; never emitted.")

    @model_validator(mode="after")
    def _valid(self):
        from proxygen.model.values import control_character

        actions = [a for a in (self.proxy, self.static, self.return_, self.redirect) if a is not None]
        if self.deny:
            actions.append(True)
        if len(actions) != 1:
            raise ValueError("set exactly one action: proxy, static, return, redirect or deny")
        if control_character(self.path):
            raise ValueError("path contains a control character")
        if self.match in ("prefix", "prefix_priority", "exact"):
            if not self.path.startswith("/"):
                raise ValueError(f"a {self.match} path must start with /")
            if "$" in self.path:
                raise ValueError("'$' in a prefix or exact path is literal; use match: regex for an anchor")
        elif self.match == "named":
            if not re.fullmatch(r"@[A-Za-z0-9_-]+", self.path):
                raise ValueError("a named location looks like @backend")
        else:
            from proxygen.model.values import _regex_compiles

            try:
                _regex_compiles(self.path)
            except ValueError as err:
                raise ValueError(f"path is {err}") from None
        return self


class UpstreamServer(_Strict):
    address: str = Field(pattern=r"^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$|^unix:/[A-Za-z0-9_./-]+$",
                         description="host:port, [ipv6]:port or unix:/path")
    weight: int | None = Field(None, ge=1, le=1000)
    max_fails: int | None = Field(None, ge=0, le=1000)
    fail_timeout: Duration | None = None
    backup: bool = False
    down: bool = False


class Upstream(_Strict):
    servers: list[UpstreamServer] = Field(min_length=1)
    balance: Literal["round_robin", "least_conn", "ip_hash"] = "round_robin"
    keepalive: int | None = Field(None, ge=1, le=10000, description="Idle keepalive connections per worker.")
    keepalive_timeout: Duration | None = None

    @model_validator(mode="after")
    def _backup_rules(self):
        if self.balance == "ip_hash" and any(s.backup for s in self.servers):
            raise ValueError("backup servers cannot be used with ip_hash")
        if all(s.backup for s in self.servers):
            raise ValueError("at least one server must not be a backup")
        return self


class MapEntry(_Strict):
    """One line of a map: an exact source value or a regular expression, and the result."""

    exact: Text | None = None
    regex: Regex | None = None
    ignore_case: bool = False
    value: VarText
    why: Text = ""

    @model_validator(mode="after")
    def _one(self):
        if (self.exact is None) == (self.regex is None):
            raise ValueError("set exactly one of exact or regex")
        if self.ignore_case and self.regex is None:
            raise ValueError("ignore_case applies to regex entries")
        return self


class MapDecl(_Strict):
    """An http-level `map`: `variable` is computed from `source` (a string with $variables)."""

    variable: Variable
    source: VarText = Field(min_length=2)
    default: VarText = ""
    entries: list[MapEntry] = Field(default_factory=list)
    why: Text = ""


class GeoEntry(_Strict):
    network: IPvAnyNetwork
    value: Text
    why: Text = ""


class GeoDecl(_Strict):
    """An http-level `geo`: `variable` is computed from the client address."""

    variable: Variable
    default: Text = "0"
    entries: list[GeoEntry] = Field(default_factory=list)
    why: Text = ""


class Hsts(_Strict):
    max_age: int | None = Field(None, ge=0, description="Default: proxygen.yml tls.hsts_max_age.")
    include_subdomains: bool = False
    preload: bool = False


class Tls(_Strict):
    certificate: Name = Field(description="Directory name under the host's certificate directory.")
    redirect_http: bool = Field(True, description="Port 80 answers with a 301 to https (ACME challenges excepted).")
    hsts: Hsts | bool = True
    acme_challenge: bool = Field(True, description="Serve /.well-known/acme-challenge/ on port 80 for http-01.")
    http2: bool = True
    trusted_chain: bool = Field(True, description="Emit ssl_trusted_certificate chain.pem (for OCSP stapling).")


class Site(Options):
    """One service: `sites/<name>.yml`."""

    name: Name = Field("", description="Filled from the file name.")
    description: Text = ""
    server_names: Annotated[list[ServerName], AfterValidator(no_duplicates)] = Field(min_length=1)
    tls: Tls | None = None
    redirect: Redirect | None = Field(None, description="Redirect-only site: every request goes to `to`.")
    upstreams: dict[Name, Upstream] = Field(default_factory=dict)
    maps: list[MapDecl] = Field(default_factory=list)
    geos: list[GeoDecl] = Field(default_factory=list)
    error_pages: list[int] = Field(default_factory=list, description="Statuses answered with proxygen.yml error_pages.")
    pages: list[Name] = Field(default_factory=list, description="Files of proxygen.yml `pages:` served at /<file>.")
    logs: Logs = Field(default_factory=Logs)
    crawler_defence: bool = Field(False, description="Include the host's crawler-defence snippet in this server.")
    locations: list[Location] = Field(default_factory=list)

    @model_validator(mode="after")
    def _shape(self):
        if self.redirect is not None and self.locations:
            raise ValueError("a redirect-only site has no locations")
        if self.redirect is None and not self.locations:
            raise ValueError("declare locations, or make it a redirect-only site with redirect:")
        # nginx sees `location /x` and `location ^~ /x` as the same location
        paths = [("prefix" if loc.match == "prefix_priority" else loc.match, loc.path) for loc in self.locations]
        dup = sorted({f"{m} {p}" for m, p in paths if paths.count((m, p)) > 1})
        if dup:
            raise ValueError(f"location declared twice: {', '.join(dup)}")
        return self

    def all_options(self):
        """The site itself, then each location: everything that carries Options."""
        yield (), self
        for i, loc in enumerate(self.locations):
            yield ("locations", i), loc
