"""Running the real nginx on generated config: `nginx -t` in a throwaway prefix.

nginx only ever sees config proxygen built (ingress-nginx's lesson: `nginx -t` on
user-supplied config is an attack vector). A host is rendered for the sandbox: its
certificate, log, cache, pid, html, ACME and temp paths point inside a temporary prefix, it
listens on free high ports (nginx -t binds them; this works unprivileged and beside a running nginx),
certificates present on this machine are used and missing ones replaced by one throwaway
self-signed EC pair (the report lists them), and the
target version is the installed nginx's (Debian ships 1.22, production runs
mainline, so `http2` moves to the `listen` line; the report says so).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from proxygen.errors import ProxygenError


class NginxNotFound(ProxygenError):
    """No nginx binary to run."""


@dataclass
class NginxCheck:
    host: str
    ok: bool
    output: str
    rendered_version: str
    target_version: str
    stand_ins: list[str] = field(default_factory=list)  # certificate names missing here (throwaway used)

    @property
    def version_note(self) -> str:
        if self.rendered_version == self.target_version:
            return ""
        return f"rendered for the installed nginx {self.rendered_version} (host targets {self.target_version})"


def find_nginx(binary: str | None = None) -> str:
    path = binary or shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not path or not os.path.exists(path):
        raise NginxNotFound("nginx is not installed (apt-get install nginx-light, or pass --nginx-binary)")
    return path


def installed_version(binary: str) -> str:
    proc = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
    m = re.search(r"nginx/([0-9]+\.[0-9]+\.[0-9]+)", proc.stderr + proc.stdout)
    if not m:
        raise NginxNotFound(f"cannot tell the version of {binary}: {proc.stderr.strip()}")
    return m.group(1)


def throwaway_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed EC certificate and key (about 10 ms with openssl)."""
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = directory / "privkey.pem", directory / "fullchain.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=proxygen-sandbox"],
        check=True, capture_output=True, timeout=30)
    return cert, key


def sandbox_adapters(prefix: Path, version: str):
    """Functions that move a host's and the settings' paths into `prefix` and retarget the version."""
    from proxygen.model.settings import HostPaths

    def adapt_host(host):
        paths = HostPaths(
            certificates=str(prefix / "certs"), logs=str(prefix / "logs"), cache=str(prefix / "cache"),
            pid=str(prefix / "nginx.pid"), html=str(prefix / "html"), acme=str(prefix / "acme"),
            temp=str(prefix / "temp"),
            mime_types=host.paths.mime_types if os.path.exists(host.paths.mime_types)
            else str(prefix / "mime.types"))
        user = host.user
        if user is not None and (os.geteuid() != 0 or not _user_exists(user)):
            user = None  # nginx -t would fail on a user this machine lacks; production keeps it
        # nginx -t binds the listen sockets: free high ports work unprivileged and beside a running nginx
        http_port, https_port = _free_ports(2)
        return host.model_copy(update={"paths": paths, "user": user, "nginx_version": version,
                                       "http_port": http_port, "https_port": https_port})

    def adapt_settings(settings):
        zones = {name: z.model_copy(update={"path": f"zone-{name}"}) for name, z in settings.cache_zones.items()}
        return settings.model_copy(update={"cache_zones": zones})

    return adapt_host, adapt_settings


def _free_ports(n: int) -> list[int]:
    import socket

    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def check_hosts(repo, host: str | None = None, binary: str | None = None) -> list[NginxCheck]:
    """Build each selected host for a sandbox and run `nginx -t` on it."""
    from proxygen.compile.build import build, select_hosts

    nginx = find_nginx(binary)
    version = installed_version(nginx)
    results = []
    for target in select_hosts(repo, host):
        with tempfile.TemporaryDirectory(prefix=f"proxygen-{target.name}-") as tmp:
            prefix = Path(tmp)
            adapt_host, adapt_settings = sandbox_adapters(prefix, version)
            out = build(repo, target.name, adapt=adapt_host, adapt_settings=adapt_settings).hosts[target.name]
            results.append(run_test(out.files, prefix, nginx, _certificates(repo, target), target.name,
                                    version, target.nginx_version, target.paths.certificates))
    return results


def _certificates(repo, host) -> list[str]:
    return sorted({s.tls.certificate for s in repo.sites_of(host) if s.tls is not None})


def run_test(files: dict[str, str], prefix: Path, nginx: str, certificates: list[str], host: str,
             version: str, target: str, real_certificates: str | None = None) -> NginxCheck:
    """Write `files` into `prefix` and run `nginx -t` there.

    A certificate present under `real_certificates` (on the proxy itself) is used as is, so a wrong
    name or an unreadable key is caught; the others get the throwaway pair and are listed in
    `stand_ins`.
    """
    for rel, text in files.items():
        path = prefix / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for sub in ("logs", "cache", "html", "acme", "temp"):
        (prefix / sub).mkdir(exist_ok=True)
    if not (prefix / "mime.types").exists():
        (prefix / "mime.types").write_text("types {\n    text/html html;\n}\n")
    stand_ins = []
    throwaway = None
    for name in certificates:
        d = prefix / "certs" / name
        d.mkdir(parents=True, exist_ok=True)
        real = Path(real_certificates) / name if real_certificates else None
        if real is not None and all(os.access(real / f, os.R_OK) for f in ("fullchain.pem", "privkey.pem")):
            for f in ("fullchain.pem", "privkey.pem", "chain.pem"):
                source = real / f if (real / f).exists() else real / "fullchain.pem"
                os.symlink(source, d / f)
            continue
        if throwaway is None:
            throwaway = throwaway_certificate(prefix / "certs" / ".throwaway")
        cert, key = throwaway
        shutil.copy(cert, d / "fullchain.pem")
        shutil.copy(cert, d / "chain.pem")
        shutil.copy(key, d / "privkey.pem")
        stand_ins.append(name)
    proc = subprocess.run([nginx, "-t", "-q", "-e", "stderr", "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf")],
                          capture_output=True, text=True, timeout=60)
    output = (proc.stderr + proc.stdout).replace(f"{prefix}/", "").strip()
    # a warning is a finding too: "conflicting server name ... ignored" means a site is unreachable
    ok = proc.returncode == 0 and "[warn]" not in output and "[emerg]" not in output
    return NginxCheck(host, ok, output, version, target, stand_ins)
