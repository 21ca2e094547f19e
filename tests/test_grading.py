"""The instructor's round trip with nbgrader, on a class that includes hostile submissions.

One module-scoped fixture copies the course to a temporary folder and runs, with the standard
nbgrader command line and the repository's nbgrader_config.py alone, what solutions/README.md
tells an instructor to run: generate_assignment for every set, collect (a folder of
submitted/<student>/<set>/ and an LMS zip through zip_collect), autograde, generate_feedback and
export. The tests then read the exported CSV, the tampering report and the feedback HTML.

The class (why each case is there):

* every set: the solution handed in earns every automatic point; the untouched release earns 0.
  This proves each set's checks against nbgrader itself, not only in-process.
* ex01 (hostile and broken submissions, all but one of them otherwise correct, so that the score
  shows exactly which part was lost):
  - edited-tests: garbage answers, and test cells emptied or rewritten to pass: 0, because
    nbgrader restores locked cells from the gradebook (nbgrader's own defence).
  - deleted-test: one graded test cell deleted: that part is lost (nbgrader scores a missing
    grade cell 0), the others are graded.
  - redefined: an extra cell after an answer redefines the tested function: what runs is graded,
    so that part is lost.
  - infinite-loop: one answer never returns (it sleeps: a Python loop there would be refused
    by the check's loop detector before it ran): that cell times out (nbgrader interrupts it), the
    other parts are graded.
  - memory-hog: one answer allocates until it cannot: the kernel's memory cap (nbgrader_config.py,
    lowered here) turns it into a MemoryError in that part; the machine is never at risk.
  - huge-output: 100 000 printed lines and a 1 MB line: graded in full, output truncated.
  - kernel-killer: os._exit in a cell: nbgrader cannot grade a notebook whose kernel died; the
    submission still gets its row (0) and the rest of the class is graded.
  - not-a-notebook: a file that is not JSON under the notebook's name: row 0, others graded.
  - zipped (via zip_collect): the solution, named as an LMS names it: full marks.
  - wrong-set (via zip_collect): the ex02 notebook handed in for ex01: 0 for ex01, others graded.
* ex02 (tampering and feedback):
  - wrong-answers: a plausible mistake in every part: 0, and the feedback HTML shows the
    nnlib.checks message of every failed part.
  - patch-numpy / patch-checks / patch-builtins: garbage answers plus code that makes NumPy's
    comparisons, the nnlib.checks functions or the builtins always pass: 0, and the tampering
    report names the submission and the cells.
  - swap-checks-module / swap-math-module: garbage answers plus a fake module put in
    sys.modules in place of nnlib.checks (so that the hidden tests import fakes and no genuine
    check runs: 9 of 11 points before the tripwire) or of math (which the hidden tests'
    plain-Python re-checks use): 0, reported, because nnlib.checks' audit hook fails every cell
    that runs while something it relies on is replaced.
  - fake-checks-first: the same fake nnlib.checks, installed in a cell added above the course's
    first one, before the genuine module was imported (9 of 11 points before the fix): 0,
    reported, because nbgrader_config.py makes every kernel import nnlib.checks at start.
  - fake-result: garbage answers that display a result (sys.displayhook) while the check calls
    them, before it fails: nbgrader reads a test cell's result as partial credit, and a result
    that is not a number as full marks, so this earned every point until
    solutions/pass_fail_scoring.py made test cells pass or fail: 0.

The hostile cases use ex01 and ex02, which execute in seconds; the other sets only hand in their
solution and release. Cell timeout in this test: SHORT_TIMEOUT seconds for ex01 and ex02 (so the
infinite loop costs that, not the configured five minutes); the configured one for the others.
"""

import csv
import html
import io
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from grading_class import ROOT, SetFiles, set_names, write

pytestmark = pytest.mark.slow

SHORT_TIMEOUT = 20          # seconds per cell for ex01/ex02; their honest cells take about 1 s
KERNEL_MEMORY_GB = "1.5"    # the memory-hog reaches this and gets a MemoryError
HOSTILE_SET, TAMPER_SET = "ex01_matrix_ops", "ex02_activations"
BIN = Path(sys.executable).parent

