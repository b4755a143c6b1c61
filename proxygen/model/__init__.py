"""The declaration model: proxy-wide settings, site declarations, shared allowlists.

`load_repository(root)` reads `proxygen.yml` and every `sites/*.yml`, validates
them, resolves every reference by name, and raises one DeclarationError listing
every problem (with file:line:col) if anything is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from proxygen.errors import DeclarationError, Position, Problem
from proxygen.model.settings import Host, Settings, load_settings
from proxygen.model.site import Site

__all__ = ["Repository", "load_repository", "load_settings", "Settings", "Site", "Host"]

SETTINGS_FILE = "proxygen.yml"
SITES_DIR = "sites"


@dataclass
class Repository:
    """Validated settings and sites, with the YAML documents they came from (for positions)."""

    root: Path
    settings: Settings
    sites: dict[str, Site]
    documents: dict[str, object] = field(default_factory=dict)  # source name -> yamlpos.Document

    def site_file(self, name: str) -> str:
        return f"{SITES_DIR}/{name}.yml"

    def position(self, source: str, loc: tuple = ()) -> Position:
        doc = self.documents.get(source)
        return doc.position(loc) if doc is not None else Position(source)

    def host(self, name: str) -> Host:
        return self.settings.hosts[name]

    def sites_of(self, host: Host) -> list[Site]:
        return [self.sites[name] for name in host.sites]


def load_repository(root: str | Path = ".") -> Repository:
    """Load and cross-check proxygen.yml and sites/*.yml under `root`."""
    from proxygen.model.references import check_references
    from proxygen.model.yamlpos import load_yaml, validate

    root = Path(root)
    problems: list[Problem] = []
    documents: dict[str, object] = {}
    settings: Settings | None = None
    settings_path = root / SETTINGS_FILE
    if not settings_path.is_file():
        raise DeclarationError([Problem(Position(SETTINGS_FILE), "", f"not found in {root.resolve()}")])
    try:
        doc = load_yaml(settings_path, SETTINGS_FILE)
        documents[SETTINGS_FILE] = doc
        settings = validate(Settings, doc)
    except DeclarationError as err:
        problems.extend(err.problems)

    sites: dict[str, Site] = {}
    for path in sorted((root / SITES_DIR).glob("*.yml")):
        name = path.stem
        source = f"{SITES_DIR}/{path.name}"
        try:
            doc = load_yaml(path, source)
            documents[source] = doc
            if isinstance(doc.data, dict) and "name" in doc.data:
                raise DeclarationError([Problem(doc.position(("name",)), "name",
                                                "the site name is the file name; remove this field")])
            data = {**doc.data, "name": name} if isinstance(doc.data, dict) else doc.data
            sites[name] = validate(Site, doc, data)
        except DeclarationError as err:
            problems.extend(err.problems)
    if (root / SITES_DIR).is_dir():
        for path in sorted((root / SITES_DIR).glob("*.yaml")):
            problems.append(Problem(Position(f"{SITES_DIR}/{path.name}"), "", "site files end in .yml"))

    repo = Repository(root, settings, sites, documents) if settings is not None else None
    if repo is not None and not problems:
        problems.extend(check_references(repo))
    if problems:
        raise DeclarationError(problems)
    return repo
