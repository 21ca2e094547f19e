"""The committed releases in exercises/ are what nbgrader makes of the sources in solutions/.

For every set in solutions/: a fresh ``nbgrader generate_assignment`` (in a temporary copy of the
course, so the repository's gradebook and releases are left alone) gives the committed release,
ignoring only the checksums nbgrader stores; and no release holds a solution, a hidden test, or
any line of solution code. A set's nbgrader metadata is also checked for what the tests and the
grading rely on: one answer and one test cell per graded part, and points on every test cell.
"""

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from exercise_support import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    ROOT,
    ExerciseSet,
    nbgrader_meta,
    release_path,
    set_names,
)

SETS = set_names()
pytest.importorskip("nbgrader", reason="nbgrader is the instructor extra: pip install -e '.[instructor]'")


def without_checksums(notebook):
    notebook = copy.deepcopy(notebook)
    for cell in notebook["cells"]:
        cell.get("metadata", {}).get("nbgrader", {}).pop("checksum", None)
    return notebook


def solution_code_lines(name):
    """The non-trivial lines of a set's solutions, without their trailing comments.

    Trivial lines (shorter than 16 characters, such as `return grad`) may appear anywhere.
    """
    lines = []
    for line in ExerciseSet(name).solution_lines():
        code = line.split("  #")[0].strip()
        if len(code) >= 16 and not code.startswith("#"):
            lines.append(code)
    return lines


@pytest.fixture(scope="module")
def fresh_releases(tmp_path_factory):
    """{set: the notebook nbgrader generates now}, made in a temporary copy of the course."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    (course / "exercises").mkdir()
    bin_dir = str(Path(sys.executable).parent)  # nbgrader calls alembic, next to it
    environment = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    releases = {}
    for name in SETS:
        subprocess.run([os.path.join(bin_dir, "nbgrader"), "generate_assignment", name,
                        "--force"], cwd=course, env=environment, check=True,
                       capture_output=True, text=True)
        releases[name] = json.loads((course / "exercises" / name / f"{name}.ipynb").read_text())
    return releases


def test_there_are_sets_to_check():
    assert {"ex01_matrix_ops", "ex02_activations"} <= set(SETS)


@pytest.mark.slow  # one nbgrader run per set, a few seconds each
@pytest.mark.parametrize("name", SETS)
def test_committed_release_equals_a_fresh_generate_assignment(name, fresh_releases):
    committed = json.loads(release_path(name).read_text())
    assert without_checksums(committed) == without_checksums(fresh_releases[name]), (
        f"exercises/{name} is out of date: run "
        f"`PATH=$PWD/.venv/bin:$PATH .venv/bin/nbgrader generate_assignment {name} --force`")


@pytest.mark.parametrize("name", SETS)
def test_release_holds_no_solution_and_no_hidden_test(name):
    text = release_path(name).read_text()
    assert BEGIN_SOLUTION not in text and BEGIN_HIDDEN not in text
    released = "\n".join("".join(cell["source"]) for cell in json.loads(text)["cells"])
    leaked = [line for line in solution_code_lines(name) if line in released]
    assert leaked == [], f"solution lines in the release of {name}: {leaked}"


@pytest.mark.parametrize("name", SETS)
def test_solution_code_appears_nowhere_a_student_reads(name):
    """No line of a solution is in nnlib/, the lessons or another release (all shipped)."""
    shipped = "\n".join(path.read_text(errors="replace")
                        for folder in ("nnlib", "notebooks", "exercises")
                        for path in sorted((ROOT / folder).rglob("*"))
                        if path.suffix in (".py", ".ipynb", ".md") and path.is_file())
    leaked = [line for line in solution_code_lines(name) if line in shipped]
    assert leaked == [], f"solution lines of {name} found in shipped files: {leaked}"


@pytest.mark.parametrize("name", SETS)
def test_every_graded_part_has_an_answer_a_test_with_points_and_a_visible_check(name):
    exercise_set = ExerciseSet(name)
    assert exercise_set.parts == list(exercise_set.answers), "one test cell after each answer"
    ids = [nbgrader_meta(cell).get("grade_id") for cell in exercise_set.source.cells]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    for cell in exercise_set.source.cells:
        meta = nbgrader_meta(cell)
        assert meta, "every cell carries nbgrader metadata (locked unless it is an answer)"
        if meta.get("grade"):
            assert meta.get("points", 0) > 0
        if not meta.get("solution"):
            assert meta.get("locked"), f"cell {meta.get('grade_id')} must be locked"
    for part in exercise_set.parts:
        # check_forward(forward), check_backward(backward, forward=forward), check_dense(Dense)
        visible = exercise_set.visible_code(part)
        assert any(f"check_{part.lower()}({part}{end}" in visible for end in "),"), visible
        assert "assert_untampered()" in exercise_set.hidden_code(part)
    open_answers = [cell for cell in exercise_set.source.cells
                    if cell.cell_type == "markdown" and nbgrader_meta(cell).get("solution")]
    assert open_answers, "each set has at least one open question graded by hand"
    for cell in open_answers:
        assert nbgrader_meta(cell).get("grade") and nbgrader_meta(cell).get("points", 0) > 0


@pytest.mark.parametrize("name", SETS)
def test_notebooks_are_stored_without_outputs(name):
    for path in (ROOT / "solutions" / name / f"{name}.ipynb", release_path(name)):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path
