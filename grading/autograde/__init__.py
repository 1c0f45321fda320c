"""Class-wide grading: sandboxed, parallel, crash-safe, tamper-aware (`python -m grading grade`).

See grading/GRADING.md for the design and its known limits.
"""
import sys

# nbformat validates with jsonschema, which imports rfc3987_syntax when it is installed (JupyterLab's dependencies
# bring it) only to check the "iri" string format that no notebook schema uses; building that grammar costs the
# grader about 1.5 CPU-seconds per run. An entry of None makes that optional import fail at once.
sys.modules.setdefault("rfc3987_syntax", None)

GRADER_VERSION = "1.1"  # 1.1: records carry what the nbgrader course folder needs (autograded notebooks)
