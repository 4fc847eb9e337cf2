"""The house is one-way: imports go down the layers of docs/architecture.md, never in
a circle, and an import inside a function says why it is there.

Read from the source (the syntax tree), so that a circle held open by an import inside
a function counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import jobnb

PACKAGE = Path(jobnb.__file__).parent

#: bottom (0) to top; a module may import its own layer or the ones below
LAYERS = [
    ("the data model", ["exceptions", "defaults", "model", "schedule_times", "schedule_record"]),
    ("payloads", ["payload"]),
    ("the worker side", ["worker"]),
    ("backends", ["backends"]),
    (
        "handle and settings",
        ["job", "done_callbacks", "notify", "config", "history", "dependencies"],
    ),
    ("the public API", ["api", "scheduling"]),
    (
        "fronts",
        ["capture", "arguments", "widgets", "magics", "cli", "demo", "__main__", "__init__"],
    ),
]


def layer_of(module: str) -> int:
    """The layer of ``jobnb.x.y`` by its first part under jobnb."""
    first = module.split(".")[1] if "." in module else "__init__"
    for rank, (_, names) in enumerate(LAYERS):
        if first in names:
            return rank
    raise AssertionError(f"{module} is in no layer: add it to LAYERS and to docs/architecture.md")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class Imports(ast.NodeVisitor):
    """Every import of a module: (line, imported jobnb module or None, inside a function)."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[int, str, bool]] = []
        self.depth = 0

    def visit_If(self, node: ast.If) -> None:
        if is_type_checking(node):  # for type hints only: never runs
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.found.append((node.lineno, alias.name, self.depth > 0))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        if node.module is None or target == "jobnb":
            # ``from . import api``: each name is a module (or jobnb's own __init__)
            for alias in node.names:
                name = f"{target}.{alias.name}"
                is_module = (PACKAGE.parent / name.replace(".", "/")).with_suffix(
                    ".py"
                ).exists() or (PACKAGE.parent / name.replace(".", "/")).is_dir()
                self.found.append((node.lineno, name if is_module else target, self.depth > 0))
        else:
            self.found.append((node.lineno, target, self.depth > 0))


def all_imports() -> dict[str, tuple[Path, list[tuple[int, str, bool]]]]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        visitor = Imports(module, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(), str(path)))
        found[module] = (path, visitor.found)
    return found


def jobnb_edges() -> dict[str, set[str]]:
    imports = all_imports()
    edges: dict[str, set[str]] = {m: set() for m in imports}
    for module, (_, found) in imports.items():
        for _, target, _ in found:
            if target == "jobnb" or target.startswith("jobnb."):
                # ``from .records.base import X`` is an edge to the module itself
                while target not in imports and "." in target:
                    target = target.rpartition(".")[0]
                if target != module:
                    edges[module].add(target)
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def test_no_import_circles():
    # jobnb/__init__.py re-exports the API: it imports everything and nothing imports it
    edges = {m: {t for t in ts if t != "jobnb"} for m, ts in jobnb_edges().items()}
    assert circles(edges) == []


def test_imports_go_down_the_layers():
    upward = []
    for module, targets in jobnb_edges().items():
        for target in targets:
            if module == "jobnb" or target == "jobnb":
                continue  # the package's front door re-exports from every layer
            if layer_of(target) > layer_of(module):
                upward.append(
                    f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} "
                    f"({LAYERS[layer_of(target)][0]})"
                )
    assert upward == []


def test_an_import_inside_a_function_says_why():
    silent = []
    for path, found in all_imports().values():
        lines = path.read_text().splitlines()
        for line, target, inside in found:
            if not inside:
                continue
            here, above = lines[line - 1], lines[line - 2] if line > 1 else ""
            if "#" not in here and not above.strip().startswith("#"):
                silent.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert silent == []


def test_import_jobnb_is_light():
    """``import jobnb`` in a script or a worker loads neither IPython, nor widgets, nor
    the queues' and notebooks' libraries; in IPython it does not load the magics (they
    come with ``%load_ext jobnb``): each comes when used."""
    heavy = ["jobnb.magics", "ipywidgets", "IPython", "rq", "huey", "redis", "nbclient", "pandas"]
    script = f"import sys, jobnb; print([m for m in {heavy!r} if m in sys.modules])"
    in_ipython = (
        "from IPython.core.interactiveshell import InteractiveShell; InteractiveShell.instance(); "
        + script.replace("'IPython', ", "")
    )
    for code in (script, in_ipython):
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert (run.returncode, run.stdout.strip()) == (0, "[]"), run.stderr
