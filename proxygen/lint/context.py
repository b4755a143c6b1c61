"""What lint rules look at: the loaded repository, the built hosts and their parsed config.

Everything expensive is computed once, on first use: rules that only read declarations
never pay for a build, and every generated-config rule shares one parse per file.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Iterator

from proxygen.errors import Position

if TYPE_CHECKING:
    from proxygen.compile.build import BuildResult
    from proxygen.compile.check import Node
    from proxygen.model import Repository
    from proxygen.model.site import Site


@dataclass
class LintContext:
    repo: "Repository"
    build: "BuildResult | None" = None
    today: datetime.date = field(default_factory=datetime.date.today)

    # --- declarations -------------------------------------------------------------------------
    @property
    def settings(self):
        return self.repo.settings

    def sites(self) -> Iterator[tuple[str, "Site"]]:
        """(file, site) for every declared site, served or not, in name order."""
        for name in sorted(self.repo.sites):
            yield self.repo.site_file(name), self.repo.sites[name]

    @cached_property
    def hosts_of_site(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for host_name, host in sorted(self.settings.hosts.items()):
            for site in host.sites:
                out.setdefault(site, []).append(host_name)
        return out

    def position(self, source: str, loc: tuple = ()) -> Position:
        return self.repo.position(source, loc)

    # --- blocklists ---------------------------------------------------------------------------
    @cached_property
    def blocklist(self):
        """The blocklists/ directory, or None when it does not load (the build reports that)."""
        from proxygen.blocklist import load_blocklists
        from proxygen.errors import ProxygenError

        if self.build is not None and self.build.blocklist is not None:
            return self.build.blocklist  # loaded once, by the build
        try:
            return load_blocklists(self.repo.root / self.settings.blocklists_dir)
        except ProxygenError:
            return None

    # --- generated config ---------------------------------------------------------------------
    def generated(self) -> Iterator[tuple[str, str, list["Node"]]]:
        """(host, relative path, parsed tree) of every generated file; empty when the build failed."""
        if self.build is None:
            return
        for host_name, out in sorted(self.build.hosts.items()):
            for rel in sorted(out.files):
                yield host_name, rel, self._tree(host_name, rel)

    def _tree(self, host: str, rel: str) -> list["Node"]:
        key = (host, rel)
        if key not in self._trees:
            from proxygen.compile.check import parse

            self._trees[key] = parse(self.build.hosts[host].files[rel], f"{host}/{rel}")
        return self._trees[key]

    @cached_property
    def _trees(self) -> dict:
        return {}

    def declaration_of(self, rel: str, location: "Node | None" = None) -> tuple[str, tuple]:
        """The declaration a generated block comes from: `sites/<name>.conf` -> `sites/<name>.yml`, and
        a location block -> its entry under `locations:` (the site itself when no entry matches)."""
        if not (rel.startswith("sites/") and rel.endswith(".conf")):
            return "proxygen.yml", ()
        name = rel[len("sites/"):-len(".conf")]
        source = self.repo.site_file(name)
        site = self.repo.sites.get(name)
        if site is None or location is None:
            return source, ()
        wanted = _location_key(location.args)
        for i, loc in enumerate(site.locations):
            if (loc.match, loc.path) == wanted:
                return source, ("locations", i)
        return source, ()


_MODIFIERS = {"=": "exact", "~": "regex", "~*": "regex_i", "^~": "prefix_priority"}


def _location_key(args: list[str]) -> tuple[str, str]:
    if len(args) == 2 and args[0] in _MODIFIERS:
        return _MODIFIERS[args[0]], args[1]
    path = args[-1] if args else ""
    return ("named" if path.startswith("@") else "prefix"), path


def walk(nodes: list["Node"], parents: tuple = ()) -> Iterator[tuple["Node", tuple]]:
    """Every node with the chain of blocks enclosing it (outermost first)."""
    for node in nodes:
        yield node, parents
        if node.block is not None:
            yield from walk(node.block, parents + (node,))
