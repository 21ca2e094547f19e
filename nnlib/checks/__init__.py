"""Checks for the exercise sets: run your function, and explain what is wrong and where to read.

Each graded function of an exercise set has a check, e.g. ``check_sigmoid(sigmoid)``. It calls
your function on seeded inputs, compares with nnlib's own reference within tolerances, and
either prints one short line ("sigmoid: passed (6 tests).") or tells you what is wrong:

    sigmoid(-1000.0) warned 'overflow encountered in exp': only exponentiate non-positive
    numbers (lesson 02, section 3)

In an exercise set a failed check raises ``CheckFailed`` (an AssertionError), which is how the
grader scores the cell. Anywhere else, ``check_sigmoid(sigmoid, raising=False)`` or
``report(check_sigmoid, sigmoid)`` prints the explanation and returns False instead.

One module per set: ``matrix_ops`` (ex01), ``activations`` (ex02), ``backprop`` (ex03),
``mnist_mlp`` (ex04), ``optimizers`` (ex05). Each lists its checks in ``__all__``; this package
re-exports them. ``lessons`` and ``layers`` hold the checks of the lessons' ungraded "Your turn"
cells (``layers``: lessons 03 and 04). ``_core`` is the machinery (read its docstring to write a
check); ``_integrity`` notices when a notebook replaced what the checks rely on.
"""

import importlib
import importlib.util

from nnlib.checks._core import (
    CheckFailed,
    TamperingDetected,
    assert_untampered,
    registered_checks,
    report,
    seal,
)

__all__ = ["CheckFailed", "TamperingDetected", "assert_untampered", "registered_checks",
           "report"]

# The set modules, in course order. A set whose module is not written yet is skipped, so a new
# set needs no change here once its name is listed.
SET_MODULES = ("matrix_ops", "activations", "backprop", "mnist_mlp", "optimizers", "lessons",
               "layers")

for _module_name in SET_MODULES:
    if importlib.util.find_spec(f"{__name__}.{_module_name}") is None:
        continue
    _module = importlib.import_module(f"{__name__}.{_module_name}")
    for _check_name in _module.__all__:
        globals()[_check_name] = getattr(_module, _check_name)
        __all__.append(_check_name)

seal(importlib.import_module(__name__))

from nnlib.checks import _sealed_module  # last: it locks the names defined above

_sealed_module.lock(importlib.import_module(__name__), __all__)
