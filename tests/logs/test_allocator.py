"""open_logs sizes polars' allocator from the input before polars loads: eager memory return only for large inputs."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

from tests.logs.conftest import main_line

PROBE = r"""
import json, os, sys
import proxygen.logs.source as source
source.EAGER_MEMORY_RETURN_BYTES = int(sys.argv[2])
if sys.argv[3] == "polars-first":
    import polars
from proxygen.logs import open_logs
sized = source._size_allocator
def report(inputs):  # what polars will load with: open_logs may load it later (to check the format)
    sized(inputs)
    print(json.dumps(os.environ.get("_RJEM_MALLOC_CONF")))
    sys.exit(0)
source._size_allocator = report
open_logs([sys.argv[1]], "main")
"""


def _conf_after_open(path, threshold: int, *, polars_first=False, env=None) -> str | None:
    environ = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"} | (env or {})
    out = subprocess.run([sys.executable, "-c", PROBE, str(path), str(threshold),
                          "polars-first" if polars_first else "-"], capture_output=True, text=True, env=environ,
                         check=True)
    return json.loads(out.stdout)


def _log(tmp_path, n=200, gz=False):
    text = "".join(main_line(ip=f"192.0.2.{i % 50}") + "\n" for i in range(n)).encode()
    path = tmp_path / ("access.log.1.gz" if gz else "access.log")
    path.write_bytes(gzip.compress(text) if gz else text)
    return path, len(text)


def test_small_input_keeps_the_default_allocator(tmp_path):
    path, size = _log(tmp_path)
    assert _conf_after_open(path, size + 1) is None


def test_large_input_returns_memory_eagerly(tmp_path):
    path, size = _log(tmp_path)
    assert _conf_after_open(path, size) == "dirty_decay_ms:0,muzzy_decay_ms:0"


def test_gzip_input_counts_its_expanded_size(tmp_path):
    path, _ = _log(tmp_path, gz=True)
    compressed = path.stat().st_size
    assert _conf_after_open(path, compressed * 10) == "dirty_decay_ms:0,muzzy_decay_ms:0"
    assert _conf_after_open(path, compressed * 10 + 1) is None


def test_user_setting_and_an_already_loaded_polars_are_left_alone(tmp_path):
    path, size = _log(tmp_path)
    assert _conf_after_open(path, 1, env={"_RJEM_MALLOC_CONF": "dirty_decay_ms:5000"}) == "dirty_decay_ms:5000"
    assert _conf_after_open(path, 1, polars_first=True) != "dirty_decay_ms:0,muzzy_decay_ms:0"  # polars' own
