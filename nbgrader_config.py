"""nbgrader's settings for this course: the instructor guide is solutions/README.md.

The instructor's source notebooks, with solutions and hidden tests, live in solutions/<set>/;
`nbgrader generate_assignment <set>` writes the student versions to exercises/<set>/. Every
other folder nbgrader uses (submitted/, autograded/, feedback/, downloaded/) and the gradebook
(gradebook.db) are created next to this file on first use and are git-ignored: they hold
students' work.
"""

import functools
import os
import sys

c = get_config()  # noqa: F821 -- nbgrader provides get_config when it reads this file

COURSE_ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(COURSE_ROOT, "solutions"))
import autograde_hooks  # solutions/autograde_hooks.py, found through the line above
import pass_fail_scoring  # solutions/pass_fail_scoring.py
from nbgrader.converters import Autograde

c.CourseDirectory.root = COURSE_ROOT
c.CourseDirectory.course_id = "nnlib"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"

# Seconds one cell may run while autograding. The slowest honest cell trains ex04's MLP on MNIST
# (about a minute on a two-core laptop); five minutes leave room for a busy grading machine, and
# an infinite loop costs five minutes per cell that calls it instead of hanging the class.
# nbgrader interrupts the cell, records a CellTimeoutError in it and goes on with the next cell.
c.Execute.timeout = 300

# Each student's kernel may use at most this much memory (address space), so that a
# memory-hungry loop ends in a MemoryError inside that student's cell instead of in the operating
# system's out-of-memory killer. The environment variable overrides it for one run.
KERNEL_MEMORY_GB = float(os.environ.get("NNLIB_KERNEL_MEMORY_GB", "4"))
c.Autograde.pre_convert_hook = functools.partial(autograde_hooks.limit_kernel_memory,
                                                 KERNEL_MEMORY_GB)
# After each submission: list every "NNLIB-TAMPERING:" line that nnlib.checks printed in it in
# tampering_report.csv, next to gradebook.db, and warn in the autograde output.
c.Autograde.post_convert_hook = functools.partial(autograde_hooks.report_tampering, COURSE_ROOT)

# Each kernel imports nnlib.checks before the notebook's first cell: its tamper detection (an
# audit hook, armed on import) then also watches cells a submission added above the course's
# own, where a fake nnlib.checks could otherwise be installed before the genuine one loads.
# (The first argument is the one nbclient adds by default, kept.)
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:",
                             "--IPKernelApp.exec_lines=import nnlib.checks"]

# A test cell passes or fails: a result it displays is not read as partial credit (which a
# submission could fake from inside its own function before the check failed).
c.Autograde.autograde_preprocessors = pass_fail_scoring.with_pass_fail_scoring(
    Autograde.class_traits()["autograde_preprocessors"].default())

# `nbgrader zip_collect <set>` reads the archives in downloaded/<set>/archive/. Each notebook's
# file name starts with the student's id and ends with the set's notebook name, with anything
# the LMS adds in between: alice_ex01_matrix_ops.ipynb, bob_attempt-2_ex01_matrix_ops.ipynb.
c.FileNameCollectorPlugin.named_regexp = (
    r".*/(?P<student_id>[A-Za-z0-9.@-]+)_(?:[^/]*_)?(?P<file_id>ex\d\d_[a-z0-9_]+\.ipynb)$"
)
