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
APPS = (
    "clinic",
    "patients",
    "scheduling",
    "infusions",
    "content",
    "outcomes",
    "billing",
    "interop",
)
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
    assert "Contracts: 7 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract", "shown"),
    [
        (  # the base importing a domain app
            "clinic.audit",
            "from patients.models import Patient",
            "The base (clinic) imports no domain app",
            "clinic.audit -> patients.models",
        ),
        (  # scheduling already imports patients: this closes a circle between two apps
            "patients.selectors",
            "from scheduling.models import Appointment",
            "patients is not allowed to import scheduling",
            "patients.selectors -> scheduling.models",
        ),
        (  # the discharge drafting the invoice itself instead of through scheduling.visit_end
            "infusions.discharge",
            "from billing.services import invoice_draft_for_visit",
            "Domain apps are layered",
            "infusions.discharge -> billing.services",
        ),
        (  # the public site reading patient data
            "content.selectors",
            "from patients.models import Patient",
            "content knows no patient data",
            "content.selectors -> patients.models",
        ),
        (  # a domain app leaning on the FHIR export, which sits on top of them all
            "outcomes.dashboard",
            "from interop.fhir.codes import LOINC",
            "interop sits on top of the domain apps",
            "outcomes.dashboard -> interop.fhir.codes",
        ),
        (  # the payment gateway reaching into the clinic's records
            "billing.stripe.gateway",
            "from patients.models import Patient",
            "The Stripe gateway knows no app",
            "billing.stripe.gateway -> patients.models",
        ),
    ],
)
def test_an_import_against_the_layers_breaks_them(tree, module, line, contract, shown):
    add_import(tree, module, f"{line}  # noqa")
    result = lint_imports(tree)
    assert result.returncode == 1
    assert contract in result.stdout
    assert shown in result.stdout
