"""Lesson 07 keeps its own promises: the budget it states, its links, and a test set it touches
only after every choice is made (nbval executes the lesson itself)."""

import json
import re
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LESSON = NOTEBOOKS / "07_challenge.ipynb"


def cells():
    return [{"type": cell["cell_type"], "source": "".join(cell["source"])}
            for cell in json.loads(LESSON.read_text(encoding="utf-8"))["cells"]]


def code_cells():
    return [cell["source"] for cell in cells() if cell["type"] == "code"]


def test_the_budget_the_introduction_states_is_the_one_the_code_uses():
    introduction = cells()[0]["source"]
    budgets = [re.search(r"^BUDGET = (\d+)\b", source, re.MULTILINE) for source in code_cells()]
    found = [int(match.group(1)) for match in budgets if match]
    assert len(found) == 1, "BUDGET is set once, in the first code cell"
    assert re.search(r"^BUDGET = ", code_cells()[0], re.MULTILINE), "BUDGET is in the first code cell"
    assert f"`BUDGET = {found[0]}`" in introduction
    assert "Expected run time" in introduction


def test_the_links_lead_to_existing_notebooks():
    text = "\n".join(cell["source"] for cell in cells() if cell["type"] == "markdown")
    targets = set(re.findall(r"\]\(([^)#]+\.ipynb)\)", text))
    assert {"06_frameworks.ipynb", "00_welcome.ipynb"} <= targets
    for target in targets:
        assert (NOTEBOOKS / target).is_file(), f"the lesson links to {target}, which is missing"


def test_the_test_set_is_loaded_only_after_the_recipe_is_fixed():
    sources = code_cells()
    recipe = next(index for index, source in enumerate(sources) if source.startswith("RECIPE = "))
    test_data = re.compile(r'\b(X_test|y_test|X_fashion_test|y_fashion_test)\b|\("test"\)')
    early = [index for index, source in enumerate(sources[:recipe]) if test_data.search(source)]
    assert not early, f"code cells {early} touch a test set before the recipe is chosen"
    assert any(test_data.search(source) for source in sources[recipe:])
