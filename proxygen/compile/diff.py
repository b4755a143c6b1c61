"""What a change does to the generated config, per host, as unified diff lines.

`diff_against_output` compares a fresh build with an output directory (what `build` would
write); `diff_against_base` compares the builds of the declarations at a git revision and in
the working tree, both rendered by this proxygen: the pull-request view, in nginx terms.
"""

from __future__ import annotations

import difflib
from pathlib import Path


def _unified(old: dict[str, str], new: dict[str, str], host: str) -> list[str]:
    lines: list[str] = []
    for rel in sorted(set(old) | set(new)):
        a, b = old.get(rel), new.get(rel)
        if a == b:
            continue
        lines.extend(difflib.unified_diff((a or "").splitlines(), (b or "").splitlines(),
                                          f"a/{host}/{rel}" if a is not None else "/dev/null",
                                          f"b/{host}/{rel}" if b is not None else "/dev/null", lineterm=""))
    return lines


def diff_against_output(root: str | Path, out: str | Path, host: str | None = None) -> list[str]:
    from proxygen.compile.build import build
    from proxygen.compile.output import read_manifest
    from proxygen.model import load_repository

    out = Path(out)
    result = build(load_repository(root), host)
    lines: list[str] = []
    for host_name, host_out in sorted(result.hosts.items()):
        old = {}
        for rel in read_manifest(out / host_name) | set(host_out.files):
            target = out / host_name / rel
            if target.is_file():
                old[rel] = target.read_text(encoding="utf-8")
        lines += _unified(old, host_out.files, host_name)
    return lines


def diff_against_base(root: str | Path, base: str, host: str | None = None) -> list[str]:
    """Hosts added or removed since `base` show as whole files added or removed."""
    from proxygen.compile.build import build
    from proxygen.model.revision import repository_at
    from proxygen.model import load_repository

    root = Path(root)
    new_repo = load_repository(root)
    new = {h: o.files for h, o in build(new_repo, host if host in new_repo.settings.hosts else None).hosts.items()
           if host is None or h == host}
    with repository_at(root, base) as old_root:
        try:
            old_repo = load_repository(old_root)
        except Exception as err:  # the base may be broken; say so instead of hiding the diff
            from proxygen.errors import ProxygenError

            if not isinstance(err, ProxygenError):
                raise
            raise ProxygenError(f"--base {base}: the declarations at that revision do not load:\n{err}") from None
        old = {h: o.files for h, o in build(old_repo).hosts.items() if host is None or h == host}
    lines: list[str] = []
    for host_name in sorted(set(old) | set(new)):
        lines += _unified(old.get(host_name, {}), new.get(host_name, {}), host_name)
    return lines
