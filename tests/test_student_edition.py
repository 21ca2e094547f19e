"""The student edition (solutions/student_edition.py, `make student-edition`) hides the answers.

Hidden means the students never get them: the edition is built in a temporary folder and every
file in it, and in its zip, is searched for the solution and hidden-test markers and for every
line of solution code (>= 16 characters, as in tests/test_exercise_releases.py) and of hidden
test code (the lines the releases do not show anyway) of every set in solutions/. Then the
edition must stand on its own: its own `make test` creates its virtual environment from its own
pyproject.toml (no instructor extra) and runs.

What that `make test` runs, and why: the edition's unit tests with `-m "not slow"` (about a minute,
as in the repository) and the collection of its lesson notebooks, not their execution. The
lessons execute under nbval in the repository's own `make test` already, from the same files;
collecting them here proves that the edition's pytest configuration finds and parses them without
solutions/ and nbgrader, and running them again (several minutes of MNIST training) would prove
nothing more about the edition.
"""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from exercise_support import BEGIN_HIDDEN, BEGIN_SOLUTION, END_HIDDEN, END_SOLUTION, ExerciseSet
from exercise_support import set_names as source_set_names

ROOT = Path(__file__).resolve().parent.parent
MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
MIN_LINE = 16  # shorter lines (`return grad`) may appear anywhere


def _code_lines(text):
    lines = []
    for line in text.splitlines():
        code = line.split("  #")[0].strip()
        if len(code) >= MIN_LINE and not code.startswith("#"):
            lines.append(code)
    return lines


def secret_lines():
    """{line: where it comes from} for every set: solution code and hidden-test code.

    A hidden-test line that the release shows anyway (a visible check repeated) is no secret, nor
    is an import (of nnlib's own functions, which the edition ships).
    """
    secrets = {}
    for name in source_set_names():
        exercise_set = ExerciseSet(name)
        released = "\n".join(cell.source for cell in exercise_set.release.cells)
        for line in _code_lines("\n".join(exercise_set.solution_lines())):
            secrets[line] = f"{name}: solution"
        for part in exercise_set.parts:
            for line in _code_lines(exercise_set.hidden_code(part)):
                if line not in released and not line.startswith(("import ", "from ")):
                    secrets[line] = f"{name}: hidden test of {part}"
    return secrets


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    place = tmp_path_factory.mktemp("edition")
    folder, archive = place / "student-edition", place / "nn-from-scratch-student.zip"
    done = subprocess.run([sys.executable, str(ROOT / "solutions" / "student_edition.py"),
                           "--out", str(folder), "--zip", str(archive)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder, archive


def _texts(folder, archive):
    """(name, text) of every file in the edition folder and in its zip."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield str(path.relative_to(folder)), path.read_text(encoding="utf-8",
                                                                errors="replace")
    with zipfile.ZipFile(archive) as bundle:
        for name in bundle.namelist():
            yield f"zip:{name}", bundle.read(name).decode("utf-8", errors="replace")


def test_there_are_secrets_to_look_for():
    """Guards the search below: it must look for something, in every set."""
    secrets = secret_lines()
    sets = {origin.split(":")[0] for origin in secrets.values()}
    assert sets == set(source_set_names()) and len(secrets) > 20


def test_no_file_holds_a_marker_a_solution_line_or_a_hidden_test(edition):
    secrets = secret_lines()
    leaks = []
    for name, text in _texts(*edition):
        leaks += [f"{name}: marker {marker!r}" for marker in MARKERS if marker in text]
        leaks += [f"{name}: {origin}: {line!r}" for line, origin in secrets.items()
                  if line in text]
    assert leaks == []


def test_the_search_finds_a_leak_when_there_is_one(edition, tmp_path):
    """The same search over a copy of the edition with one source notebook added fails."""
    folder, _ = edition
    leaky = tmp_path / "leaky"
    shutil.copytree(folder, leaky)
    name = source_set_names()[0]
    shutil.copy(ROOT / "solutions" / name / f"{name}.ipynb", leaky / "exercises" / "copy.ipynb")
    empty_zip = tmp_path / "empty.zip"
    zipfile.ZipFile(empty_zip, "w").close()
    texts = dict(_texts(leaky, empty_zip))
    secrets = secret_lines()
    assert BEGIN_SOLUTION in texts["exercises/copy.ipynb"]
    assert any(line in texts["exercises/copy.ipynb"] for line in secrets)


def test_the_instructors_files_are_left_out(edition):
    folder, archive = edition
    files = {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}
    assert not any(name.startswith(("solutions", ".ci")) for name in files)
    assert "nbgrader_config.py" not in files
    assert not {"tests/test_grading.py", "tests/grading_class.py", "tests/exercise_support.py",
                "tests/test_exercise_releases.py", "tests/test_student_edition.py"} & files
    for needed in ("README.md", "Makefile", "pyproject.toml", "conftest.py",
                   "nnlib/__init__.py", "nnlib/checks/__init__.py", "tests/test_layers.py",
                   "notebooks/00_welcome.ipynb"):
        assert needed in files
    for name in source_set_names():
        assert f"exercises/{name}/{name}.ipynb" in files
    with zipfile.ZipFile(archive) as bundle:
        assert {name.split("/", 1)[1] for name in bundle.namelist()} == files
        assert {name.split("/", 1)[0] for name in bundle.namelist()} == {"nn-from-scratch"}


def test_its_readme_makefile_and_pyproject_are_the_students(edition):
    folder, _ = edition
    pyproject = (folder / "pyproject.toml").read_text()
    assert "nbgrader" not in pyproject and "instructor" not in pyproject
    assert 'testpaths = ["tests", "notebooks"]' in pyproject
    makefile = (folder / "Makefile").read_text()
    assert "instructor" not in makefile and "student_edition" not in makefile
    readme = (folder / "README.md").read_text()
    assert "For instructors" not in readme and "solutions/" not in readme
    assert "make lab" in readme and "exercises/" in readme


@pytest.mark.slow  # creates the edition's own virtual environment: a minute or two
def test_its_own_make_test_passes(edition):
    folder, _ = edition
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("VIRTUAL_ENV", "PYTHONPATH")}
    environment["PATH"] = os.pathsep.join(
        part for part in environment.get("PATH", "").split(os.pathsep)
        if Path(part) != Path(sys.executable).parent)  # the edition finds nothing of ours

    def make_test(pytest_args):
        done = subprocess.run(["make", "test", f"PYTHON={sys.executable}",
                               f"PYTEST_ARGS={pytest_args}"], cwd=folder, env=environment,
                              capture_output=True, text=True, timeout=1500, check=False)
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
        return done.stdout

    output = make_test('tests -m "not slow" -q')
    assert " passed" in output and " failed" not in output
    which = subprocess.run([str(folder / ".venv" / "bin" / "python"), "-c",
                            "import nnlib, sys; print(nnlib.__file__)"],
                           cwd=folder.parent, capture_output=True, text=True, check=True)
    assert Path(which.stdout.strip()).resolve().is_relative_to(folder.resolve())
    lessons = make_test("notebooks --collect-only -q")
    for notebook in sorted((folder / "notebooks").glob("*.ipynb")):
        assert f"notebooks/{notebook.name}::" in lessons, f"{notebook.name} was not collected"
