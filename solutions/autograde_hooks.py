"""What nbgrader_config.py runs around each autograded submission (instructors only).

nbgrader calls ``limit_kernel_memory`` before it grades a submission and ``report_tampering``
after it; the configuration binds their first argument with ``functools.partial``.
"""

import os
import resource
import sys

import tamper_report


def limit_kernel_memory(gigabytes, **_submission):
    """Cap the address space of the kernels started from now on at ``gigabytes``.

    A kernel inherits the limit of the process that starts it, so a student's memory-hungry
    loop gets a MemoryError in its own cell instead of exhausting the machine. The cap applies
    to this autograde process too, which needs far less. A hard limit set from outside (for
    example ``ulimit -v``) is respected: the cap never rises above it.
    """
    wanted = int(gigabytes * 2**30)
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))


def report_tampering(course_root, notebooks=(), **_ids):
    """Record what ``nnlib.checks`` detected in one autograded submission, and warn about it.

    nbgrader passes the paths of the submission's notebooks, submitted/<student>/<set>/<name>;
    its ``student`` argument is the command line's filter ("*" for the whole class), so the
    submission is read from the paths instead.
    """
    for student, assignment in sorted({_submission_of(path) for path in notebooks}):
        findings = tamper_report.scan_submission(course_root, student, assignment)
        tamper_report.update_report(course_root, student, assignment, findings)
        if findings:
            cells = ", ".join(dict.fromkeys(finding.cell for finding in findings))
            print(f"[tampering] {student} / {assignment}: nnlib.checks detected tampering in "
                  f"cells {cells}; see {tamper_report.REPORT_NAME}", file=sys.stderr)


def _submission_of(notebook_path):
    """(student, set) of submitted/<student>/<set>/<notebook>.ipynb."""
    folder = os.path.dirname(os.path.abspath(notebook_path))
    return os.path.basename(os.path.dirname(folder)), os.path.basename(folder)
