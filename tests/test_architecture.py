"""The architecture holds (docs/architecture.md): cli -> commands -> stages -> shared modules,
checked by import-linter's contracts in pyproject.toml; click only in engine/cli; nothing prints
outside engine/cli and engine/report. Each check is also shown to fail on a tree that breaks it,
so a contract that silently stopped matching would be noticed."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]  # the checkout (tests/ is one level down)
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run the real `lint-imports` on the `engine` package under `root` with its pyproject."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config",
                           str(root / "pyproject.toml")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the engine and its contracts, to break on purpose."""
    shutil.copytree(ROOT / "engine", tmp_path / "engine", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_the_contracts_hold_on_the_tree() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 3 kept, 0 broken." in done.stdout


def test_the_copy_holds_before_it_is_broken(tree: Path) -> None:
    done = lint_imports(tree)
    assert done.returncode == 0, done.stdout + done.stderr
    assert str(tree) in subprocess.run(
        [sys.executable, "-c", "import engine; print(engine.__file__)"], cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True).stdout


@pytest.mark.parametrize(("module", "upward"), [
    ("repo/snapshot.py", "from engine.commands import check"),  # a stage importing a workflow
    ("catalog/model.py", "from engine.policy import decision"),  # a stage importing a higher one
    ("ledger/chain.py", "from engine.deploy import applied"),  # the import this issue removed
    ("commands/check.py", "from engine.cli import options"),  # a workflow importing the CLI
])
def test_an_upward_import_breaks_the_layers(tree: Path, module: str, upward: str) -> None:
    _append(tree / "engine" / module, upward)
    done = lint_imports(tree)
    assert done.returncode == 1, done.stdout
    assert "cli -> commands -> stages -> shared modules, never upward BROKEN" in done.stdout
    importer = "engine." + module.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> {upward.split()[1]}" in done.stdout


@pytest.mark.parametrize(("module", "added", "expected"), [
    ("bom/identity.py", "def _late() -> None:\n    from engine.ledger import store",
     ["cli -> commands -> stages -> shared modules, never upward BROKEN",
      "engine.bom.identity -> engine.ledger.store"]),  # imports inside functions count too
    ("report/text.py", "from engine.ledger import store",
     ["report renders data models only",
      "engine.report is not allowed to import engine.ledger.store"]),
    ("commands/bom.py", "import click", ["engine.commands is not allowed to import click"]),
])
def test_a_broken_contract_is_named(tree: Path, module: str, added: str,
                                    expected: list[str]) -> None:
    _append(tree / "engine" / module, added)
    done = lint_imports(tree)
    assert done.returncode == 1
    for line in expected:
        assert line in done.stdout


def test_a_package_without_a_place_in_the_layers_breaks_them(tree: Path) -> None:
    (tree / "engine" / "newstage").mkdir()
    (tree / "engine" / "newstage" / "__init__.py").write_text('"""A stage nobody placed."""\n')
    done = lint_imports(tree)
    assert done.returncode == 1
    assert "The following modules are not listed as layers:" in done.stdout
    assert "- engine.newstage" in done.stdout


# -- printing -----------------------------------------------------------------------------------

ALLOWED_TO_PRINT = ("cli", "report")


def _writes(node: ast.AST) -> bool:
    """print()/pprint(), click.echo/secho, sys.stdout/stderr.write(lines)."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Name):
        return func.id in ("print", "pprint")
    if not isinstance(func, ast.Attribute):
        return False
    if func.attr in ("echo", "secho"):
        return True
    return (func.attr in ("write", "writelines") and isinstance(func.value, ast.Attribute)
            and func.value.attr in ("stdout", "stderr"))


def _imports_rich(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").startswith("rich")
    return isinstance(node, ast.Import) and any(a.name.startswith("rich") for a in node.names)


def prints(source: str) -> list[int]:
    """Lines that write to the terminal, or bring in rich's Console to do so."""
    return sorted(node.lineno for node in ast.walk(ast.parse(source))
                  if isinstance(node, ast.stmt | ast.expr)
                  and (_writes(node) or _imports_rich(node)))


def _engine_modules() -> list[Path]:
    return sorted(p for p in (ROOT / "engine").rglob("*.py")
                  if "_stacks" not in p.parts and "__pycache__" not in p.parts)


def test_nothing_outside_cli_and_report_prints() -> None:
    offenders = []
    for path in _engine_modules():
        layer = path.relative_to(ROOT / "engine").parts[0]
        if layer in ALLOWED_TO_PRINT:
            continue
        offenders += [f"{path.relative_to(ROOT)}:{line}"
                      for line in prints(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_print_scan_finds_what_it_looks_for() -> None:
    source = ("import sys\nimport click\nfrom rich.console import Console\n"
              "print('a')\nclick.echo('b')\nsys.stderr.write('c')\nx = 'print(no)'\n")
    assert prints(source) == [3, 4, 5, 6]


def test_no_module_outside_cli_imports_click() -> None:
    importers = []
    for path in _engine_modules():
        if path.relative_to(ROOT / "engine").parts[0] == "cli":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "click" or n.startswith("click.") for n in names):
                importers.append(str(path.relative_to(ROOT)))
    assert importers == []
