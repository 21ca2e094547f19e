"""Tamper detection for the exercise checks.

A notebook runs the student's code in the same Python process as the checks, so a submission can
replace ``np.allclose`` by a function that always says yes, swap ``nnlib.activations.sigmoid``
for its own wrong version, or overwrite a ``check_*`` function. The checks therefore trust
nothing they look up at check time:

* every function they rely on (NumPy's comparisons, the builtins, ``math``, nnlib's reference
  functions, the checks themselves) is captured here when ``nnlib.checks`` is imported;
* ``problems()`` compares what is installed now with those captured originals (identity, and the
  code object of every Python function), and also checks where each original comes from (a
  builtin must still be a builtin, a NumPy function must be defined inside NumPy's folder), in
  case something was replaced before ``nnlib.checks`` was imported;
* the comparisons themselves are done in plain Python arithmetic on ``ndarray.tolist()`` (see
  ``_core``), which no monkeypatch of a module can reach.

When something was replaced, the check fails with "tampering detected: <what>" and prints one
line ``NNLIB-TAMPERING: <check>: <what>`` to standard error, which the instructor's grading
scripts look for in the autograded notebooks.

This raises the cost of cheating a great deal; it cannot make an in-process check unbreakable
(nothing can), which is why the instructor is told about every detection.
"""

import builtins
import contextlib
import math
import os
import sys
import types
import warnings

import numpy as np
import numpy.testing

import nnlib

# The types and functions this module itself uses, captured before anything else can run.
_FunctionType = types.FunctionType
_BuiltinType = type(len)
_ModuleType = types.ModuleType
_type = type
_getattr = getattr
_id = id
_str = str
_addaudithook = sys.addaudithook
_modules = sys.modules  # the dict itself: the import system keeps it if sys.modules is rebound
_dir_of = os.path.dirname
_abspath = os.path.abspath
_sep = os.sep
_write_stderr_name = "stderr"

_NUMPY_DIR = _abspath(_dir_of(np.__file__))
_NNLIB_DIR = _abspath(_dir_of(nnlib.__file__))

# Builtins a check (or a hidden test) might lean on.
_BUILTIN_NAMES = (
    "abs", "all", "any", "bool", "callable", "dict", "enumerate", "float", "getattr", "hasattr",
    "id", "int", "isinstance", "issubclass", "iter", "len", "list", "max", "min", "next",
    "print", "range", "repr", "reversed", "round", "set", "sorted", "str", "sum", "tuple", "type",
    "zip", "__import__",
)
# NumPy functions a comparison might use: the ones a cheat would replace first.
_NUMPY_NAMES = (
    "allclose", "isclose", "array_equal", "array_equiv", "asarray", "array", "abs", "absolute",
    "isfinite", "isnan", "isinf", "all", "any", "max", "min", "sum", "mean", "exp", "log",
    "where", "errstate", "seterr", "zeros", "ones", "eye", "arange", "copy", "shape",
    "issubdtype", "linalg",
)
_TESTING_NAMES = (
    "assert_allclose", "assert_array_equal", "assert_equal", "assert_almost_equal",
    "assert_array_almost_equal", "assert_array_less", "assert_approx_equal",
)
_MATH_NAMES = ("exp", "log", "isfinite", "isnan", "isclose", "fabs", "sqrt", "fsum")
_WARNINGS_NAMES = ("catch_warnings", "simplefilter", "filterwarnings", "warn")

_STDLIB_DIR = _abspath(_dir_of(warnings.__file__))

# NumPy before 1.25 wraps its functions in Python code that lives outside its folder: the
# dispatcher of np.allclose and its kin is compiled from a string, and np.testing's assertions
# sit inside a contextlib decorator. Such a wrapper is judged by the function it wraps.
_NUMPY_WRAPPER_FILES = ("<__array_function__ internals>", _abspath(contextlib.__file__))

# (label, owner object, attribute name, original value, its code object or None, home folder)
_guarded = []
# module name -> the module object, for sys.modules
_guarded_modules = {}


def _code_of(value):
    """The code object behind a function (also behind NumPy's dispatch wrappers), or None."""
    for candidate in (value, _getattr(value, "_implementation", None),
                      _getattr(value, "__wrapped__", None)):
        code = _getattr(candidate, "__code__", None)
        if _type(code) is types.CodeType:
            return code
    return None


def guard(owner, names, label, home=_NNLIB_DIR):
    """Remember ``owner.<name>`` for every name, so that ``problems()`` notices a replacement.

    ``label`` names the owner in messages, e.g. ``"np"`` gives "np.allclose was replaced";
    ``home`` is the folder where the Python source of each function must lie. Set modules call
    this for the nnlib reference functions they compare with.
    """
    for name in names:
        value = _getattr(owner, name)
        _guarded.append((f"{label}.{name}", owner, name, value, _code_of(value), home))


