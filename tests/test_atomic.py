"""proxygen.atomic: old file or new file, never half of either, and readable by others."""

import stat

import pytest

from proxygen.atomic import atomic_write


def test_new_file_is_world_readable_and_complete(tmp_path):
    target = tmp_path / "report.html"
    atomic_write(target, "<html>ok</html>")
    assert target.read_text() == "<html>ok</html>"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_replacing_keeps_the_existing_mode(tmp_path):
    target = tmp_path / "manual.yml"
    target.write_text("old\n")
    target.chmod(0o600)
    atomic_write(target, "new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "analyzer.yml"
    target.write_text("old\n")
    with pytest.raises(UnicodeEncodeError):
        atomic_write(target, "half \udc80 written")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["analyzer.yml"]
