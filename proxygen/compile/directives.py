"""proxygen's own nginx directive table: where each directive may appear and how many arguments it takes.

crossplane's table stops around nginx 1.19 (it rejects `http2 on`, `ssl_reject_handshake`,
`keepalive_time`...) and reports every map/geo entry as an unknown directive. This table covers
what the templates emit and what `directives:` may add, with the nginx version that introduced a
directive when it is recent, and treats the bodies of map, geo and types as data.
"""

from __future__ import annotations

from dataclasses import dataclass

MAIN, EVENTS, HTTP, SERVER, LOCATION, IF, UPSTREAM = "main", "events", "http", "server", "location", "if", "upstream"
# Blocks whose body is data (key value pairs), not directives.
DATA_BLOCKS = frozenset({"map", "geo", "types", "split_clients", "match"})

SRV_LOC = frozenset({HTTP, SERVER, LOCATION})
SRV_LOC_IF = frozenset({HTTP, SERVER, LOCATION, IF})


@dataclass(frozen=True)
class Spec:
    contexts: frozenset[str]
    min_args: int
    max_args: int | None  # None: unbounded
    block: bool = False
    since: tuple[int, int, int] | None = None

    def accepts(self, n: int) -> bool:
        return n >= self.min_args and (self.max_args is None or n <= self.max_args)

    def describe_args(self) -> str:
        if self.max_args == self.min_args:
            return f"{self.min_args} argument(s)"
        if self.max_args is None:
            return f"at least {self.min_args} argument(s)"
        return f"{self.min_args} to {self.max_args} arguments"


def _s(contexts, lo, hi=None, *, block=False, since=None, exact=True) -> Spec:
    hi = lo if (hi is None and exact) else hi
    return Spec(frozenset(contexts), lo, hi, block, since)


def _any(contexts, lo=1) -> Spec:
    return Spec(frozenset(contexts), lo, None)


