"""Static scan of the student's own code for the tools of grader tampering.

A match never fails a test by itself: it turns points the submission would have earned into
`needs_review` (points withheld, reason given). Patterns that the instructor's own solution for the
same cell uses are not reported, so reference-style answers are never flagged.
"""
from __future__ import annotations

import re

# (regex, plain-words reason)
PATTERNS: list[tuple[str, str]] = [
    (r"\bsettrace\b|\bsetprofile\b|\bf_trace\b|\bf_lineno\b", "installs a trace/profile hook or jumps lines"),
    (r"\baddaudithook\b", "installs an audit hook"),
    (r"\bset_custom_exc\b|\bCustomTB\b|\bcustom_exceptions\b", "installs an IPython custom exception handler"),
    (r"\bshowtraceback\b|\b_showtraceback\b|\bshowsyntaxerror\b", "replaces IPython's traceback display"),
    (r"\bexcepthook\b", "replaces sys.excepthook"),
    (r"\binput_transformers|\bast_transformers\b|\bregister_magic|\brun_cell\b|\brun_code\b|\bInteractiveShell\b",
     "changes how IPython runs cells"),
    (r"\bget_ipython\b|\b__IPYTHON__\b|\bipykernel\b", "talks to the notebook kernel itself"),
    (r"\b_exit\b|\babort\s*\(|\bsys\s*\.\s*exit\b|\bos\s*\.\s*kill\b|\bsignal\s*\.", "exits or signals the process"),
    (r"\bctypes\b|\bcffi\b|\b_ctypes\b", "uses ctypes (raw memory access)"),
    (r"\bgc\s*\.\s*get_referr|\bgc\s*\.\s*get_objects|\bimport\s+gc\b|\bget_referents\b", "searches live objects with gc"),
    (r"\b_getframe\b|\b_current_frames\b|\bf_back\b|\bf_globals\b|\bf_locals\b|\bgi_frame\b|\btb_frame\b|\binspect\s*\.\s*(stack|currentframe)",
     "inspects the caller's stack frames"),
    (r"\bbuiltins\b|__builtins__", "changes or reads builtins"),
    (r"\bsys\s*\.\s*modules\b|\bimportlib\b|__import__|\bsys\s*\.\s*meta_path\b|\bsys\s*\.\s*path_hooks\b",
     "manipulates the import system"),
    (r"\bsys\s*\.\s*std(out|err)\b|\bredirect_std|\bsys\s*\.\s*__std", "redirects stdout/stderr"),
    (r"^\s*(torch|np|numpy|math|operator|checks|grading|unittest|pytest)(\.\w+)+\s*=[^=]",
     "assigns over a library or checker function (monkeypatching)"),
    (r"\bsetattr\s*\(\s*(torch|np|numpy|math|operator|checks|grading|builtins)\b", "monkeypatches a library with setattr"),
    (r"\bdef\s+(__eq__|__ne__|__bool__|__len__|__float__|__index__|__int__|__abs__|__lt__|__le__|__gt__|__ge__|all|any|item|allclose|equal|tolist)\s*\(",
     "defines comparison/truth methods that tests rely on (objects that can lie)"),
    (r"__torch_function__|__torch_dispatch__|__array_function__|__array_ufunc__|class\s+\w+\s*\([^)]*\bTensor\b",
     "overrides how torch/numpy treat its objects"),
    (r"\b__class__\s*=|\b__dict__\s*\[|\bobject\s*\.\s*__setattr__|\b__code__\b|\b__globals__\b|\b__closure__\b",
     "rewrites objects or functions in place"),
    (r"\bexec\s*\(|\beval\s*\(|\bcompile\s*\(|\bcodecs\s*\.\s*decode|\bbase64\b|\bmarshal\b|\bpickle\s*\.\s*loads",
     "runs code built at run time (hides what it does)"),
    (r"\bos\s*\.\s*environ|\bgetenv\b|\bplatform\s*\.\s*node|\bgethostname\b|\bgetuid\b|\bgetpass\b",
     "inspects the environment (grading detection)"),
    (r"\bsocket\b|\burllib\b|\brequests\b|\bhttp\.client\b", "uses the network"),
    (r"\bsubprocess\b|\bos\s*\.\s*(system|popen|fork|exec\w*|spawn\w*)\b|\bmultiprocessing\b|\bpty\b",
     "starts other processes"),
    (r"\bthreading\b|\b_thread\b|\basyncio\b", "starts background threads"),
    (r"gradebook|solutions/|\bnbgrader\b|HIDDEN TESTS|/autograded|\.\./\.\./", "looks for grading files"),
    (r"\bresource\s*\.|\bsetrlimit\b|\batexit\b|\bweakref\s*\.\s*finalize|\b__del__\b", "hooks process exit or limits"),
]
_COMPILED = [(re.compile(p, re.M), why) for p, why in PATTERNS]


def findings(code: str, reference: str = "") -> list[str]:
    """Reasons `code` looks like tampering, skipping patterns the reference solution also uses."""
    out = []
    for regex, why in _COMPILED:
        if regex.search(code) and not (reference and regex.search(reference)):
            out.append(why)
    return out


def scan_plan(student_code: dict[str, str], references: dict[str, str], all_reference: str) -> list[str]:
    """Plain-words findings over every cell the student wrote (label: reason)."""
    result = []
    for label, code in student_code.items():
        for why in findings(code, references.get(label, all_reference)):
            result.append(f"{label}: {why}")
    return result
