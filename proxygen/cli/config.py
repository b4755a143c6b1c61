"""Finding proxygen.yml for commands that work with or without one (logs, crawlers, blocklist)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

DEFAULT_CONFIG = "proxygen.yml"


def settings_path(config: Optional[Path]) -> Optional[Path]:
    """The --config file, else ./proxygen.yml if present, else None (the command uses its defaults)."""
    if config is not None:
        return config
    return Path(DEFAULT_CONFIG) if Path(DEFAULT_CONFIG).is_file() else None


def load_optional_settings(config: Optional[Path]):
    """(Settings, its path) from `settings_path(config)`, or (None, None); a named file that is missing is an error."""
    path = settings_path(config)
    if path is None:
        return None, None
    from proxygen.errors import ProxygenError
    from proxygen.model.settings import load_settings

    if not path.is_file():
        raise ProxygenError(f"{path}: settings file not found")
    return load_settings(path), path
