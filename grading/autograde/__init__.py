"""Class-wide grading: sandboxed, parallel, crash-safe, tamper-aware (`python -m grading grade`).

See grading/GRADING.md for the design and its known limits.
"""
GRADER_VERSION = "1.1"  # 1.1: records carry what the nbgrader course folder needs (autograded notebooks)
