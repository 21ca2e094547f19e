"""The tampering report: which submission replaced what nnlib.checks relies on, and in which cell.

When a check finds that a notebook replaced NumPy's comparisons, nnlib's references, the
builtins or the checks themselves, it fails the cell and prints one line starting with
``NNLIB-TAMPERING:`` to standard error; its exception (``TamperingDetected``) says "tampering
detected". Both end up in the cell's outputs in autograded/<student>/<set>/<notebook>.ipynb.
This module finds them and keeps ``tampering_report.csv`` next to gradebook.db, one row per
detection: student, set, notebook, cell (the nbgrader grade id) and the message.

nbgrader runs ``update_report`` after every submission it autogrades (see nbgrader_config.py).
To rebuild the whole report from the autograded folder:

    python solutions/tamper_report.py
"""

import csv
import json
import os
import sys
from typing import NamedTuple

REPORT_NAME = "tampering_report.csv"
MARKER = "NNLIB-TAMPERING:"
COLUMNS = ("student", "assignment", "notebook", "cell", "message")


class Finding(NamedTuple):
    student: str
    assignment: str
    notebook: str
    cell: str
    message: str


def _cell_name(cell, index):
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return grade_id or f"cell {index + 1} (no grade id)"


def _messages_in(cell):
    """The tampering lines among one cell's outputs (stderr lines and the check's exception)."""
    messages = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            text = output.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            messages += [line.strip() for line in text.splitlines() if MARKER in line]
        elif output.get("output_type") == "error" and (
                # Also found when the notebook silenced standard error before the check ran.
                output.get("ename") == "TamperingDetected"
                or "tampering detected" in str(output.get("evalue", "")).lower()):
            messages.append(f"{output.get('ename')}: {output.get('evalue')}")
    return messages


def scan_notebook(path, student, assignment):
    """Every detection in one autograded notebook; an unreadable file is itself reported."""
    notebook = os.path.splitext(os.path.basename(path))[0]
    try:
        with open(path, encoding="utf-8") as file:
            cells = json.load(file).get("cells", [])
    except (OSError, ValueError, AttributeError) as error:
        return [Finding(student, assignment, notebook, "-", f"could not read the notebook: {error}")]
    findings = []
    for index, cell in enumerate(cells):
        for message in dict.fromkeys(_messages_in(cell)):  # each message once per cell
            findings.append(Finding(student, assignment, notebook, _cell_name(cell, index),
                                    message))
    return findings


def scan_submission(course_root, student, assignment):
    folder = os.path.join(course_root, "autograded", student, assignment)
    if not os.path.isdir(folder):
        return []
    findings = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".ipynb"):
            findings += scan_notebook(os.path.join(folder, name), student, assignment)
    return findings


def read_report(course_root):
    path = os.path.join(course_root, REPORT_NAME)
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8") as file:
        return [Finding(*(row[column] for column in COLUMNS)) for row in csv.DictReader(file)]


def write_report(course_root, findings):
    path = os.path.join(course_root, REPORT_NAME)
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        writer.writerows(sorted(findings))
    return path


def update_report(course_root, student, assignment, findings):
    """Replace one submission's rows in the report by ``findings`` (the others are kept)."""
    kept = [row for row in read_report(course_root)
            if (row.student, row.assignment) != (student, assignment)]
    return write_report(course_root, kept + list(findings))


def rebuild_report(course_root):
    """Scan every autograded submission and write the report afresh."""
    findings = []
    autograded = os.path.join(course_root, "autograded")
    for student in sorted(os.listdir(autograded)) if os.path.isdir(autograded) else []:
        for assignment in sorted(os.listdir(os.path.join(autograded, student))):
            findings += scan_submission(course_root, student, assignment)
    return write_report(course_root, findings), findings


def main():
    course_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path, findings = rebuild_report(course_root)
    submissions = sorted({(f.student, f.assignment) for f in findings})
    print(f"{len(findings)} tampering detection(s) in {len(submissions)} submission(s): "
          f"{os.path.relpath(path)}")
    for student, assignment in submissions:
        print(f"  {student} / {assignment}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
