"""The repository layout that DESIGN.md fixes, and the nbgrader settings that rely on it."""

from pathlib import Path

from traitlets.config.loader import PyFileConfigLoader

ROOT = Path(__file__).resolve().parent.parent


def test_top_level_layout():
    for name in ("README.md", "environment.yml", "pyproject.toml", "nbgrader_config.py",
                 "nnlib", "notebooks", "exercises", "solutions", "tests", "benchmarks",
                 ".ci/run"):
        assert (ROOT / name).exists(), f"{name} is missing from the repository root"


def test_nbgrader_reads_solutions_and_releases_into_exercises():
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert config.CourseDirectory.source_directory == "solutions"
    assert config.CourseDirectory.release_directory == "exercises"
    for folder in ("solutions", "exercises"):
        assert (ROOT / folder).is_dir()
