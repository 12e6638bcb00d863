"""The layering of the apps (pyproject.toml, [tool.importlinter]) holds, and the contracts
would catch the two mistakes they exist for: the base importing a domain app, and two
domain apps importing each other.

``make lint`` runs the same contracts; this test runs them on a copy of the code with one
import added, to show that they are not vacuous.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("clinic", "patients", "scheduling", "infusions", "content", "outcomes")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=tree,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the application code and pyproject.toml (not the tests' data, not .venv)."""
    for app in APPS:
        shutil.copytree(
            ROOT / app, tmp_path / app, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(tree: Path, module: str, line: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_contracts_hold(tree):
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 5 kept, 0 broken." in result.stdout


def test_the_base_importing_a_domain_app_breaks_them(tree):
    add_import(tree, "clinic.audit", "from patients.models import Patient  # noqa")
    result = lint_imports(tree)
    assert result.returncode == 1
    assert "The base (clinic) imports no domain app" in result.stdout
    assert "clinic.audit -> patients.models" in result.stdout


def test_a_cycle_between_domain_apps_breaks_them(tree):
    # scheduling already imports patients; patients importing scheduling closes the circle.
    add_import(tree, "patients.selectors", "from scheduling.models import Appointment  # noqa")
    result = lint_imports(tree)
    assert result.returncode == 1
    assert "patients is not allowed to import scheduling" in result.stdout
    assert "patients.selectors -> scheduling.models" in result.stdout


def test_content_reading_patient_data_breaks_them(tree):
    add_import(tree, "content.selectors", "from patients.models import Patient  # noqa")
    result = lint_imports(tree)
    assert result.returncode == 1
    assert "content knows no patient data" in result.stdout
