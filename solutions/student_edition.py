"""Build the student edition: the course without its solutions, hidden tests or nbgrader setup.

    python solutions/student_edition.py [--out dist/student-edition] [--zip dist/nn-from-scratch-student.zip]

(`make student-edition` runs it with these defaults.) The edition is a folder a student can work
in on its own, and a zip of it whose files sit under ``nn-from-scratch/``:

    notebooks/     the lessons              exercises/   the released sets (no solutions)
    nnlib/         the library and checks   benchmarks/  the speed benchmarks
    tests/         the tests that need neither solutions/ nor nbgrader
    README.md, Makefile, pyproject.toml    the repository's, without their instructor parts
    conftest.py, environment.yml, .gitignore

Left out: solutions/ (this script too), nbgrader_config.py, .ci/, and every test module that
grades, reads the sources or needs nbgrader. The README, Makefile and pyproject.toml are derived
from the repository's own, so the edition follows them; if one of them changes so that its
instructor part can no longer be removed, the build stops and says which.

Standard library only: it runs with any Python 3.10+, before a virtual environment exists.
"""

import argparse
import re
import shutil
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZIP_FOLDER = "nn-from-scratch"  # the folder a student gets when unpacking the zip

COPIED_FOLDERS = ("notebooks", "exercises", "nnlib", "benchmarks")
COPIED_FILES = ("conftest.py", "environment.yml")
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")

# A test module that mentions one of these grades submissions, reads solutions/ or needs
# nbgrader: it is the instructor's. (The edition's own `make test` proves the rest stand alone.)
INSTRUCTOR_TEST_WORDS = ("nbgrader", "exercise_support", "grading_class", "student_edition")

STUDENT_GITIGNORE = """\
.venv/
.venv-*/
__pycache__/
*.egg-info/
.ipynb_checkpoints/
.pytest_cache/
*.npz
"""

STUDENT_LAYOUT = """\
## What is in this folder

    notebooks/     the lessons, in order, stored without outputs
    exercises/     the graded exercise sets: one notebook per set
    nnlib/         the library the lessons build, and the checks the exercises call
    tests/         pytest: the library and the lessons
    benchmarks/    speed and accuracy benchmarks

## Exercises and handing them in

Each lesson ends by naming its exercise set in `exercises/`. Write each function in its answer
cell and run the check cell below it: the check says what is wrong and which lesson section to
read. Hand in the set's notebook under its own name (for example `ex01_matrix_ops.ipynb`), the
way your instructor asks. Your instructor grades it with further tests and reads your answers to
the open questions, then returns it with feedback.
"""


class EditionError(RuntimeError):
    """The repository changed in a way this builder does not know how to strip."""


def _replace_once(text, pattern, replacement, what, flags=0):
    new, count = re.subn(pattern, replacement, text, count=1, flags=flags)
    if count != 1:
        raise EditionError(f"cannot remove {what}: update solutions/student_edition.py to the "
                           f"new form of that file")
    return new


def student_pyproject(text):
    """pyproject.toml without the instructor extra and without solutions/ among the test paths."""
    text = _replace_once(text, r'^instructor\s*=.*\n', "", "the instructor extra from "
                         "pyproject.toml", flags=re.MULTILINE)
    return _replace_once(text, r',\s*"solutions"', "", '"solutions" from pyproject.toml\'s '
                         "testpaths")


def student_makefile(text):
    """The Makefile without its student-edition target, installing no instructor extra."""
    text = _replace_once(text, r"\n# The student edition.*?\n\n", "\n",
                         "the student-edition target from the Makefile", flags=re.DOTALL)
    return _replace_once(text, r",instructor\b", "", "the instructor extra from the Makefile")


def _sections(markdown):
    """[(title, text)] of a markdown file split at its level-2 headings; title '' for the top."""
    parts = re.split(r"(?m)^(?=## )", markdown)
    return [(part.splitlines()[0][3:].strip() if part.startswith("## ") else "", part)
            for part in parts]


def student_readme(text):
    """The README without the instructors' and the repository's sections, plus the student's."""
    kept = [part for title, part in _sections(text)
            if title not in ("For instructors", "Repository layout")]
    if len(kept) != len(_sections(text)) - 2:
        raise EditionError("cannot find the README's 'For instructors' and 'Repository layout' "
                           "sections: update solutions/student_edition.py")
    return "".join(kept).rstrip() + "\n\n" + STUDENT_LAYOUT


def student_exercises_readme(text):
    """exercises/README.md without the paragraph on how the releases are made from solutions/."""
    paragraphs = text.split("\n\n")
    return "\n\n".join(paragraph for paragraph in paragraphs if "solutions/" not in paragraph)


def is_instructor_test(path):
    return any(word in path.read_text(encoding="utf-8") for word in INSTRUCTOR_TEST_WORDS)


def build(out):
    """Write the edition into the folder ``out`` (emptied first); return the files written."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for folder in COPIED_FOLDERS:
        shutil.copytree(ROOT / folder, out / folder, ignore=JUNK)
    for name in COPIED_FILES:
        shutil.copy2(ROOT / name, out / name)
    (out / "tests").mkdir()
    for path in sorted((ROOT / "tests").iterdir()):
        if path.is_dir() and path.name not in ("__pycache__",):
            shutil.copytree(path, out / "tests" / path.name, ignore=JUNK)
        elif path.suffix == ".py" and not is_instructor_test(path):
            shutil.copy2(path, out / "tests" / path.name)
    (out / "README.md").write_text(student_readme((ROOT / "README.md").read_text()))
    (out / "Makefile").write_text(student_makefile((ROOT / "Makefile").read_text()))
    (out / "pyproject.toml").write_text(student_pyproject((ROOT / "pyproject.toml").read_text()))
    (out / ".gitignore").write_text(STUDENT_GITIGNORE)
    readme = out / "exercises" / "README.md"
    if readme.exists():
        readme.write_text(student_exercises_readme(readme.read_text()))
    return sorted(path for path in out.rglob("*") if path.is_file())


def write_zip(folder, archive):
    """Zip ``folder`` into ``archive``, every file under ZIP_FOLDER/."""
    folder, archive = Path(folder), Path(archive)
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                bundle.write(path, f"{ZIP_FOLDER}/{path.relative_to(folder).as_posix()}")
    return archive


def _shown(path):
    """``path`` relative to the current folder when it is inside it."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "dist" / "student-edition"),
                        help="the folder to write (emptied first)")
    parser.add_argument("--zip", default=str(ROOT / "dist" / "nn-from-scratch-student.zip"),
                        help="the zip to write")
    args = parser.parse_args(argv)
    try:
        files = build(args.out)
    except EditionError as error:
        print(f"student edition: {error}", file=sys.stderr)
        return 1
    archive = write_zip(args.out, args.zip)
    print(f"student edition: {len(files)} files in {_shown(args.out)}")
    print(f"zip to publish:  {_shown(archive)} ({archive.stat().st_size / 2**20:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
