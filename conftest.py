"""Checks shared by every notebook that pytest executes with nbval.

nbval (``--nbval-lax``) fails a cell that raises, unless the cell is tagged ``raises-exception``.
It does not look at what a cell prints, so a warning (a ``RuntimeWarning: overflow``, a
deprecation) would pass unnoticed. This hook reads the outputs nbval collected for each cell and
fails the cell when its standard error shows a warning, unless the lesson expects it and tags the
cell ``warning-expected``.
"""

import re

import pytest

WARNING_EXPECTED_TAG = "warning-expected"
_WARNING_LINE = re.compile(r"\w*Warning\b")  # as warnings.showwarning prints: "RuntimeWarning: ..."


def warnings_in_outputs(outputs):
    """Return the warning lines printed to stderr by one executed cell."""
    lines = []
    for output in outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            lines += [line for line in output.get("text", "").splitlines()
                      if _WARNING_LINE.search(line)]
    return lines


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    outputs = getattr(item, "test_outputs", None)  # set by nbval after running a cell
    cell = getattr(item, "cell", None)
    if outputs is None or cell is None:
        return result
    if WARNING_EXPECTED_TAG in cell.get("metadata", {}).get("tags", []):
        return result
    found = warnings_in_outputs(outputs)
    if found:
        pytest.fail(
            "the cell printed a warning:\n    " + "\n    ".join(found)
            + f"\nFix its cause; if the lesson shows it on purpose, tag the cell "
              f"'{WARNING_EXPECTED_TAG}'.",
            pytrace=False,
        )
    return result
