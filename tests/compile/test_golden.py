"""Golden files: the rendered output of every shipped host and site, compared byte for byte.

After an intended change to templates/, sites/ or proxygen.yml, regenerate and review the diff:

    PROXYGEN_REGEN_GOLDEN=1 .venv/bin/python -m pytest -q tests/compile/test_golden.py
    git diff tests/compile/golden/
"""

from __future__ import annotations

import os
import shutil

import pytest

from proxygen.compile.build import build
from proxygen.model import load_repository

from .conftest import REPO, write_repo

GOLDEN = REPO / "tests" / "compile" / "golden"
REGEN = os.environ.get("PROXYGEN_REGEN_GOLDEN") == "1"


def _outputs():
    out = {}
    for host, host_out in build(load_repository(REPO)).hosts.items():
        for rel, text in host_out.files.items():
            out[f"shipped/{host}/{rel}"] = text
    return out


def _full_site_outputs(tmp_path):
    write_repo(tmp_path)
    return {f"full-site/{host}/{rel}": text
            for host, h in build(load_repository(tmp_path)).hosts.items() for rel, text in h.files.items()}


def test_golden_files(tmp_path):
    outputs = {**_outputs(), **_full_site_outputs(tmp_path)}
    if REGEN:
        if GOLDEN.exists():
            shutil.rmtree(GOLDEN)
        for rel, text in outputs.items():
            path = GOLDEN / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        pytest.skip("golden files regenerated; review `git diff tests/compile/golden/`")
    on_disk = {str(p.relative_to(GOLDEN)): p.read_text(encoding="utf-8") for p in GOLDEN.rglob("*") if p.is_file()}
    assert sorted(on_disk) == sorted(outputs), "golden file set differs (PROXYGEN_REGEN_GOLDEN=1 to refresh)"
    for rel in sorted(outputs):
        assert outputs[rel] == on_disk[rel], f"{rel} differs from its golden file (PROXYGEN_REGEN_GOLDEN=1 to refresh)"
    assert any(rel.endswith("sites/openfoodfacts.conf") for rel in outputs)
