"""nnlib.checks: the two modes, odd answers that must not crash a check, and tamper detection.

The kernel runs a student's code in the same process as the checks, so a submission can replace
NumPy's comparisons, nnlib's references, the checks themselves or builtins. Each attack below is
carried out for real (and undone afterwards); the check must then fail with "tampering
detected: <what>" and print the NNLIB-TAMPERING line the grading scripts look for.
"""

import builtins
import contextlib
import math
import sys

import numpy as np
import pytest
from exercise_support import ExerciseSet

import nnlib.activations
import nnlib.checks
import nnlib.checks._core
import nnlib.checks._integrity
import nnlib.checks.activations
from nnlib.checks import CheckFailed, TamperingDetected, check_sigmoid, report

SOLUTIONS = ExerciseSet("ex02_activations").solution_namespace()
good_sigmoid = SOLUTIONS["sigmoid"]


def naive_sigmoid(z):
    return 1 / (1 + np.exp(-np.asarray(z, dtype=float)))


def garbage(z):
    return np.zeros(np.shape(z))


# --- the two modes ------------------------------------------------------------------------------

def test_a_failed_check_raises_an_assertion_error_whose_message_is_the_explanation():
    with pytest.raises(CheckFailed) as failure:
        check_sigmoid(naive_sigmoid)
    assert isinstance(failure.value, AssertionError)
    assert str(failure.value) == ("sigmoid(-1000.0) warned 'overflow encountered in exp': only "
                                  "exponentiate non-positive numbers (lesson 02, section 3)")


def test_without_raising_a_failed_check_prints_the_explanation_and_returns_false(capsys):
    assert check_sigmoid(naive_sigmoid, raising=False) is False
    assert report(check_sigmoid, naive_sigmoid) is False
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 2 and all("overflow encountered in exp" in line for line in printed)


def test_a_passing_check_prints_one_short_line_and_returns_true(capsys):
    assert check_sigmoid(good_sigmoid) is True
    assert capsys.readouterr().out == "sigmoid: passed (4 tests).\n"


def test_a_stub_is_not_implemented_yet_in_both_modes(capsys):
    def stub(z):
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="sigmoid: not implemented yet"):
        check_sigmoid(stub)
    assert check_sigmoid(stub, raising=False) is False
    assert "not implemented yet" in capsys.readouterr().out


# --- odd answers never crash a check ------------------------------------------------------------

class Unconvertible:
    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("no array here")


class Subclass(np.ndarray):
    pass


ODD_RESULTS = [  # (what the function returns, what the message says)
    (Unconvertible(), "that NumPy cannot turn into an array"),
    ("0.5", "dtype <U3"),
    ({"a": 1}, "dtype object"),
    (np.array([1 + 2j]), "dtype complex128"),
    (np.array([[0.5, 0.5], [0.5]], dtype=object), "dtype object"),
    (np.zeros((5, 4), dtype=int), "dtype int64"),
    (np.zeros((4, 5)), "rows and columns are swapped"),
    (np.zeros(20), "shape (5, 4) expected, got (20,)"),
    (np.float64(0.5), "you returned a single number"),
    (np.full((5, 4), np.inf), "returned inf at index (0, 0)"),
    (iter([1.0]), "dtype object"),
]


@pytest.mark.parametrize(("returned", "message"), ODD_RESULTS,
                         ids=[type(row[0]).__name__ + str(i) for i, row in enumerate(ODD_RESULTS)])
def test_odd_results_fail_with_their_own_message(returned, message):
    with pytest.raises(CheckFailed) as failure:
        check_sigmoid(lambda z: returned)
    assert message in str(failure.value)


def test_a_subclass_of_ndarray_cannot_supply_its_own_comparison():
    class AlwaysEqual(Subclass):
        def __eq__(self, other):
            return True

        def tolist(self):
            return good_sigmoid(np.asarray(self)).tolist()

    def cheat(z):
        return np.zeros(np.shape(z)).view(AlwaysEqual)

    with pytest.raises(CheckFailed, match="is wrong"):
        check_sigmoid(cheat)