PATCH_NUMPY = """\
import numpy
numpy.allclose = lambda *args, **kwargs: True
numpy.isclose = lambda a, b, *args, **kwargs: numpy.ones(numpy.shape(a), dtype=bool)
numpy.array_equal = lambda *args, **kwargs: True
numpy.testing.assert_allclose = lambda *args, **kwargs: None
numpy.testing.assert_array_equal = lambda *args, **kwargs: None"""

PATCH_CHECKS = """\
import nnlib.checks
for _name in dir(nnlib.checks):
    if _name.startswith("check_") or _name == "assert_untampered":
        setattr(nnlib.checks, _name, lambda *args, **kwargs: True)"""

PATCH_BUILTINS = """\
import builtins
builtins.all = lambda *args, **kwargs: True
builtins.any = lambda *args, **kwargs: False
builtins.round = lambda value, *args: value"""

SWAP_CHECKS_MODULE = """\
import sys
import types
import nnlib
_fake = types.ModuleType("nnlib.checks")
_fake.__getattr__ = lambda name: (lambda *args, **kwargs: None)
sys.modules["nnlib.checks"] = _fake
nnlib.checks = _fake
checks = _fake"""

SWAP_MATH_MODULE = """\
import sys
import types
_fake_math = types.ModuleType("math")
_fake_math.isclose = lambda *args, **kwargs: True
_fake_math.exp = lambda x: 0.0
sys.modules["math"] = _fake_math"""

# In a cell of its own above the course's first cell: before nnlib.checks was ever imported.
FAKE_CHECKS_FIRST = """\
import sys
import types
import nnlib
_fake = types.ModuleType("nnlib.checks")
_fake.__getattr__ = lambda name: (lambda *args, **kwargs: None)
sys.modules["nnlib.checks"] = _fake
nnlib.checks = _fake"""

# One plausible mistake per part of ex02 (the feedback must explain each).
EX02_WRONG = {
    "sigmoid": "def sigmoid(z):\n    return 1 / (1 + np.exp(-np.asarray(z, dtype=float)))",
    "sigmoid_derivative": "def sigmoid_derivative(z):\n    return z * (1 - z)",
    "softmax": ("def softmax(Z):\n    E = np.exp(Z - np.max(Z))\n"
                "    return E / E.sum(axis=0, keepdims=True)"),
    "cross_entropy": ("def cross_entropy(P, y):\n"
                      "    return float(-np.sum(np.log(P[np.arange(len(y)), y])))"),
    "softmax_cross_entropy_gradient": (
        "def softmax_cross_entropy_gradient(Z, y):\n"
        "    P = np.exp(Z - Z.max(axis=1, keepdims=True))\n"
        "    P = P / P.sum(axis=1, keepdims=True)\n"
        "    P[np.arange(len(y)), y] -= 1\n    return P"),
    "numerical_gradient": (
        "def numerical_gradient(f, x, eps=1e-5):\n    g = np.zeros(x.shape)\n"
        "    base = f(x)\n    for i in np.ndindex(x.shape):\n        kept = x[i]\n"
        "        x[i] = kept + eps\n        g[i] = (f(x) - base) / eps\n        x[i] = kept\n"
        "    return g"),
}


