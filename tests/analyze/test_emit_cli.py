"""`crawlers analyze --emit`: findings become analyzer.yml entries, once; human files untouched."""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "access-sample.log.gz"
MMDB = ROOT / "examples" / "synthetic-asn.mmdb"


def _emit(blocklists: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "proxygen", "crawlers", "analyze", str(SAMPLE), "--asn-db", str(MMDB),
         "--emit", "--dir", str(blocklists), "--json"],
        capture_output=True, text=True, cwd=ROOT)


def test_emit_is_idempotent_and_leaves_manual_file_alone(tmp_path):
    blocklists = tmp_path / "blocklists"
    blocklists.mkdir()
    manual = blocklists / "manual.yml"
    manual.write_bytes((ROOT / "blocklists" / "manual.yml").read_bytes())
    before = manual.read_bytes()

    first = _emit(blocklists)
    assert first.returncode == 0, first.stderr
    analyzer = blocklists / "analyzer.yml"
    entries = yaml.safe_load(analyzer.read_text())["entries"]
    assert len(entries) >= 5
    assert {"asn": "AS136907", "action": "block"}.items() <= next(e for e in entries if "asn" in e).items()
    assert " added" in first.stderr and "0 added" not in first.stderr
    text_after_first = analyzer.read_bytes()

    second = _emit(blocklists)
    assert second.returncode == 0, second.stderr
    assert "0 added" in second.stderr
    assert analyzer.read_bytes() == text_after_first
    assert manual.read_bytes() == before