def test_exit_inside_the_students_code_is_reported_not_obeyed():
    def leaves(z):
        sys.exit(3)

    with pytest.raises(CheckFailed, match="raised SystemExit"):
        check_sigmoid(leaves)


def test_a_non_function_and_nnlibs_own_function_are_refused():
    with pytest.raises(CheckFailed, match="pass the function itself"):
        check_sigmoid(good_sigmoid(0.0))
    with pytest.raises(CheckFailed, match="write it yourself"):
        check_sigmoid(nnlib.activations.sigmoid)


def test_every_check_is_exported_and_registered():
    registered = nnlib.checks.registered_checks()
    assert {"check_sigmoid", "check_dense_forward", "check_one_hot"} <= set(registered)
    for name, function in registered.items():
        assert getattr(nnlib.checks, name) is function and name in nnlib.checks.__all__


# --- tampering ----------------------------------------------------------------------------------

@contextlib.contextmanager
def replaced(owner, name, value):
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


def _delegating_isinstance(obj, kind, _real=builtins.isinstance):
    return _real(obj, kind)


def _always(value):
    return lambda *args, **kwargs: value


ATTACKS = [  # (owner, attribute, replacement, what the message names)
    (np, "allclose", _always(True), "np.allclose was replaced"),
    (np, "isclose", _always(np.True_), "np.isclose was replaced"),
    (np, "array_equal", _always(True), "np.array_equal was replaced"),
    (np, "abs", _always(0.0), "np.abs was replaced"),
    (np.testing, "assert_allclose", _always(None), "np.testing.assert_allclose was replaced"),
    (np.testing, "assert_array_equal", _always(None),
     "np.testing.assert_array_equal was replaced"),
    (np.testing, "assert_equal", _always(None), "np.testing.assert_equal was replaced"),
    (builtins, "abs", _always(0), "builtins.abs was replaced"),
    (builtins, "isinstance", _delegating_isinstance, "builtins.isinstance was replaced"),
    (builtins, "all", _always(True), "builtins.all was replaced"),
    (math, "isclose", _always(True), "math.isclose was replaced"),
    (nnlib.activations, "sigmoid", naive_sigmoid, "nnlib.activations.sigmoid was replaced"),
    (nnlib.checks.activations, "check_softmax", _always(True),
     "nnlib.checks.activations.check_softmax was replaced"),
    (nnlib.checks.activations, "_reference_sigmoid", garbage,
     "nnlib.checks.activations._reference_sigmoid was replaced"),
    (nnlib.checks._core, "first_mismatch", _always(-1),
     "nnlib.checks._core.first_mismatch was replaced"),
    (nnlib.checks._integrity, "problems", _always([]),
     "nnlib.checks._integrity.problems was replaced"),
]


@pytest.mark.parametrize(("owner", "name", "replacement", "message"), ATTACKS,
                         ids=[row[3].split(" was")[0] for row in ATTACKS])
def test_each_attack_is_detected_and_reported(owner, name, replacement, message, capsys):
    with replaced(owner, name, replacement):
        outcome = check_sigmoid(good_sigmoid, raising=False)
        untampered = _raises_tampering(nnlib.checks._core.assert_untampered)
    printed = capsys.readouterr()
    assert outcome is False and untampered
    assert "tampering detected: " in printed.out and message in printed.out
    assert f"NNLIB-TAMPERING: check_sigmoid: {message}" in printed.err.splitlines()


def test_the_package_refuses_to_replace_its_checks_and_keeps_handing_out_the_originals():
    genuine = nnlib.checks.check_softmax
    with pytest.raises(AttributeError, match="cannot be replaced"):
        nnlib.checks.check_softmax = _always(True)
    with pytest.raises(AttributeError, match="cannot be deleted"):
        del nnlib.checks.assert_untampered
    vars(nnlib.checks)["check_softmax"] = _always(True)  # behind the package's back
    try:
        from nnlib.checks import check_softmax  # as the hidden tests import it
        assert check_softmax is genuine and nnlib.checks.check_softmax is genuine
    finally:
        vars(nnlib.checks)["check_softmax"] = genuine


