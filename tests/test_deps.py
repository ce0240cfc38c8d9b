"""A stage's deps list every project module its command imports.

DVC re-runs a stage only when one of its listed deps changes: a module imported but not listed can change and
leave the stage's outputs stale, silently. This walks the imports of the module each stage's cmd runs (with
``ast``, so nothing is executed) and checks each project file is covered by a dep (the file, or a folder above it).
"""

from __future__ import annotations

import ast
import shlex
from pathlib import Path

import pytest

from pipeline.lib import dag
from repo import ROOT

# Packages whose modules are loaded by name at run time (the model registry discovers every module in its folder):
# importing the package counts as importing everything under it.
DYNAMIC = ("pipeline.lib.models",)


def module_file(name: str, root: Path) -> Path | None:
    """The file under ``root`` that ``import name`` runs, or None for a module from elsewhere (numpy, keras)."""
    base = root.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.parent / f"{base.name}.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(file: Path, root: Path) -> str:
    parts = file.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(file: Path, root: Path) -> set[str]:
    """Every module ``file`` may import: statements anywhere (functions included: a lazy import still runs),
    relative imports resolved, ``from a import b`` as both ``a`` and ``a.b`` (b may be a submodule), and the
    packages above each (importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py``)."""
    package = module_name(file, root).split(".")
    if file.name != "__init__.py":
        package = package[:-1]
    names = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package[:len(package) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return {".".join(n.split(".")[:i]) for n in names for i in range(1, n.count(".") + 2)}


def project_imports(entry: Path, root: Path, dynamic=DYNAMIC) -> set[Path]:
    """``entry`` and every file under ``root`` it imports, transitively."""
    seen, todo = set(), [entry]
    while todo:
        file = todo.pop()
        if file in seen:
            continue
        seen.add(file)
        found = {module_file(name, root) for name in imported_names(file, root)}
        for package in dynamic:
            if module_file(package, root) in found:
                found.update(module_file(package, root).parent.rglob("*.py"))
        todo.extend(f for f in found if f is not None and f not in seen)
    return seen


def inert(file: Path) -> bool:
    """A file holding only a docstring (and __future__ imports) runs no code: a change to it cannot change an
    output, so it needs no dep. Package __init__ files like pipeline/__init__.py are such; once one holds code,
    it is checked like any other module."""
    for node in ast.parse(file.read_text()).body:
        docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if not (docstring or future):
            return False
    return True


def uncovered(files: set[Path], deps: list[str], root: Path) -> list[str]:
    """Files (relative to ``root``) that no dep equals or lies above, inert ones aside."""
    out = []
    for file in files:
        relative = file.relative_to(root).as_posix()
        if not inert(file) and not any(relative == d or relative.startswith(d.rstrip("/") + "/") for d in deps):
            out.append(relative)
    return sorted(out)


def entry_file(cmd: str, root: Path) -> Path | None:
    """The project file a ``python -m pkg.mod ...`` or ``python path/to/script.py ...`` command runs."""
    args = shlex.split(cmd)
    for i, arg in enumerate(args):
        if arg == "-m" and i + 1 < len(args):
            return module_file(args[i + 1], root)
        if arg.endswith(".py") and (root / arg).is_file():
            return root / arg
    return None


STAGES = dag.load(ROOT).stages


@pytest.mark.parametrize("name", list(STAGES))
def test_stage_deps_cover_every_module_it_imports(name):
    stage = STAGES[name]
    entry = entry_file(stage.cmd, ROOT)
    if entry is None:
        pytest.skip(f"`{stage.cmd}` runs no Python file of this repository")
    missing = uncovered(project_imports(entry, ROOT), stage.deps, ROOT)
    assert not missing, f"{name} imports, but does not depend on: {', '.join(missing)}"


# --- the walker itself, on a package made for it ---------------------------------------------------------------

FILES = {
    "pkg/__init__.py": '"""Only a docstring."""\n',
    "pkg/main.py": """
        from __future__ import annotations
        import json
        from .lib import helpers
        from pkg.lib.sub import leaf as L
        from . import plugins

        def later():
            from .lib import lazy  # runs only when called, but it runs
            import pkg.lib.deep.mod
        """,
    "pkg/util.py": "THING = 1\n",
    "pkg/unused.py": "import pkg.util\n",
    "pkg/lib/__init__.py": "VERSION = 1\n",
    "pkg/lib/helpers.py": "from ..util import THING\n",
    "pkg/lib/lazy.py": "",
    "pkg/lib/sub/__init__.py": '"""Docstring."""\n',
    "pkg/lib/sub/leaf.py": "from . import sibling\n",
    "pkg/lib/sub/sibling.py": "",
    "pkg/lib/deep/__init__.py": "",
    "pkg/lib/deep/mod.py": "import numpy\n",
    "pkg/plugins/__init__.py": "import importlib\nimportlib.import_module('pkg.plugins.' + 'a')\n",
    "pkg/plugins/a.py": "from ..util import THING\n",
    "pkg/plugins/b.py": "B = 2\n",
}


@pytest.fixture
def package(tmp_path):
    import textwrap

    for path, text in FILES.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(textwrap.dedent(text))
    return tmp_path


def test_walker_follows_relative_nested_and_dynamic_imports(package):
    found = {f.relative_to(package).as_posix() for f in project_imports(package / "pkg/main.py", package,
                                                                       dynamic=("pkg.plugins",))}
    assert found == set(FILES) - {"pkg/unused.py"}
    without = {f.relative_to(package).as_posix() for f in project_imports(package / "pkg/main.py", package, ())}
    assert without == set(FILES) - {"pkg/unused.py", "pkg/plugins/a.py", "pkg/plugins/b.py"}


def test_uncovered_lists_files_outside_every_dep(package):
    files = project_imports(package / "pkg/main.py", package, dynamic=("pkg.plugins",))
    deps = ["pkg/main.py", "pkg/lib", "pkg/plugins/a.py", "data/raw"]
    # pkg/__init__.py and pkg/lib/sub/__init__.py hold only docstrings; pkg/lib covers everything below it
    assert uncovered(files, deps, package) == ["pkg/plugins/__init__.py", "pkg/plugins/b.py", "pkg/util.py"]
    assert uncovered(files, ["pkg"], package) == []
    assert uncovered(files, ["pk", "pkg/lib/deep/mo"], package) == uncovered(files, [], package)  # prefixes only


def test_entry_file_of_a_command(package):
    assert entry_file("python -m pkg.main --out x", package) == package / "pkg/main.py"
    assert entry_file("python pkg/util.py", package) == package / "pkg/util.py"
    assert entry_file("python -m json.tool x", package) is None