def build_class(course):
    """Write every submission; return {(set, student): expected automatic score}."""
    expected = {}
    submitted = course / "submitted"

    def hand_in(set_name, student, notebook):
        write(notebook, submitted / student / set_name / f"{set_name}.ipynb")

    for set_name in set_names():
        files = SetFiles(set_name)
        hand_in(set_name, "solution", files.solved())
        hand_in(set_name, "untouched", files.untouched())
        expected[set_name, "solution"] = files.max_auto
        expected[set_name, "untouched"] = 0

    ex01 = SetFiles(HOSTILE_SET)
    solved, full = ex01.solved(), ex01.max_auto
    first, second, third = ex01.answers[:3]

    edited = ex01.garbage()
    for number, test_id in enumerate(ex01.tests):
        edited = SetFiles.with_answer(edited, test_id, "" if number % 2 else "print('passed')")
    hand_in(HOSTILE_SET, "edited-tests", edited)
    expected[HOSTILE_SET, "edited-tests"] = 0

    last_test = ex01.tests[-1]
    hand_in(HOSTILE_SET, "deleted-test", SetFiles.without_cell(solved, last_test))
    expected[HOSTILE_SET, "deleted-test"] = full - ex01.points(last_test)

    hand_in(HOSTILE_SET, "redefined", SetFiles.with_cell_after(
        solved, first, f"def {first}(*args, **kwargs):\n    return 0.5"))
    expected[HOSTILE_SET, "redefined"] = full - ex01.points(ex01.test_of(first))

    hand_in(HOSTILE_SET, "infinite-loop", SetFiles.with_answer(
        solved, second, f"def {second}(*args, **kwargs):\n    import time\n    time.sleep(10**6)"))
    expected[HOSTILE_SET, "infinite-loop"] = full - ex01.points(ex01.test_of(second))

    hand_in(HOSTILE_SET, "memory-hog", SetFiles.with_answer(
        solved, third, f"def {third}(*args, **kwargs):\n    chunks = []\n    while True:\n"
                       f"        chunks.append(bytearray(2**27))"))
    expected[HOSTILE_SET, "memory-hog"] = full - ex01.points(ex01.test_of(third))

    hand_in(HOSTILE_SET, "huge-output", SetFiles.with_cell_after(
        solved, first, "for line in range(100_000):\n    print('spam', line)\nprint('x' * 2**20)"))
    expected[HOSTILE_SET, "huge-output"] = full

    hand_in(HOSTILE_SET, "kernel-killer", SetFiles.with_cell_after(
        solved, first, "import os\nos._exit(1)"))
    expected[HOSTILE_SET, "kernel-killer"] = 0

    broken = submitted / "not-a-notebook" / HOSTILE_SET / f"{HOSTILE_SET}.ipynb"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"PK\x03\x04 this is a zip file renamed, not a notebook")
    expected[HOSTILE_SET, "not-a-notebook"] = 0

    # An LMS download: one zip of files named <student>_<whatever>_<notebook>.ipynb.
    archive = course / "downloaded" / HOSTILE_SET / "archive" / "lms-download.zip"
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(f"zipped_attempt-1_{HOSTILE_SET}.ipynb", nbformat.writes(solved))
        bundle.writestr(f"wrong-set_{TAMPER_SET}.ipynb",
                        nbformat.writes(SetFiles(TAMPER_SET).solved()))
    expected[HOSTILE_SET, "zipped"] = full
    expected[HOSTILE_SET, "wrong-set"] = 0

    ex02 = SetFiles(TAMPER_SET)
    wrong = ex02.untouched()
    for answer_id, code in EX02_WRONG.items():
        wrong = SetFiles.with_answer(wrong, answer_id, code)
    hand_in(TAMPER_SET, "wrong-answers", wrong)
    expected[TAMPER_SET, "wrong-answers"] = 0
    for student, patch in [("patch-numpy", PATCH_NUMPY), ("patch-checks", PATCH_CHECKS),
                           ("patch-builtins", PATCH_BUILTINS),
                           ("swap-checks-module", SWAP_CHECKS_MODULE),
                           ("swap-math-module", SWAP_MATH_MODULE)]:
        hand_in(TAMPER_SET, student, ex02.garbage(prefix=patch))
        expected[TAMPER_SET, student] = 0
    fake_first = ex02.garbage()
    fake_first.cells.insert(0, nbformat.v4.new_code_cell(FAKE_CHECKS_FIRST))
    hand_in(TAMPER_SET, "fake-checks-first", fake_first)
    expected[TAMPER_SET, "fake-checks-first"] = 0
    fake_result = ex02.untouched()
    for answer_id in ex02.answers:
        fake_result = SetFiles.with_answer(fake_result, answer_id, (
            f"def {answer_id}(*args, **kwargs):\n    import sys\n"
            f"    sys.displayhook('full marks, please')\n    return 0.5"))
    hand_in(TAMPER_SET, "fake-result", fake_result)
    expected[TAMPER_SET, "fake-result"] = 0
    return expected


