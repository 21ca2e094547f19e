"""The lessons' "Your turn" cells: the student writes code, a check says how it went.

The convention, in every lesson:

* a code cell tagged ``your-turn`` defines the student's function; as shipped its body raises
  ``NotImplementedError("your turn: ...")`` inside the function, so running the cell never raises;
* the next code cell, tagged ``your-turn-check``, calls a check of ``nnlib.checks`` that reports
  without raising (``report(check_x, f)`` or ``check_x(f, raising=False)``);
* the markdown cell after it holds a collapsed hint and a collapsed reference answer: a
  ``<details>`` block whose fenced ``python`` block is the whole replacement for the cell.

The fast tests read the notebooks; the slow ones execute each lesson twice in a fresh kernel, up
to its last check (nbval runs the whole lesson as shipped): as shipped, where every check must say
"not implemented yet" and no cell may raise, and with every ``your-turn`` cell replaced by its
reference answer, where every check must say "passed".
"""

import ast
import json
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
YOUR_TURN, CHECK = "your-turn", "your-turn-check"
REFERENCE = re.compile(r"<summary>\s*Reference answer\s*</summary>\s*```python\n(.*?)```",
                       re.DOTALL)
HINT = re.compile(r"<details>\s*<summary>\s*Hint\s*</summary>.+?</details>", re.DOTALL)
NOT_DONE = "not implemented yet"
PASSED = re.compile(r": passed \(\d+ tests?\)\.")


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def source(cell):
    text = cell["source"]
    return "".join(text) if isinstance(text, list) else text


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def lessons_with_exercises():
    return [path for path in sorted(NOTEBOOKS.glob("*.ipynb"))
            if any(YOUR_TURN in tags(cell) for cell in load(path))]


LESSONS = lessons_with_exercises()
IDS = [path.stem for path in LESSONS]


def exercises(cells):
    """[(index of the your-turn cell, its reference answer)] of one lesson, checking the layout."""
    found = []
    for index, cell in enumerate(cells):
        if YOUR_TURN not in tags(cell):
            continue
        assert cell["cell_type"] == "code", f"cell {index}: a your-turn cell is a code cell"
        following = cells[index + 1:index + 3]
        assert len(following) == 2, f"cell {index}: a check and a hint cell must follow"
        check_cell, hint_cell = following
        assert check_cell["cell_type"] == "code" and CHECK in tags(check_cell), (
            f"cell {index + 1}: the cell after a your-turn cell is its check, tagged {CHECK!r}")
        assert hint_cell["cell_type"] == "markdown", f"cell {index + 2}: hint and answer"
        answer = REFERENCE.search(source(hint_cell))
        assert answer, f"cell {index + 2}: no <details> reference answer with a python block"
        assert HINT.search(source(hint_cell)), f"cell {index + 2}: no <details> hint"
        found.append((index, answer.group(1)))
    return found


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_each_exercise_has_a_check_a_hint_and_a_reference_answer(path):
    cells = load(path)
    found = exercises(cells)
    assert 2 <= len(found) <= 4, f"{path.name}: {len(found)} your-turn cells; 2 to 4 expected"
    checks = [index for index, cell in enumerate(cells) if CHECK in tags(cell)]
    assert checks == [index + 1 for index, _ in found], "every check follows its your-turn cell"


def raises_not_implemented_at_top_level(tree):
    """True if a `raise` sits outside every function: running the cell itself would raise."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside |= {id(child) for child in ast.walk(node)}
    return any(isinstance(node, ast.Raise) and id(node) not in inside for node in ast.walk(tree))


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_shipped_exercises_are_stubs_that_do_not_raise_when_run(path):
    cells = load(path)
    for index, answer in exercises(cells):
        shipped = source(cells[index])
        tree = ast.parse(shipped)
        assert 'NotImplementedError("your turn' in shipped, (
            f"cell {index}: the stub raises NotImplementedError(\"your turn: ...\")")
        assert not raises_not_implemented_at_top_level(tree), (
            f"cell {index}: the raise must be inside the function, so the cell runs")
        reference = ast.parse(answer)
        assert "NotImplementedError" not in answer, f"cell {index}: the answer is not a stub"
        defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        answered = {node.name for node in reference.body if isinstance(node, ast.FunctionDef)}
        assert defined == answered, f"cell {index}: the answer defines {answered}, not {defined}"


# --- executing the lessons ----------------------------------------------------------------------

def run_cells(sources_and_tags, timeout=600):
    """Execute code cells in a fresh kernel of this interpreter; [(stdout, error or None)]."""
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import KernelManager

    manager = KernelManager()
    manager._kernel_spec = KernelSpec(  # this interpreter, as nbval's --nbval-current-env does
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name="current", language="python")
    manager.start_kernel(cwd=str(NOTEBOOKS), env=dict(os.environ))
    client = manager.client()
    client.start_channels()
    results = []
    try:
        client.wait_for_ready(timeout=120)
        for code, _ in sources_and_tags:
            printed, errors = [], []

            def collect(message, printed=printed, errors=errors):
                kind, content = message["msg_type"], message["content"]
                if kind == "stream" and content["name"] == "stdout":
                    printed.append(content["text"])
                elif kind == "error":
                    errors.append(f"{content['ename']}: {content['evalue']}")

            client.execute_interactive(code, output_hook=collect, timeout=timeout,
                                       store_history=False)
            results.append(("".join(printed), errors[0] if errors else None))
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return results


def executed(path, with_answers):
    """Run the lesson up to its last check; {check cell index: what it printed}."""
    cells = load(path)
    answers = dict(exercises(cells))
    last_check = max(index for index, cell in enumerate(cells) if CHECK in tags(cell))
    code = [(index, answers.get(index, source(cell)) if with_answers else source(cell), tags(cell))
            for index, cell in enumerate(cells[:last_check + 1]) if cell["cell_type"] == "code"]
    outputs = run_cells([(text, cell_tags) for _, text, cell_tags in code])
    printed = {}
    for (index, _, cell_tags), (stdout, error) in zip(code, outputs):
        if error and "raises-exception" not in cell_tags:
            pytest.fail(f"{path.name} cell {index} raised {error}")
        if CHECK in cell_tags:
            printed[index] = stdout
    return printed


@pytest.mark.slow  # executes the lesson in a kernel
@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_as_shipped_every_check_reports_not_done_and_nothing_raises(path):
    for index, stdout in executed(path, with_answers=False).items():
        assert NOT_DONE in stdout and not PASSED.search(stdout), (
            f"{path.name} cell {index} printed {stdout!r}; expected '{NOT_DONE}'")


@pytest.mark.slow  # executes the lesson in a kernel
@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_with_the_reference_answers_every_check_passes(path):
    for index, stdout in executed(path, with_answers=True).items():
        assert PASSED.search(stdout) and NOT_DONE not in stdout, (
            f"{path.name} cell {index} printed {stdout!r}; expected 'passed'")
