"""nbgrader's settings for this course (instructors: see the README, section "For instructors").

The instructor's source notebooks, with solutions and hidden tests, live in solutions/<assignment>/;
`nbgrader generate_assignment <assignment>` writes the student versions to exercises/<assignment>/.
"""

c = get_config()  # noqa: F821 -- nbgrader provides get_config when it reads this file

c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
