"""The built wheel: no setuptools warnings, and every non-Python file kanal needs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                                 "kanal-data", "test-artifacts", "*.sqlite3*", ".env")


def test_the_wheel_builds_without_warnings_and_carries_the_data_files(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=_IGNORE)
    (src / "gateway" / "__pycache__").mkdir(exist_ok=True)  # as in a used checkout
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
         "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    log = out.stdout + out.stderr
    assert "absent from the `packages` configuration" not in log
    assert "BuildBackendWarning" not in log and "SetuptoolsDeprecationWarning" not in log
    (wheel,) = (tmp_path / "dist").glob("kanal-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = [n for n in names if not n.endswith(".py") and ".dist-info/" not in n]
    for tree, pattern in (("gateway/templates", "*.html"), ("gateway/static", "*"),
                          ("gateway/locale", "*/LC_MESSAGES/*.po"),
                          ("core/migrations", "script.py.mako")):
        wanted = {p.relative_to(REPO).as_posix() for p in (REPO / tree).glob(pattern)
                  if p.is_file()}
        assert wanted and wanted <= names, f"{tree}: missing {sorted(wanted - names)}"
    versions = {p.relative_to(REPO).as_posix()
                for p in (REPO / "core" / "migrations" / "versions").glob("0*.py")}
    assert versions and versions <= names
    for name in ("channels.yaml", "categories.yaml", "sla.yaml", "units.yaml"):
        assert f"kanal-0.1.0.data/data/share/kanal/config/{name}" in names
    assert not [n for n in names if "__pycache__" in n], data
