"""Helpers for the tests of the exercise sets: read a source notebook, run its pieces.

A set's source notebook (solutions/<set>/<set>.ipynb) pairs each graded part's answer cell
(nbgrader "solution" code cell, grade_id = the function's name) with the test cell that follows
it (nbgrader "grade" code cell): the visible check, then the hidden tests between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``. The release (exercises/<set>/<set>.ipynb)
holds the stubs students start from.

Typical use in a set's test file::

    SET = ExerciseSet("ex02_activations")
    outcome = SET.run_check("sigmoid", naive_sigmoid)   # .passed, .error, .message, .printed
    outcome = SET.run_hidden("sigmoid", naive_sigmoid)
    stub = SET.stub_function("sigmoid")                 # the released stub, as a function
"""

import contextlib
import io
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def set_names():
    """Every set with a source notebook in solutions/, sorted."""
    return sorted(path.parent.name for path in SOLUTIONS.glob("*/*.ipynb")
                  if path.stem == path.parent.name)


def source_path(set_name):
    return SOLUTIONS / set_name / f"{set_name}.ipynb"


def release_path(set_name):
    return EXERCISES / set_name / f"{set_name}.ipynb"


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def strip_markers(source, begin, end, keep_inside):
    """The source without the marker lines, keeping (or dropping) what lies between them."""
    kept, inside = [], False
    for line in source.splitlines():
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        elif keep_inside or not inside:
            kept.append(line)
    return "\n".join(kept)


def between_markers(source, begin, end):
    """Only the lines between the markers (all such regions), dedented as written."""
    kept, inside = [], False
    for line in source.splitlines():
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        elif inside:
            kept.append(line)
    return "\n".join(kept)


def run_code(code, filename, namespace):
    """Execute notebook code in ``namespace``, as the kernel would run the cell."""
    exec(compile(code, filename, "exec"), namespace)  # noqa: S102 -- running cells is the point


class ExerciseSet:
    """One exercise set: its source and release notebooks, and ways to run their cells."""

    def __init__(self, name):
        self.name = name
        self.source = nbformat.read(source_path(name), as_version=4)
        self.release = nbformat.read(release_path(name), as_version=4)
        self.answers, self.tests, self.setup = {}, {}, []
        last_answer = None
        for cell in self.source.cells:
            meta = nbgrader_meta(cell)
            if cell.cell_type != "code":
                continue
            if meta.get("solution"):
                last_answer = meta["grade_id"]
                self.answers[last_answer] = cell.source
            elif meta.get("grade"):
                assert last_answer is not None, f"{name}: a test cell before any answer cell"
                self.tests[last_answer] = cell.source
            elif meta.get("locked"):
                self.setup.append(cell.source)

    @property
    def parts(self):
        """The graded functions, in notebook order."""
        return list(self.tests)

    def solution_code(self, part):
        return strip_markers(self.answers[part], BEGIN_SOLUTION, END_SOLUTION, keep_inside=True)

    def solution_lines(self):
        """Every line written between solution markers in the source (code and markdown)."""
        lines = []
        for cell in self.source.cells:
            lines += between_markers(cell.source, BEGIN_SOLUTION, END_SOLUTION).splitlines()
            meta = nbgrader_meta(cell)
            if cell.cell_type == "markdown" and meta.get("solution"):
                lines += cell.source.splitlines()
        return lines

    def stub_code(self, part):
        """The answer cell as released to students."""
        for cell in self.release.cells:
            if nbgrader_meta(cell).get("grade_id") == part:
                return cell.source
        raise KeyError(f"{self.name}: no cell {part!r} in the release")

    def visible_code(self, part):
        return strip_markers(self.tests[part], BEGIN_HIDDEN, END_HIDDEN, keep_inside=False)

    def hidden_code(self, part):
        return between_markers(self.tests[part], BEGIN_HIDDEN, END_HIDDEN)

    def solution_namespace(self):
        """A fresh namespace as after running the setup and every solution cell."""
        namespace = {"__name__": "__main__"}
        for code in self.setup:
            run_code(code, f"<{self.name} setup>", namespace)
        for part in self.answers:
            run_code(self.solution_code(part), f"<{self.name} {part}>", namespace)
        return namespace

    def stub_function(self, part):
        """The released stub of ``part`` as a function (it raises NotImplementedError)."""
        namespace = self.solution_namespace()
        run_code(self.stub_code(part), f"<{self.name} stub {part}>", namespace)
        return namespace[part]

    def _run(self, code, part, func, label):
        namespace = self.solution_namespace()
        if func is not None:
            namespace[part] = func
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                run_code(code, f"<{self.name} {label} {part}>", namespace)
        except Exception as error:  # noqa: BLE001 -- the caller inspects what was raised
            return Outcome(error, printed.getvalue())
        return Outcome(None, printed.getvalue())

    def run_check(self, part, func=None):
        """Run the visible check cell with ``func`` as the answer (default: the solution)."""
        return self._run(self.visible_code(part), part, func, "check")

    def run_hidden(self, part, func=None):
        """Run the hidden tests with ``func`` as the answer (default: the solution)."""
        return self._run(self.hidden_code(part), part, func, "hidden")