def _raises_tampering(function):
    try:
        function()
    except TamperingDetected:
        return True
    return False


def test_replacing_the_code_of_a_reference_is_detected(capsys):
    original = nnlib.activations.sigmoid.__code__
    nnlib.activations.sigmoid.__code__ = naive_sigmoid.__code__
    try:
        outcome = check_sigmoid(good_sigmoid, raising=False)
    finally:
        nnlib.activations.sigmoid.__code__ = original
    assert outcome is False
    assert "the code of nnlib.activations.sigmoid was replaced" in capsys.readouterr().out


def test_replacing_the_code_of_the_detector_itself_is_detected(capsys):
    def finds_nothing():
        return []

    problems = nnlib.checks._integrity.problems
    original = problems.__code__
    problems.__code__ = finds_nothing.__code__
    try:
        outcome = check_sigmoid(good_sigmoid, raising=False)
    finally:
        problems.__code__ = original
    assert outcome is False
    assert "the code of nnlib.checks._integrity.problems was replaced" in capsys.readouterr().out


def test_replacing_numpy_in_sys_modules_is_detected(capsys):
    with replaced(sys, "modules", {**sys.modules, "numpy": object()}):
        outcome = check_sigmoid(good_sigmoid, raising=False)
    assert outcome is False
    assert "the module numpy was replaced in sys.modules" in capsys.readouterr().out


def test_an_answer_that_tampers_while_it_runs_is_caught_afterwards(capsys):
    original = np.allclose

    def sneaky(z):
        np.allclose = _always(True)
        return garbage(z)

    try:
        with pytest.raises(TamperingDetected, match="np.allclose was replaced"):
            check_sigmoid(sneaky)
    finally:
        np.allclose = original
    assert "NNLIB-TAMPERING: check_sigmoid: np.allclose was replaced" in capsys.readouterr().err


def test_a_reference_that_disagrees_with_plain_arithmetic_is_tampering():
    trial = nnlib.checks._core.Trial("sigmoid", "lesson 02")
    with pytest.raises(TamperingDetected, match="disagrees with plain arithmetic"):
        trial.close(np.zeros(3), np.zeros(3), label="sigmoid(z)", recheck=[0.5, 0.5, 0.5])


def test_hidden_tests_fail_a_faked_check():
    """The attack of issue 10: garbage answers plus a check that always passes."""
    exercise_set = ExerciseSet("ex02_activations")
    genuine = nnlib.checks.check_sigmoid
    vars(nnlib.checks)["check_sigmoid"] = _always(True)  # setattr is refused; go behind it
    try:
        outcome = exercise_set.run_hidden("sigmoid", garbage)
    finally:
        vars(nnlib.checks)["check_sigmoid"] = genuine
    assert isinstance(outcome.error, CheckFailed)  # the genuine check ran, and failed garbage


def test_nothing_is_reported_when_nothing_was_replaced():
    assert nnlib.checks._integrity.problems() == []


def _numpy_style_wrapper(implementation):
    """A dispatcher as NumPy before 1.25 generates it: Python code compiled from a string."""
    namespace = {}
    code = compile("def wrapper(*args, **kwargs):\n    return implementation(*args, **kwargs)\n",
                   "<__array_function__ internals>", "exec")
    exec(code, {"implementation": implementation}, namespace)  # noqa: S102 -- as NumPy 1.24 does
    wrapper = namespace["wrapper"]
    wrapper._implementation = implementation
    return wrapper


def test_a_numpy_dispatcher_is_judged_by_the_function_it_wraps():
    """Older NumPy wraps np.allclose in generated code: genuine if it wraps NumPy's own code."""
    numpy_dir = nnlib.checks._integrity._NUMPY_DIR
    origin = nnlib.checks._integrity._origin_problem
    genuine = np.allclose._implementation  # NumPy's Python implementation, in NumPy's folder
    assert origin("np.allclose", _numpy_style_wrapper(genuine), numpy_dir) is None
    assert "defined outside its package" in origin("np.allclose",
                                                   _numpy_style_wrapper(_always(True)), numpy_dir)
