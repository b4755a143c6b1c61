"""The JSON schemas editors use (schemas/, referenced by .vscode/settings.json) match the model
and accept every shipped declaration. Regenerate with:
    proxygen schema site > schemas/site.schema.json && proxygen schema settings > schemas/proxygen.schema.json
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from proxygen.model.yamlpos import load_yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = {"site": REPO / "schemas" / "site.schema.json", "settings": REPO / "schemas" / "proxygen.schema.json"}


@pytest.mark.parametrize("what", sorted(SCHEMAS))
def test_shipped_schema_is_what_proxygen_schema_prints(what):
    printed = subprocess.run([sys.executable, "-m", "proxygen", "schema", what], capture_output=True, text=True,
                             check=True).stdout
    assert json.loads(printed) == json.loads(SCHEMAS[what].read_text()), \
        f"schemas/{SCHEMAS[what].name} is stale: regenerate it (see this file's docstring)"


def _validator(what):
    return jsonschema.Draft202012Validator(json.loads(SCHEMAS[what].read_text()))


def test_every_shipped_declaration_validates_against_the_editor_schema():
    site = _validator("site")
    files = sorted((REPO / "sites").glob("*.yml"))
    assert len(files) > 50
    for path in files:
        errors = [f"{list(e.path)}: {e.message}" for e in site.iter_errors(load_yaml(path).data)]
        assert errors == [], path.name
    assert list(_validator("settings").iter_errors(load_yaml(REPO / "proxygen.yml").data)) == []


def test_the_editor_schema_rejects_what_lint_rejects():
    site = _validator("site")
    good = {"server_names": ["a.example.org"], "locations": [{"path": "/", "return": 404}]}
    assert list(site.iter_errors(good)) == []
    for bad in ({**good, "server_name": ["typo.example.org"]},
                {**good, "locations": [{"path": "/", "return": "404"}]},
                {**good, "lint_ignore": [{"rule": "PX201"}]}):
        assert list(site.iter_errors(bad)), bad