DIRECTIVES: dict[str, Spec] = {
    # main / events
    "user": _s({MAIN}, 1, 2),
    "worker_processes": _s({MAIN}, 1),
    "worker_cpu_affinity": _any({MAIN}),
    "worker_rlimit_nofile": _s({MAIN}, 1),
    "pid": _s({MAIN}, 1),
    "error_log": _any({MAIN, HTTP, SERVER, LOCATION}),
    "include": _s({MAIN, EVENTS, HTTP, SERVER, LOCATION, IF, UPSTREAM, "map", "geo", "types"}, 1),
    "events": _s({MAIN}, 0, block=True),
    "http": _s({MAIN}, 0, block=True),
    "worker_connections": _s({EVENTS}, 1),
    "multi_accept": _s({EVENTS}, 1),
    # http core
    "server": Spec(frozenset({HTTP, UPSTREAM}), 0, None, False),  # block in http, directive in upstream
    "location": _s({SERVER, LOCATION}, 1, 2, block=True),
    "if": Spec(frozenset({SERVER, LOCATION}), 1, None, True),
    "listen": _any({SERVER}),
    "server_name": _any({SERVER}),
    "http2": _s({HTTP, SERVER}, 1, since=(1, 25, 1)),
    "sendfile": _s(SRV_LOC_IF, 1),
    "sendfile_max_chunk": _s(SRV_LOC, 1),
    "tcp_nopush": _s(SRV_LOC, 1),
    "tcp_nodelay": _s(SRV_LOC, 1),
    "types_hash_max_size": _s(SRV_LOC, 1),
    "types": _s(SRV_LOC, 0, block=True),
    "default_type": _s(SRV_LOC, 1),
    "server_tokens": _s(SRV_LOC, 1),
    "server_names_hash_bucket_size": _s({HTTP}, 1),
    "server_names_hash_max_size": _s({HTTP}, 1),
    "map_hash_bucket_size": _s({HTTP}, 1),
    "map_hash_max_size": _s({HTTP}, 1),
    "variables_hash_bucket_size": _s({HTTP}, 1),
    "client_max_body_size": _s(SRV_LOC, 1),
    "client_body_timeout": _s(SRV_LOC, 1),
    "client_header_timeout": _s({HTTP, SERVER}, 1),
    "client_body_buffer_size": _s(SRV_LOC, 1),
    "client_body_temp_path": _s(SRV_LOC, 1, 4),
    "proxy_temp_path": _s(SRV_LOC, 1, 4),
    "fastcgi_temp_path": _s(SRV_LOC, 1, 4),
    "uwsgi_temp_path": _s(SRV_LOC, 1, 4),
    "scgi_temp_path": _s(SRV_LOC, 1, 4),
    "large_client_header_buffers": _s({HTTP, SERVER}, 2),
    "keepalive_timeout": _s(SRV_LOC | {UPSTREAM}, 1, 2),
    "keepalive_requests": _s(SRV_LOC | {UPSTREAM}, 1),
    "keepalive_time": _s(SRV_LOC | {UPSTREAM}, 1, since=(1, 19, 10)),
    "send_timeout": _s(SRV_LOC, 1),
    "root": _s(SRV_LOC_IF, 1),
    "alias": _s({LOCATION}, 1),
    "index": _any(SRV_LOC),
    "try_files": _any({SERVER, LOCATION}, 2),
    "error_page": _any(SRV_LOC_IF, 2),
    "internal": _s({LOCATION}, 0),
    "return": _s({SERVER, LOCATION, IF}, 1, 2),
    "rewrite": _s({SERVER, LOCATION, IF}, 2, 3),
    "set": _s({SERVER, LOCATION, IF}, 2),
    "expires": _s(SRV_LOC_IF, 1, 2),
    "add_header": _s(SRV_LOC_IF, 2, 3),
    "add_trailer": _s(SRV_LOC_IF, 2, 3),
    "etag": _s(SRV_LOC, 1),
    "charset": _s(SRV_LOC_IF, 1),
    "autoindex": _s(SRV_LOC, 1),
    "absolute_redirect": _s(SRV_LOC, 1),
    "port_in_redirect": _s(SRV_LOC, 1),
    "merge_slashes": _s({HTTP, SERVER}, 1),
    "resolver": _any(SRV_LOC),
    "resolver_timeout": _s(SRV_LOC, 1),
    "access_log": _any(SRV_LOC_IF | {"limit_except"}),
    "log_format": _any({HTTP}, 2),
    "open_log_file_cache": _s(SRV_LOC, 1, 4),
    "log_not_found": _s(SRV_LOC, 1),
    "log_subrequest": _s(SRV_LOC, 1),
    "allow": _s(SRV_LOC | {"limit_except"}, 1),
    "deny": _s(SRV_LOC | {"limit_except"}, 1),
    "satisfy": _s(SRV_LOC, 1),
    "auth_basic": _s(SRV_LOC | {"limit_except"}, 1),
    "auth_basic_user_file": _s(SRV_LOC | {"limit_except"}, 1),
    "limit_except": Spec(frozenset({LOCATION}), 1, None, True),
    "gzip": _s(SRV_LOC_IF, 1),
    "gzip_types": _any(SRV_LOC),
    "gzip_proxied": _any(SRV_LOC),
    "gzip_vary": _s(SRV_LOC, 1),
    "gzip_comp_level": _s(SRV_LOC, 1),
    "gzip_min_length": _s(SRV_LOC, 1),
    "real_ip_header": _s(SRV_LOC, 1),
    "set_real_ip_from": _s(SRV_LOC, 1),
    "real_ip_recursive": _s(SRV_LOC, 1),
    "sub_filter": _s(SRV_LOC, 2),
    "sub_filter_once": _s(SRV_LOC, 1),
    "sub_filter_types": _any(SRV_LOC),
    "stub_status": _s({SERVER, LOCATION}, 0, 1),
    # map / geo (bodies are data)
    "map": _s({HTTP}, 2, block=True),
    "geo": _s({HTTP}, 1, 2, block=True),
    # limits
    "limit_req_zone": _s({HTTP}, 3, 4),
    "limit_req": _s(SRV_LOC, 1, 3),
    "limit_req_status": _s(SRV_LOC, 1),
    "limit_req_log_level": _s(SRV_LOC, 1),
    "limit_req_dry_run": _s(SRV_LOC, 1, since=(1, 17, 1)),
    "limit_conn_zone": _s({HTTP}, 2),
    "limit_conn": _s(SRV_LOC, 2),
    "limit_conn_status": _s(SRV_LOC, 1),
    "limit_rate": _s(SRV_LOC_IF, 1),
    # proxy
    "proxy_pass": _s({LOCATION, IF}, 1),
    "proxy_set_header": _s(SRV_LOC, 2),
    "proxy_hide_header": _s(SRV_LOC, 1),
    "proxy_pass_header": _s(SRV_LOC, 1),
    "proxy_http_version": _s(SRV_LOC, 1),
    "proxy_redirect": _s(SRV_LOC, 1, 2),
    "proxy_buffering": _s(SRV_LOC, 1),
    "proxy_request_buffering": _s(SRV_LOC, 1),
    "proxy_buffer_size": _s(SRV_LOC, 1),
    "proxy_buffers": _s(SRV_LOC, 2),
    "proxy_busy_buffers_size": _s(SRV_LOC, 1),
    "proxy_temp_file_write_size": _s(SRV_LOC, 1),
    "proxy_max_temp_file_size": _s(SRV_LOC, 1),
    "proxy_connect_timeout": _s(SRV_LOC, 1),
    "proxy_read_timeout": _s(SRV_LOC, 1),
    "proxy_send_timeout": _s(SRV_LOC, 1),
    "proxy_intercept_errors": _s(SRV_LOC, 1),
    "proxy_next_upstream": _any(SRV_LOC),
    "proxy_next_upstream_tries": _s(SRV_LOC, 1),
    "proxy_ssl_server_name": _s(SRV_LOC, 1),
    "proxy_ssl_verify": _s(SRV_LOC, 1),
    "proxy_ignore_headers": _any(SRV_LOC),
    "proxy_cache_path": _any({HTTP}, 2),
    "proxy_cache": _s(SRV_LOC, 1),
    "proxy_cache_key": _s(SRV_LOC, 1),
    "proxy_cache_valid": _any(SRV_LOC),
    "proxy_cache_bypass": _any(SRV_LOC),
    "proxy_no_cache": _any(SRV_LOC),
    "proxy_cache_lock": _s(SRV_LOC, 1),
    "proxy_cache_use_stale": _any(SRV_LOC),
    "proxy_cache_methods": _any(SRV_LOC),
    "proxy_cache_min_uses": _s(SRV_LOC, 1),
    "proxy_cache_background_update": _s(SRV_LOC, 1),
    # upstream
    "upstream": _s({HTTP}, 1, block=True),
    "keepalive": _s({UPSTREAM}, 1),
    "least_conn": _s({UPSTREAM}, 0),
    "ip_hash": _s({UPSTREAM}, 0),
    # ssl
    "ssl_certificate": _s({HTTP, SERVER}, 1),
    "ssl_certificate_key": _s({HTTP, SERVER}, 1),
    "ssl_trusted_certificate": _s({HTTP, SERVER}, 1),
    "ssl_protocols": _any({HTTP, SERVER}),
    "ssl_ciphers": _s({HTTP, SERVER}, 1),
    "ssl_prefer_server_ciphers": _s({HTTP, SERVER}, 1),
    "ssl_ecdh_curve": _s({HTTP, SERVER}, 1),
    "ssl_session_cache": _s({HTTP, SERVER}, 1, 2),
    "ssl_session_timeout": _s({HTTP, SERVER}, 1),
    "ssl_session_tickets": _s({HTTP, SERVER}, 1),
    "ssl_dhparam": _s({HTTP, SERVER}, 1),
    "ssl_stapling": _s({HTTP, SERVER}, 1),
    "ssl_stapling_verify": _s({HTTP, SERVER}, 1),
    "ssl_reject_handshake": _s({HTTP, SERVER}, 1, since=(1, 19, 4)),
    "ssl_early_data": _s({HTTP, SERVER}, 1),
    "http2_max_concurrent_streams": _s({HTTP, SERVER}, 1, since=(1, 25, 1)),
}

