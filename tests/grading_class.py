"""A class of submissions for the grading round trip (tests/test_grading.py), built from the sets.

Every submission starts from a set's release (exercises/<set>/<set>.ipynb), the notebook a
student receives, and changes only what a student can change: answer cells, extra cells, edited
or deleted cells, or a file that is not a notebook at all. The solution handed in is the release
with each answer cell holding the source's solution code (the ``### BEGIN/END SOLUTION`` lines
removed).
"""

import copy
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"


def set_names():
    """Every set with a source notebook in solutions/, sorted."""
    return sorted(path.parent.name for path in (ROOT / "solutions").glob("*/*.ipynb")
                  if path.stem == path.parent.name)


def read(path):
    return nbformat.read(str(path), as_version=4)


def grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def answer_ids(notebook):
    """The grade ids of the autograded answer cells (code cells a student writes), in order."""
    return [grade_id(cell) for cell in notebook.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")]


def test_ids(notebook):
    """The grade ids of the autograded test cells, in order."""
    return [grade_id(cell) for cell in notebook.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")]


def auto_points(notebook):
    return sum(cell.metadata["nbgrader"].get("points", 0) for cell in notebook.cells
               if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"))


def points_of(notebook, test_id):
    return next(cell.metadata["nbgrader"]["points"] for cell in notebook.cells
                if grade_id(cell) == test_id)


def cell_index(notebook, wanted_id):
    return next(i for i, cell in enumerate(notebook.cells) if grade_id(cell) == wanted_id)


def without_markers(source):
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION))


class SetFiles:
    """A set's source and release notebooks, and the submissions made from them."""

    def __init__(self, name):
        self.name = name
        self.source = read(ROOT / "solutions" / name / f"{name}.ipynb")
        self.release = read(ROOT / "exercises" / name / f"{name}.ipynb")
        self.answers = answer_ids(self.release)
        self.tests = test_ids(self.release)
        self.max_auto = auto_points(self.release)

    @staticmethod
    def grade_id_of(cell):
        return grade_id(cell)

    def test_of(self, answer_id):
        """The test cell that grades an answer cell: the first one after it."""
        start = cell_index(self.release, answer_id)
        return next(grade_id(cell) for cell in self.release.cells[start:]
                    if cell.metadata.get("nbgrader", {}).get("grade")
                    and cell.cell_type == "code")

    def points(self, test_id):
        return points_of(self.release, test_id)

    def untouched(self):
        return copy.deepcopy(self.release)

    def solved(self):
        """The release with every answer cell (code and markdown) holding the solution."""
        notebook = copy.deepcopy(self.release)
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                source_cell = self.source.cells[cell_index(self.source, grade_id(cell))]
                cell.source = without_markers(source_cell.source)
        return notebook

    @staticmethod
    def with_answer(notebook, answer_id, code):
        notebook = copy.deepcopy(notebook)
        notebook.cells[cell_index(notebook, answer_id)].source = code
        return notebook

    @staticmethod
    def with_cell_after(notebook, after_id, code):
        notebook = copy.deepcopy(notebook)
        notebook.cells.insert(cell_index(notebook, after_id) + 1, nbformat.v4.new_code_cell(code))
        return notebook

    @staticmethod
    def without_cell(notebook, wanted_id):
        notebook = copy.deepcopy(notebook)
        del notebook.cells[cell_index(notebook, wanted_id)]
        return notebook

    def garbage(self, notebook=None, prefix=""):
        """Every answer a function with the right name that returns a constant."""
        notebook = self.untouched() if notebook is None else notebook
        for answer_id in self.answers:
            notebook = self.with_answer(notebook, answer_id,
                                        f"def {answer_id}(*args, **kwargs):\n    return 0.5")
        if prefix:
            first = cell_index(notebook, self.answers[0])
            notebook.cells[first].source = prefix + "\n\n" + notebook.cells[first].source
        return notebook


def write(notebook, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))