def nbgrader(course, *args, timeout=None):
    """Run one nbgrader command in the course folder as the guide does; return (code, output)."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
               OPENBLAS_NUM_THREADS="1", NNLIB_KERNEL_MEMORY_GB=KERNEL_MEMORY_GB)
    extra = [f"--Execute.timeout={timeout}"] if timeout else []
    done = subprocess.run([str(BIN / "nbgrader"), *args, *extra], check=False, cwd=course, env=env,
                          capture_output=True, text=True, timeout=1800)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions",
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copytree(ROOT / "exercises", course / "exercises")
    logs = {}
    for set_name in set_names():
        code, logs["generate", set_name] = nbgrader(course, "generate_assignment", set_name,
                                                    "--force")
        assert code == 0, logs["generate", set_name]
    expected = build_class(course)
    code, logs["zip_collect"] = nbgrader(course, "zip_collect", HOSTILE_SET)
    assert code == 0, logs["zip_collect"]
    for set_name in set_names():
        short = set_name in (HOSTILE_SET, TAMPER_SET)
        logs["autograde", set_name] = nbgrader(course, "autograde", set_name,
                                               timeout=SHORT_TIMEOUT if short else None)
        logs["feedback", set_name] = nbgrader(course, "generate_feedback", set_name)
    code, logs["export"] = nbgrader(course, "export")
    assert code == 0, logs["export"]
    with open(course / "grades.csv", newline="") as file:
        rows = {(row["assignment"], row["student_id"]): row for row in csv.DictReader(file)}
    return course, expected, rows, logs


def test_zip_collect_files_each_notebook_under_its_student(graded):
    course, _, _, logs = graded
    assert (course / "submitted" / "zipped" / HOSTILE_SET / f"{HOSTILE_SET}.ipynb").exists()
    assert (course / "submitted" / "wrong-set" / HOSTILE_SET / f"{TAMPER_SET}.ipynb").exists()
    assert "Invalid submission notebook name" in logs["zip_collect"]


def test_every_submission_has_its_expected_score(graded):
    _, expected, rows, logs = graded
    scores = {key: float(rows[key]["score"]) for key in expected if key in rows}
    assert scores == {key: float(value) for key, value in expected.items()}, \
        "\n".join(logs["autograde", s][1][-3000:] for s in set_names())


def test_max_score_counts_the_hand_graded_answers_too(graded):
    _, _, rows, _ = graded
    for set_name in set_names():
        files = SetFiles(set_name)
        manual = sum(cell.metadata["nbgrader"].get("points", 0) for cell in files.release.cells
                     if cell.cell_type == "markdown"
                     and cell.metadata.get("nbgrader", {}).get("grade"))
        assert float(rows[set_name, "solution"]["max_score"]) == files.max_auto + manual


def test_only_the_broken_submissions_fail_to_autograde(graded):
    """nbgrader exits 1 and names each submission it could not grade; all others are graded."""
    course, expected, _, logs = graded
    code, output = logs["autograde", HOSTILE_SET]
    assert code == 1
    failed = set(re.findall(r"error processing assignment '[^']+' for student '([^']+)'",
                            output))
    assert failed == {"kernel-killer", "not-a-notebook", "wrong-set"}
    graded_students = {path.parent.parent.name
                       for path in (course / "autograded").glob(f"*/{HOSTILE_SET}/*.ipynb")}
    assert graded_students == {student for (set_name, student) in expected
                               if set_name == HOSTILE_SET} - failed
    for set_name in set(set_names()) - {HOSTILE_SET}:
        assert logs["autograde", set_name][0] == 0, logs["autograde", set_name][1][-3000:]


def _outputs_of(course, student, set_name, wanted_id):
    notebook = nbformat.read(str(course / "autograded" / student / set_name / f"{set_name}.ipynb"),
                             as_version=4)
    return next(cell.outputs for cell in notebook.cells
                if cell.metadata.get("nbgrader", {}).get("grade_id") == wanted_id)


def test_the_loop_times_out_and_the_memory_hog_meets_its_cap(graded):
    course, _, _, _ = graded
    ex01 = SetFiles(HOSTILE_SET)
    loop = _outputs_of(course, "infinite-loop", HOSTILE_SET, ex01.test_of(ex01.answers[1]))
    assert any(output.get("ename") == "CellTimeoutError" for output in loop)
    hog = _outputs_of(course, "memory-hog", HOSTILE_SET, ex01.test_of(ex01.answers[2]))
    assert any("MemoryError" in str(output.get("evalue", "")) + str(output.get("ename", ""))
               for output in hog)


def test_a_result_displayed_by_a_test_cell_is_not_read_as_a_score(graded):
    course, _, _, _ = graded
    ex02 = SetFiles(TAMPER_SET)
    for test_id in ex02.tests:
        outputs = _outputs_of(course, "fake-result", TAMPER_SET, test_id)
        kinds = [output.output_type for output in outputs]
        assert "execute_result" not in kinds and "display_data" in kinds and "error" in kinds


def test_huge_output_is_truncated(graded):
    course, _, _, _ = graded
    path = course / "autograded" / "huge-output" / HOSTILE_SET / f"{HOSTILE_SET}.ipynb"
    assert "Output truncated" in path.read_text()
    assert path.stat().st_size < 4 * 2**20


def test_tampering_is_reported_by_submission_and_cell(graded):
    course, _, _, logs = graded
    with open(course / "tampering_report.csv", newline="") as file:
        report = list(csv.DictReader(file))
    tampered = {row["student"] for row in report}
    assert tampered == {"patch-numpy", "patch-checks", "patch-builtins", "swap-checks-module",
                        "swap-math-module", "fake-checks-first"}
    ex02 = SetFiles(TAMPER_SET)
    for student in tampered:
        rows = [row for row in report if row["student"] == student]
        assert {row["assignment"] for row in rows} == {TAMPER_SET}
        # Detections in the test cells, in the answer cells (nnlib.checks' refusal to replace a
        # check, or the audit hook failing every cell after a replacement), in the locked setup
        # cell and the submission's own cell above it (fake-checks-first).
        cells = {row["cell"] for row in rows}
        assert cells & (set(ex02.tests) | set(ex02.answers))
        known = {SetFiles.grade_id_of(cell) for cell in ex02.release.cells}
        assert all(cell in known or cell.endswith("(no grade id)") for cell in cells), cells
        assert all(row["message"] for row in rows)
        assert f"[tampering] {student} / {TAMPER_SET}" in logs["autograde", TAMPER_SET][1]


def _text_of_html(path):
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


def _expected_message(answer_code, check):
    """What nnlib.checks says about this answer, computed here, outside nbgrader."""
    import numpy as np

    from nnlib.checks import CheckFailed

    namespace = {"np": np}
    exec(answer_code, namespace)  # noqa: S102 -- the answer is this test's own code
    function = next(value for name, value in namespace.items()
                    if callable(value) and name != "np" and not name.startswith("__"))
    with pytest.raises(CheckFailed) as failure:
        check(function)
    return str(failure.value)


def test_feedback_shows_the_checks_message_for_every_failed_part(graded):
    from nnlib import checks

    course, _, _, _ = graded
    feedback = course / "feedback" / "wrong-answers" / TAMPER_SET / f"{TAMPER_SET}.html"
    text = _text_of_html(feedback)
    for answer_id, code in EX02_WRONG.items():
        message = _expected_message(code, getattr(checks, f"check_{answer_id}"))
        first_line = message.splitlines()[0].strip()
        assert first_line in text, f"{answer_id}: {first_line!r} is not in the feedback"


def test_every_failed_test_cell_fails_with_an_explanation(graded):
    """Across the class, a failed check cell carries a message, never a bare AssertionError."""
    course, _, _, _ = graded
    for path in (course / "autograded").glob("*/*/*.ipynb"):
        notebook = nbformat.read(str(path), as_version=4)
        feedback = course / "feedback" / path.relative_to(course / "autograded")
        text = _text_of_html(feedback.with_suffix(".html"))
        for cell in notebook.cells:
            if not cell.metadata.get("nbgrader", {}).get("grade") or cell.cell_type != "code":
                continue
            timed_out = any(output.get("ename") == "CellTimeoutError" for output in cell.outputs)
            for output in cell.outputs:
                # A timeout is nbgrader's: its interrupt adds a bare KeyboardInterrupt too.
                if output.output_type != "error" or timed_out:
                    continue
                assert output.evalue.strip(), f"{path}: a bare {output.ename}"
                assert output.evalue.splitlines()[0].strip() in text


def test_export_csv_is_readable_by_a_spreadsheet(graded):
    course, _, _, _ = graded
    header = io.StringIO((course / "grades.csv").read_text()).readline().strip().split(",")
    assert {"assignment", "student_id", "score", "max_score"} <= set(header)
