"""Score every autograded test cell pass or fail: an error earns 0, whatever else it printed.

nbgrader reads a test cell's outputs in order and stops at the first one that decides: an error
(or anything on standard error) scores 0, but an ``execute_result`` (what a cell's last
expression displays) is read as partial credit first: a number is the points, and anything that
is not a number counts as full marks. A submission can publish such a result from inside its own
function while the check calls it (``sys.displayhook("...")``), before the check fails: every
test cell then showed a result followed by its error, and garbage answers earned full marks.

This course does not use nbgrader's partial credit: a test cell passes or fails. The preprocessor
below runs after the notebook executed and before nbgrader saves the scores, and turns every
``execute_result`` of a test cell into an ordinary display (still shown in the feedback), so that
only errors decide. nbgrader_config.py inserts it into nbgrader's autograde steps.
"""

from nbformat.v4 import new_output
from nbgrader.preprocessors import LimitOutput, NbGraderPreprocessor, SaveAutoGrades


class PassFailTestCells(NbGraderPreprocessor):
    """Make the results displayed by autograded test cells count for nothing."""

    def preprocess_cell(self, cell, resources, index):
        nbgrader = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and nbgrader.get("grade") and not nbgrader.get("solution"):
            cell.outputs = [_as_display(output) for output in cell.get("outputs", [])]
        return cell, resources


def _as_display(output):
    if output.get("output_type") != "execute_result":
        return output
    return new_output("display_data", data=output.get("data", {}),
                      metadata=output.get("metadata", {}))


def with_pass_fail_scoring(preprocessors):
    """nbgrader's autograde steps with PassFailTestCells just before the scores are saved."""
    steps = [step for step in preprocessors if step is not PassFailTestCells]
    if SaveAutoGrades not in steps:
        raise RuntimeError("nbgrader's autograde no longer has a SaveAutoGrades step: "
                           "update solutions/pass_fail_scoring.py")
    at = steps.index(LimitOutput) + 1 if LimitOutput in steps else steps.index(SaveAutoGrades)
    return steps[:at] + [PassFailTestCells] + steps[at:]
