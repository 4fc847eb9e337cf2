"""Which names a cell reads (inputs) and binds (outputs), from its syntax tree."""

from __future__ import annotations

import pytest

from jobnb.capture import analyze


@pytest.mark.parametrize(
    "source, inputs, outputs",
    [
        ("y = x + 1", ("x",), ("y",)),
        ("x = 1\ny = x + 1", (), ("x", "y")),  # bound before read: not an input
        ("x = x + 1", ("x",), ("x",)),
        ("x += 1", ("x",), ("x",)),
        ("a, (b, *c) = data", ("data",), ("a", "b", "c")),
        ("n: int = 3\nm: float", ("int", "float"), ("n", "m")),
        ("if (k := f(q)):\n    t = 2", ("f", "q"), ("k", "t")),
        ("import numpy as np, os.path\nfrom math import sqrt as s", (), ("np", "os", "s")),
        ("for i in items:\n    total = total + i", ("items", "total"), ("i", "total")),
        ("with open(p) as fh:\n    text = fh.read()", ("open", "p"), ("fh", "text")),
        ("def g(u, v=dflt):\n    w = u + v\n    return w + glob", ("dflt", "glob"), ("g",)),
        ("class C(Base):\n    attr = inner", ("Base", "inner"), ("C",)),
        ("ys = [j * k for j in js]", ("k", "js"), ("ys",)),
        ("h = lambda v: v + other", ("other",), ("h",)),
        ("try:\n    r = 1\nexcept E as err:\n    r = 2", ("E",), ("r",)),
        ("x = 1\ndel x\nprint(x)", ("print", "x"), ("x",)),
        ("def f():\n    global g2\n    g2 = 1", (), ("f",)),
    ],
)
def test_inputs_and_outputs(source, inputs, outputs):
    names = analyze(source)
    assert names.inputs == inputs
    assert names.outputs == outputs


def test_a_syntax_error_is_raised():
    with pytest.raises(SyntaxError):
        analyze("x = = 1")
