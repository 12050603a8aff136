"""The code's own checks, run with every `make test`: ruff's error rules, no import circles in the
package (imports inside functions count too), no dead code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from govlake.settings import REPO_ROOT

BIN = Path(sys.executable).parent
CODE = ["src", "tests", "dags"]
# decorators that register a function with a framework, which then calls it
REGISTERED = ["@*.command", "@*.group", "@*.get", "@*.post", "@*.put", "@*.delete", "@*.fixture",
              "@pytest.fixture", "@model_validator", "@field_validator", "@*.checks"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_finds_no_errors():
    r = _run(str(BIN / "ruff"), "check", "--output-format", "concise", *CODE)
    assert r.returncode == 0, r.stdout + r.stderr


def import_cycles(package: str = "govlake") -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan) in the package's import graph."""
    import grimp

    graph = grimp.build_graph(package, cache_dir=None)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if not w.startswith(package):
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for m in sorted(graph.modules):
        if m not in index:
            visit(m)
    return cycles


def test_no_import_cycles():
    assert import_cycles() == []


def test_import_cycles_are_found(tmp_path, monkeypatch):
    pkg = tmp_path / "circle_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from circle_pkg import b\n")
    (pkg / "b.py").write_text("from circle_pkg import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("circle_pkg") == [["circle_pkg.a", "circle_pkg.b"]]


def test_no_dead_code():
    """Tests count as users; what is reported is code in the package, DAGs and jobs."""
    allow = Path(__file__).with_name("dead_code_allowlist.py")
    r = _run(str(BIN / "vulture"), *CODE, str(allow.relative_to(REPO_ROOT)), "--min-confidence", "60",
             "--ignore-decorators", ",".join(REGISTERED))
    dead = [line for line in r.stdout.splitlines() if line and not line.startswith("tests/")]
    assert not dead, "\n".join(dead)


@pytest.mark.parametrize("tool", ["ruff", "vulture"])
def test_tools_are_installed(tool):
    assert (BIN / tool).exists(), f"{tool} is in constraints.txt: run make venv"


def test_no_module_is_named_like_a_package():
    """profile/policy.py beside policy/ made readers open the wrong file: a module's name is not
    the name of one of govlake's packages."""
    pkg = REPO_ROOT / "src" / "govlake"
    packages = {p.name for p in pkg.iterdir() if (p / "__init__.py").exists()}
    clashes = [str(m.relative_to(pkg)) for m in pkg.rglob("*.py")
               if m.stem in packages and m.parent != pkg / m.stem]
    assert clashes == [], clashes


def test_test_modules_have_unique_names():
    """Test folders are not packages, so pytest imports each test module by its file name: two
    test_cli.py in two folders make the whole collection fail (the second is a mismatch)."""
    from collections import defaultdict

    seen = defaultdict(list)
    for m in (REPO_ROOT / "tests").rglob("test_*.py"):
        if not (m.parent / "__init__.py").exists():
            seen[m.name].append(str(m.relative_to(REPO_ROOT)))
    assert {k: v for k, v in seen.items() if len(v) > 1} == {}