# Directives `directives:` may never set: they read files, load code, or change what the config is.
FORBIDDEN: dict[str, str] = {
    "include": "configuration comes from declarations only",
    "user": "set per host in proxygen.yml",
    "pid": "set per host in proxygen.yml",
    "events": "generated",
    "http": "generated",
    "server": "generated",
    "location": "declare it under locations:",
    "if": "use rules:",
    "upstream": "declare it under upstreams:",
    "map": "declare it under maps:",
    "geo": "declare it under geos:",
    "types": "generated",
    "listen": "derived from tls:",
    "server_name": "use server_names:",
    "ssl_certificate": "use tls.certificate",
    "ssl_certificate_key": "use tls.certificate",
    "proxy_pass": "use proxy:",
    "log_format": "declare it in proxygen.yml log_formats:",
    "limit_req_zone": "declare it in proxygen.yml rate_limit_zones:",
    "proxy_cache_path": "declare it in proxygen.yml cache_zones:",
    "client_body_temp_path": "set per host in proxygen.yml (paths.temp)",
    "proxy_temp_path": "set per host in proxygen.yml (paths.temp)",
    "fastcgi_temp_path": "set per host in proxygen.yml (paths.temp)",
    "uwsgi_temp_path": "set per host in proxygen.yml (paths.temp)",
    "scgi_temp_path": "set per host in proxygen.yml (paths.temp)",
    "limit_except": "a block",
    "root": "use static:",
    "alias": "use static:",
    "try_files": "use static:",
    # files read or written as root: only through typed fields with fixed places
    "access_log": "use logs:",
    "error_log": "use logs:",
    "auth_basic": "use basic_auth:",
    "auth_basic_user_file": "use basic_auth:",
    "ssl_trusted_certificate": "use tls:",
    "ssl_dhparam": "set TLS defaults in proxygen.yml",
    "ssl_reject_handshake": "set per host in proxygen.yml (reject_unknown_hosts)",
    # what the model expresses (and merges across server/location correctly)
    "add_header": "use headers:",
    "proxy_set_header": "use proxy_headers: or header_set:",
    "limit_req": "use rate_limits:",
    "limit_req_status": "use rate_limit_status:",
    "limit_req_dry_run": "use rate_limit_dry_run:",
    "proxy_cache": "use cache:",
    "proxy_cache_key": "use cache:",
    "proxy_cache_valid": "use cache:",
    "allow": "use access:",
    "deny": "use access: or deny: true",
    "return": "use return:, redirect: or rules:",
    "rewrite": "use rules:",
    "set": "use maps:",
    "error_page": "use error_pages:",
    "http2": "derived from tls.http2 and the host's nginx version",
    "client_max_body_size": "use client_max_body_size:",
    "proxy_buffering": "use buffering:",
    "proxy_request_buffering": "use request_buffering:",
    "proxy_read_timeout": "use timeouts:",
    "proxy_connect_timeout": "use timeouts:",
    "proxy_send_timeout": "use timeouts:",
    "proxy_redirect": "use proxy.redirect",
    "proxy_http_version": "use proxy.http_version",
    "proxy_intercept_errors": "use intercept_errors:",
}


def block_context(name: str, parent: str) -> str:
    """The context a block directive opens (an `if` inside a location is still 'if')."""
    return name
