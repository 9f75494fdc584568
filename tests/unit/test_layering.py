"""The shape of the installed package: layers that import only downwards, no import cycle, and other
packages reaching a subpackage only through its public surface (``__init__.pyi``)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

import kubetune.components

REPO = Path(__file__).resolve().parents[2]
COMPONENTS = Path(kubetune.components.__file__).parent
SUBPACKAGES = sorted(p.name for p in COMPONENTS.iterdir() if (p / "__init__.py").exists())
# PyTorch families and their training loop are imported where they are used, never through the
# models package's surface: validating a spec or running a scikit-learn trial must not import torch.
HEAVY_MODULES = {
    "kubetune.components.models.torch_base",
    "kubetune.components.models.torch_blocks",
    "kubetune.components.models.torch_fused",
}


def test_import_linter_contracts_are_kept() -> None:
    """The contracts in pyproject.toml (``make lint`` runs the same command)."""
    linter = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run(
        [str(linter), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert "0 broken" in run.stdout


def test_nothing_but_subpackages_at_the_top_of_components() -> None:
    top = sorted(
        p.name
        for p in COMPONENTS.iterdir()
        if p.suffix == ".py" or (p.is_dir() and p.name != "__pycache__")
    )
    assert [name for name in top if name.endswith(".py") and name != "__init__.py"] == []
    assert set(SUBPACKAGES) >= {
        "core",
        "spec",
        "data",
        "evaluation",
        "tracking",
        "search",
        "warmstart",
        "execution",
        "registry",
        "pipeline",
        "models",
    }


def _cycle(graph: grimp.ImportGraph, modules: set[str]) -> list[str] | None:
    """One import cycle among ``modules`` (depth-first search), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module) & modules):
            if state.get(imported) == 1:
                return stack[stack.index(imported) :] + [imported]
            if imported not in state and (found := visit(imported)):
                return found
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(modules):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_no_import_cycle() -> None:
    graph = grimp.build_graph("kubetune", cache_dir=None)
    modules = {m for m in graph.modules if m.startswith("kubetune.")}
    assert _cycle(graph, modules) is None, " -> ".join(_cycle(graph, modules) or [])


def test_the_cycle_finder_finds_one() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "b", "c"):
        graph.add_module(name)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    assert _cycle(graph, {"a", "b", "c"}) is None
    graph.add_import(importer="c", imported="a")
    assert _cycle(graph, {"a", "b", "c"}) == ["a", "b", "c", "a"]


def _cross_package_imports() -> list[tuple[str, str, str, list[str]]]:
    """(importing file, importing package, imported module, names) for every ``from kubetune.components.X...``."""
    found = []
    sources = list(COMPONENTS.rglob("*.py")) + list((COMPONENTS.parent / "flows").rglob("*.py"))
    for path in sources:
        relative = path.relative_to(COMPONENTS.parent).parts
        package = relative[1] if relative[0] == "components" and len(relative) > 2 else relative[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("kubetune.components.")
            ):
                imported_package = node.module.split(".")[2]
                if imported_package != package:
                    found.append(
                        (
                            str(path.relative_to(COMPONENTS.parent)),
                            package,
                            node.module,
                            [a.name for a in node.names],
                        )
                    )
    return found


def test_other_packages_use_a_subpackages_public_surface() -> None:
    deep = [
        (where, module)
        for where, _, module, _ in _cross_package_imports()
        if module.count(".") > 2 and module not in HEAVY_MODULES
    ]
    assert deep == [], "import these through the subpackage, and list the names in its __init__.pyi"
    private = [
        (where, name)
        for where, _, _, names in _cross_package_imports()
        for name in names
        if name.startswith("_")
    ]
    assert private == []


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_every_name_on_a_surface_resolves(package: str) -> None:
    stub = COMPONENTS / package / "__init__.pyi"
    module = importlib.import_module(f"kubetune.components.{package}")
    names = [
        a.name
        for node in ast.walk(ast.parse(stub.read_text()))
        if isinstance(node, ast.ImportFrom)
        for a in node.names
    ]
    assert names, f"{package} exports nothing"
    assert sorted(module.__all__) == sorted(names)
    # a name equal to one of the package's modules would be the module once that is imported
    assert not set(names) & {path.stem for path in (COMPONENTS / package).glob("*.py")}
    for name in names:
        assert getattr(module, name) is not None


def test_installed_under_the_kubetune_name_only(tmp_path: Path) -> None:
    """Outside the checkout, only ``kubetune.*`` is importable: no top-level ``components`` or ``flows``
    to collide with another project's, and the two console scripts resolve."""
    probe = (
        "import importlib.util as u, kubetune.flows.cli, kubetune.components.execution.pod_entrypoint\n"
        "import kubetune\n"
        "assert callable(kubetune.tune) and kubetune.KubetuneSearchCV.__name__ == 'KubetuneSearchCV'\n"
        "print(u.find_spec('components'), u.find_spec('flows'))"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["None", "None"]
    scripts = {path.name for path in Path(sys.executable).parent.iterdir()}
    assert {"kubetune", "kubetune-trial"} <= scripts
    trial = subprocess.run(
        [str(Path(sys.executable).with_name("kubetune-trial"))],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert trial.returncode == 2
    assert trial.stderr.strip().splitlines() == [
        "KUBETUNE_TRIAL_REQUEST is not set: kubetune-trial runs in a trial Job that kubetune created"
    ]


@pytest.mark.parametrize(
    "request_json, problem",
    [
        ("garbage", "the request: Invalid JSON"),
        ('{"study_name": "s"}', "trial_number: Field required"),
    ],
)
def test_a_trial_request_kubetune_trial_cannot_read_is_one_line(
    tmp_path: Path, request_json: str, problem: str
) -> None:
    trial = subprocess.run(
        [str(Path(sys.executable).with_name("kubetune-trial"))],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            "PATH": "/usr/bin:/bin",
            "KUBETUNE_TRIAL_REQUEST": request_json,
            "KUBETUNE_STORAGE_URL": "x",
        },
    )
    assert trial.returncode == 2
    [line] = trial.stderr.strip().splitlines()
    assert line.startswith(
        f"KUBETUNE_TRIAL_REQUEST is not a request kubetune-trial can read: {problem}"
    )