class Outcome:
    """What running a cell gave: the exception it raised (or None) and what it printed."""

    def __init__(self, error, printed):
        self.error = error
        self.printed = printed

    @property
    def passed(self):
        return self.error is None

    @property
    def message(self):
        return "" if self.error is None else str(self.error)

    def __repr__(self):
        verdict = "passed" if self.passed else f"{type(self.error).__name__}: {self.error}"
        return f"<Outcome {verdict}; printed {self.printed!r}>"


# --- what every set's tests assert ---------------------------------------------------------------

def odd_answers(solution):
    """(label, answer, fragment of the message expected) for return values a check must survive."""
    import numpy as np  # the tests' own import: the support module stays light

    def returns_none(*args):
        return None

    def returns_a_list(*args):
        return [0.0, 1.0]

    def returns_nan(*args):
        return np.full(np.shape(solution(*args)), np.nan)

    def raises_inside(*args):
        return 1 / 0

    return [("None", returns_none, "returned None"),
            ("a list", returns_a_list, "returned a Python list"),
            ("NaN", returns_nan, "returned nan"),
            ("an exception", raises_inside, "raised ZeroDivisionError")]


def assert_passes(outcome, part):
    assert outcome.passed, f"{part}: {outcome!r}"
    lines = outcome.printed.strip().splitlines()
    assert len(lines) == 1 and "passed" in lines[0], f"one short line on success: {lines!r}"


def assert_fails_with(outcome, fragment):
    """The cell raised an AssertionError (what nbgrader scores as failed) naming the mistake."""
    assert not outcome.passed, "a wrong answer passed"
    assert isinstance(outcome.error, AssertionError), f"not an AssertionError: {outcome!r}"
    assert fragment in outcome.message, f"expected {fragment!r} in {outcome.message!r}"


def part_tests(exercise_set, wrong_answers):
    """The four tests every set owes each graded part, bound to one set and its wrong answers.

    A set's test file assigns them to module-level ``test_*`` names so that pytest collects them:
    the table covers every part twice; check and hidden tests pass on the solution; both fail on
    the stub; both fail on every wrong answer, the check naming the mistake.
    """
    import pytest

    def table_covers_every_part_with_at_least_two_wrong_answers():
        for part in exercise_set.parts:
            assert sum(row[0] == part for row in wrong_answers) >= 2, part

    @pytest.mark.parametrize("part", exercise_set.parts)
    def check_and_hidden_tests_pass_on_the_solution(part):
        assert_passes(exercise_set.run_check(part), part)
        assert exercise_set.run_hidden(part).passed, exercise_set.run_hidden(part)

    @pytest.mark.parametrize("part", exercise_set.parts)
    def check_and_hidden_tests_fail_on_the_stub(part):
        stub = exercise_set.stub_function(part)
        assert_fails_with(exercise_set.run_check(part, stub), f"{part}: not implemented yet")
        assert_fails_with(exercise_set.run_hidden(part, stub), "not implemented yet")

    @pytest.mark.parametrize(("part", "wrong", "message"), wrong_answers,
                             ids=[f"{row[0]}-{row[1].__name__}" for row in wrong_answers])
    def check_names_the_mistake_and_hidden_tests_fail(part, wrong, message):
        assert_fails_with(exercise_set.run_check(part, wrong), message)
        assert not exercise_set.run_hidden(part, wrong).passed

    return (table_covers_every_part_with_at_least_two_wrong_answers,
            check_and_hidden_tests_pass_on_the_solution,
            check_and_hidden_tests_fail_on_the_stub,
            check_names_the_mistake_and_hidden_tests_fail)
