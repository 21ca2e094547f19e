"""The notebook checks themselves: stored notebooks are clean, and a printed warning fails a run."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_FOLDERS = ("notebooks", "exercises", "solutions")


def tracked_notebooks():
    listed = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=REPO, capture_output=True,
                            text=True, check=False).stdout.split()
    found = {p for folder in NOTEBOOK_FOLDERS for p in (REPO / folder).rglob("*.ipynb")
             if ".ipynb_checkpoints" not in p.parts}
    return sorted(found | {REPO / name for name in listed})


@pytest.mark.parametrize("path", tracked_notebooks(), ids=lambda p: str(p.relative_to(REPO)))
def test_notebook_is_stored_without_outputs(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    dirty = [index for index, cell in enumerate(notebook["cells"])
             if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))]
    assert not dirty, (
        f"{path.relative_to(REPO)} is committed with outputs in cells {dirty}; "
        f"strip them with: nbstripout --keep-id {path.relative_to(REPO)}")


def write_notebook(path, cells):
    notebook = nbformat.v4.new_notebook()
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(textwrap.dedent(source))
        cell.metadata["tags"] = tags
        notebook.cells.append(cell)
    nbformat.write(notebook, path)


def run_nbval(tmp_path, cells):
    write_notebook(tmp_path / "lesson.ipynb", cells)
    (tmp_path / "conftest.py").write_text((REPO / "conftest.py").read_text(encoding="utf-8"))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
         "-p", "no:cacheprovider", "-o", "filterwarnings=", "-q", "lesson.ipynb"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)


WARNING_CELL = "import warnings\nwarnings.warn('overflow in exp', RuntimeWarning)\n"


def test_a_printed_warning_fails_the_cell_unless_tagged(tmp_path):
    result = run_nbval(tmp_path, [("x = 1", []),
                                  (WARNING_CELL, []),
                                  (WARNING_CELL, ["warning-expected"]),
                                  ("raise ValueError('shown on purpose')", ["raises-exception"])])
    summary = result.stdout.strip().splitlines()[-1]
    assert "1 failed, 3 passed" in summary, result.stdout
    assert "RuntimeWarning: overflow in exp" in result.stdout
