"""Class-wide grading: sandboxed, parallel, crash-safe, tamper-aware (`python -m grading grade`).

See grading/GRADING.md for the design and its known limits.
"""
GRADER_VERSION = "1.0"
