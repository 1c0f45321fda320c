"""Course tooling around nbgrader: student checks, the release, and class-wide grading."""