def guard_module(module):
    """Remember every function and class defined in ``module`` (a module of nnlib.checks)."""
    for name, value in sorted(vars(module).items()):
        if name.startswith("__"):
            continue
        if _type(value) in (_FunctionType, _type) or _type(value) is _ModuleType:
            # Private aliases of stdlib or NumPy functions are checked for identity only.
            code = _code_of(value)
            home = (_NNLIB_DIR if code is not None
                    and _abspath(code.co_filename).startswith(_NNLIB_DIR + _sep) else None)
            _guarded.append((f"{module.__name__}.{name}", module, name, value, code, home))
    _guarded_modules[module.__name__] = module


def _origin_problem(label, value, home):
    """Why ``value`` does not look like the genuine article named ``label``, or None."""
    if label.startswith("builtins."):
        if _type(value) is _BuiltinType or (_type(value) is _type
                                             and value.__module__ == "builtins"):
            return None
        return f"{label} is no longer a builtin"
    code = _code_of(value)
    if code is None or home is None:
        return None  # a C function, a ufunc, a class or a module: no Python source to check
    for _unwrapping in range(2):  # at most a dispatcher around a decorator
        if home != _NUMPY_DIR or (code.co_filename not in _NUMPY_WRAPPER_FILES
                                  and _abspath(code.co_filename) not in _NUMPY_WRAPPER_FILES):
            break
        value = _getattr(value, "_implementation", None) or _getattr(value, "__wrapped__", None)
        inner = _getattr(value, "__code__", None)
        if _type(inner) is not types.CodeType:
            return None  # it wraps a C function (np.where): no Python source to check
        code = inner
    filename = _abspath(code.co_filename)
    if not filename.startswith(home + _sep):
        return f"{label} is defined outside its package (in {code.co_filename})"
    return None


def problems():
    """Every replacement found, as a list of short sentences (empty when all is genuine)."""
    found = []
    for label, owner, name, original, code, home in _guarded:
        current = _getattr(owner, name, None)
        if current is not original:
            found.append(f"{label} was replaced")
            continue
        if code is not None and _code_of(current) is not code:
            found.append(f"the code of {label} was replaced")
            continue
        origin = _origin_problem(label, current, home)
        if origin is not None:
            found.append(origin)
    for name, module in _guarded_modules.items():
        if _modules.get(name) is not module or sys.modules.get(name) is not module:
            found.append(f"the module {name} was replaced in sys.modules")
    return found


def report(check_name, found):
    """Print the machine-readable line the grading scripts look for, one per detection."""
    stream = _getattr(sys, _write_stderr_name, None) or sys.__stderr__
    for problem in found:
        try:
            stream.write(f"NNLIB-TAMPERING: {check_name}: {problem}\n")
            stream.flush()
        except Exception:  # noqa: BLE001, S110 -- a broken stream must not hide the failure
            pass


# How IPython names the code of a notebook cell: ipykernel writes cells to
# <tmp>/ipykernel_<pid>/<hash>.py, older IPython to <ipython-input-<n>-<hash>>.
_CELL_FILE_MARKERS = ("ipykernel_", "<ipython-input-")
_tripwire = {"armed": False}


def arm_cell_tripwire(find_tampering, error_class):
    """Before every notebook cell runs, look for tampering; if found, the cell fails at once.

    The checks look for replacements when they run, but a notebook can keep them from running:
    replace ``sys.modules["nnlib.checks"]`` (or ``builtins.__import__``) and the hidden tests
    import the notebook's fakes, which never look. An audit hook (PEP 578) cannot be removed
    once added, and the interpreter calls it for every code object it executes, a cell included,
    whatever the notebook did to the modules. Before each cell it calls
    ``find_tampering(label)`` (which prints the NNLIB-TAMPERING lines); if that finds anything,
    the cell raises ``error_class("tampering detected ...")`` instead of running, and so does
    every later cell, test cells included, until the replacement is undone. Outside a notebook
    (a script, pytest) the hook does nothing. Armed once per process.
    """
    if _tripwire["armed"]:
        return
    busy, markers, getattr_, type_, str_ = [False], _CELL_FILE_MARKERS, _getattr, _type, _str

    def before_each_cell(event, args):
        if event != "exec" or busy[0] or not args:
            return
        filename = getattr_(args[0], "co_filename", None)
        if type_(filename) is not str_ or not (markers[0] in filename or markers[1] in filename):
            return
        busy[0] = True  # the search itself may execute code: do not look again meanwhile
        try:
            found = find_tampering("before this cell")
        finally:
            busy[0] = False
        if found:
            raise error_class("tampering detected before this cell ran: " + "; ".join(found))

    _addaudithook(before_each_cell)
    _tripwire["armed"] = True


guard(builtins, _BUILTIN_NAMES, "builtins")
guard(np, _NUMPY_NAMES, "np", home=_NUMPY_DIR)
guard(np.testing, _TESTING_NAMES, "np.testing", home=_NUMPY_DIR)
guard(math, _MATH_NAMES, "math")
guard(warnings, _WARNINGS_NAMES, "warnings", home=_STDLIB_DIR)
for _name, _module in (("numpy", np), ("numpy.testing", np.testing), ("math", math),
                       ("builtins", builtins), ("warnings", warnings), ("nnlib", nnlib)):
    _guarded_modules[_name] = _module
