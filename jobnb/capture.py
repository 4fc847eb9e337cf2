"""A notebook cell's inputs and outputs, read from its syntax tree.

Inputs are the names the cell reads before it binds them (their values are taken
from the notebook when the cell is submitted); outputs are the names it binds at top
level (they come back to the notebook when the job is done). The reading errs on the
side of taking a name: a name read in a branch, a loop or a function body counts as an
input unless an unconditional statement bound it before, since a missing input fails
the job while an extra one only travels for nothing.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

# statements that bind their targets whenever they run, at top level
_UNCONDITIONAL = (
    ast.Assign,
    ast.AnnAssign,
    ast.AugAssign,
    ast.Import,
    ast.ImportFrom,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
)


@dataclass(frozen=True)
class CellNames:
    inputs: tuple[str, ...]  # in order of first read
    outputs: tuple[str, ...]  # in order of first binding


def analyze(source: str) -> CellNames:
    """The inputs and outputs of the cell ``source`` (plain Python; SyntaxError if not)."""
    tree = ast.parse(source)
    bound: set[str] = set()  # bound for sure by the statements read so far
    inputs: dict[str, None] = {}
    outputs: dict[str, None] = {}
    for statement in tree.body:
        for name in _reads(statement):
            if name not in bound:
                inputs.setdefault(name)
        for name in _binds(statement):
            outputs.setdefault(name)
        if isinstance(statement, _UNCONDITIONAL):
            bound.update(_binds(statement))
        for name in _deletes(statement):
            bound.discard(name)
    return CellNames(tuple(inputs), tuple(outputs))


def _reads(node: ast.AST) -> list[str]:
    """The names ``node`` reads from the cell's scope, in order: nested functions and
    classes included (they read the notebook's values all the same), minus what their
    own parameters, locals, loop and ``with`` targets provide."""
    if isinstance(node, ast.Name):
        return [node.id] if isinstance(node.ctx, ast.Load) else []
    if isinstance(node, ast.AugAssign):  # ``x += 1`` reads x first
        target = [node.target.id] if isinstance(node.target, ast.Name) else []
        return target + _reads(node.value) + _children_reads(node.target)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        outer = [*getattr(node, "decorator_list", []), *_defaults(node)]
        if getattr(node, "returns", None) is not None:
            outer.append(node.returns)
        body = node.body if isinstance(node.body, list) else [node.body]
        own = {a.arg for a in _all_args(node.args)} | _locals(body)
        return _many(outer) + [n for n in _many(body) if n not in own]
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        own = {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
        return [n for n in _children_reads(node) if n not in own]
    if isinstance(node, (ast.For, ast.AsyncFor)):
        own = {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
        return _reads(node.iter) + [n for n in _many([*node.body, *node.orelse]) if n not in own]
    if isinstance(node, (ast.With, ast.AsyncWith)):
        own = {
            n.id
            for item in node.items
            if item.optional_vars is not None
            for n in ast.walk(item.optional_vars)
            if isinstance(n, ast.Name)
        }
        return _many([i.context_expr for i in node.items]) + [
            n for n in _many(node.body) if n not in own
        ]
    return _children_reads(node)


def _children_reads(node: ast.AST) -> list[str]:
    return _many(ast.iter_child_nodes(node))


def _many(nodes) -> list[str]:
    return [name for child in nodes for name in _reads(child)]


def _all_args(args: ast.arguments) -> list[ast.arg]:
    found = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    return found + [a for a in (args.vararg, args.kwarg) if a is not None]


def _locals(body: list[ast.stmt]) -> set[str]:
    """Names a function body binds (its locals), less those it declares global."""
    stored, declared = set(), set()
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                stored.add(node.id)
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                declared.update(node.names)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                stored.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                stored.add(node.name)
    return stored - declared


def _binds(statement: ast.stmt) -> list[str]:
    """The names ``statement`` binds in the cell's own (module) scope."""
    found: list[str] = []
    _collect_binds(statement, found, top=True)
    return found


def _collect_binds(node: ast.AST, found: list[str], top: bool) -> None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        if top:
            found.append(node.name)
        # decorators and defaults run in this scope (a walrus there binds here)
        for child in [*node.decorator_list, *_defaults(node)]:
            _collect_binds(child, found, top)
        return  # the body is another scope
    if isinstance(node, ast.Lambda):
        return
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        # their loop variables are their own; only a walrus inside binds out here
        found.extend(n.target.id for n in ast.walk(node) if isinstance(n, ast.NamedExpr))
        return
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
        found.append(node.id)
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        for alias in node.names:
            if alias.name != "*":
                found.append(alias.asname or alias.name.split(".")[0])
    elif isinstance(node, ast.NamedExpr):
        found.append(node.target.id)
    elif isinstance(node, (ast.Global, ast.Nonlocal)):
        return
    elif isinstance(node, ast.ExceptHandler) and node.name:
        return  # Python deletes ``except E as name`` at the end of the handler
    for child in ast.iter_child_nodes(node):
        _collect_binds(child, found, top)


def _defaults(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.ClassDef):
        return [*node.bases, *(k.value for k in node.keywords)]
    args = node.args
    return [*args.defaults, *(d for d in args.kw_defaults if d is not None)]


def _deletes(statement: ast.stmt) -> list[str]:
    if isinstance(statement, ast.Delete):
        return [t.id for t in statement.targets if isinstance(t, ast.Name)]
    return []
