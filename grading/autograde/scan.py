"""A syntax-tree check of the student's own code for the tools of grader tampering (a review signal only).

Every verdict comes from the grader's trusted side (see trusted.py), so a finding never costs a point by itself:
it puts the submission in `needs_review` with the reason. The check reads the code's syntax tree: every name,
attribute, imported module and word inside a string literal (so `"set" "trace"` and `getattr(sys, "settrace")`
are seen), never the raw text with regular expressions that a crafted cell could make slow. Each cell is
capped (SCAN_CAP characters; a larger cell is itself a finding), parsing is linear in the size, and a rule that
the instructor's solution for the same cell also triggers is not reported.
"""
from __future__ import annotations

import ast
import re

from grading.plain import parse_python

SCAN_CAP = 200_000      # characters of one cell that are inspected
SCAN_TOTAL = 2_000_000  # characters of one submission that are inspected (the rest is a finding)

# words (identifiers, attribute names, module names or words in strings) -> plain-words reason
WORDS: list[tuple[frozenset, str]] = [(frozenset(w.split()), why) for w, why in [
    ("settrace setprofile f_trace f_lineno gettrace", "installs a trace/profile hook or jumps lines"),
    ("addaudithook", "installs an audit hook"),
    ("set_custom_exc CustomTB custom_exceptions", "installs an IPython custom exception handler"),
    ("showtraceback _showtraceback showsyntaxerror excepthook last_value last_traceback last_type",
     "replaces or reads the error display"),
    ("input_transformers_cleanup input_transformers_post ast_transformers register_magic_function run_cell "
     "run_code InteractiveShell prefilter_manager transform_cell get_ipython __IPYTHON__ ipykernel shell_handlers "
     "iopub_socket pre_run_cell post_run_cell", "changes how IPython runs cells or talks to the kernel"),
    ("_exit abort kill signal alarm setitimer SIGALRM", "exits or signals the process"),
    ("ctypes cffi _ctypes", "uses ctypes (raw memory access)"),
    ("gc get_referrers get_objects get_referents", "searches live objects with gc"),
    ("_getframe _current_frames f_back f_globals f_locals f_code gi_frame tb_frame currentframe inspect "
     "getframeinfo linecache getsource", "inspects stack frames or source code"),
    ("builtins __builtins__ __self__ globals vars", "reaches builtins or namespaces directly"),
    ("importlib __import__ meta_path path_hooks", "manipulates the import system"),
    ("stdout stderr redirect_stdout redirect_stderr __stdout__ __stderr__", "redirects stdout/stderr"),
    ("__torch_function__ __torch_dispatch__ __array_function__ __array_ufunc__",
     "overrides how torch/numpy treat its objects"),
    ("__class__ __dict__ __code__ __globals__ __closure__ __setattr__", "rewrites objects or functions in place"),
    ("exec eval codecs base64 marshal pickle", "runs code built at run time (hides what it does)"),
    ("environ getenv gethostname getuid getpass", "inspects the environment (grading detection)"),
    ("socket urllib requests http", "uses the network"),
    ("subprocess system popen fork spawn execv execve multiprocessing pty", "starts other processes"),
    ("threading _thread asyncio", "starts background threads"),
    ("gradebook nbgrader autograded HIDDEN", "looks for grading files"),
    ("resource setrlimit atexit finalize __del__", "hooks process exit or limits"),
]]
LIBRARIES = {"torch", "np", "numpy", "math", "operator", "checks", "grading", "unittest", "pytest", "builtins",
             "sys", "student", "IPython"}
LYING_METHODS = {"__eq__", "__ne__", "__bool__", "__len__", "__float__", "__index__", "__int__", "__abs__", "__lt__",
                 "__le__", "__gt__", "__ge__", "all", "any", "item", "allclose", "equal", "tolist"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NAME_ONLY = {"exec", "eval", "globals", "vars", "stack", "signal", "system", "kill", "alarm", "stdout", "stderr"}
# words that count inside string literals too (specific enough never to be English prose or a docstring)
STRING_WORDS = {"settrace", "setprofile", "addaudithook", "excepthook", "showtraceback", "gradebook", "nbgrader",
                "autograded", "currentframe", "linecache", "getsource", "builtins", "importlib", "ctypes", "subprocess",
                "marshal", "pickle", "getenv", "environ", "setattr", "getattr", "sys", "HIDDEN"}


def _root(node) -> str:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


def _words_and_shapes(tree) -> tuple[set[str], list[str]]:
    words: set[str] = set()
    shapes: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            words.add(node.id)
        elif isinstance(node, ast.Attribute):
            if node.attr not in NAME_ONLY or _root(node.value) in ("sys", "os", "signal", "inspect", "builtins"):
                words.add(node.attr)
            if _root(node.value) == "sys" and node.attr in ("modules", "last_value", "last_traceback", "exit"):
                shapes.append(f"reaches sys.{node.attr}")
        elif isinstance(node, ast.alias):
            words.update(node.name.split("."))
            if node.asname:
                words.add(node.asname)
        elif isinstance(node, ast.ImportFrom) and node.module:
            words.update(node.module.split("."))
            if node.module.split(".")[0] in ("grading", "IPython", "ipykernel"):
                shapes.append("imports the grader's or the kernel's own modules")
        elif isinstance(node, ast.Import):
            if any(a.name.split(".")[0] in ("grading", "IPython", "ipykernel") for a in node.names):
                shapes.append("imports the grader's or the kernel's own modules")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            words.update(w for w in _WORD.findall(node.value[:SCAN_CAP]) if "_" in w or w in STRING_WORDS)
            if "solutions/" in node.value or "HIDDEN TESTS" in node.value or "../.." in node.value:
                shapes.append("looks for grading files")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            words.add(node.name)
            if node.name in LYING_METHODS:
                shapes.append("defines comparison/truth methods that tests rely on (objects that can lie)")
        elif isinstance(node, ast.ClassDef):
            if any(_root(b) in ("torch", "np", "numpy") or (isinstance(b, ast.Name) and b.id in ("Tensor", "float",
                                                                                              "int", "ndarray"))
                   for b in node.bases):
                shapes.append("subclasses a tensor, array or number type (objects that can lie)")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for t in targets:
                if isinstance(t, (ast.Attribute, ast.Subscript)) and _root(t) in LIBRARIES:
                    shapes.append("assigns over a library, checker or kernel attribute (monkeypatching)")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr"):
            if node.args and _root(node.args[0]) in LIBRARIES:
                shapes.append("monkeypatches a library with setattr/delattr")
    return words, shapes


def findings(code: str, reference: str = "") -> list[str]:
    """Reasons `code` looks like tampering, skipping reasons the reference solution also gives."""
    if len(code) > SCAN_CAP:
        return [f"the cell is too large to inspect ({len(code)} characters)"]
    mine = _reasons(code)
    if not mine:
        return []
    theirs = set(_reasons(reference[:SCAN_CAP * 5])) if reference else set()
    return [why for why in mine if why not in theirs]


def _reasons(code: str) -> list[str]:
    try:
        tree = parse_python(code)
    except SyntaxError:
        return []          # it will not run either (IPython magics are not tampering tools by themselves)
    except (ValueError, RecursionError, MemoryError):
        return ["the cell could not be inspected (nested too deeply or not text)"]
    words, shapes = _words_and_shapes(tree)
    out = [why for group, why in WORDS if group & words]
    return list(dict.fromkeys(out + shapes))


def scan_plan(student_code: dict[str, str], references: dict[str, str], all_reference: str) -> list[str]:
    """Plain-words findings over every cell the student wrote (label: reason)."""
    result = []
    budget = SCAN_TOTAL
    for label, code in student_code.items():
        budget -= min(len(code), SCAN_CAP)
        if budget < 0:
            result.append(f"{label}: too much code to inspect (over {SCAN_TOTAL} characters in all)")
            break
        for why in findings(code, references.get(label, all_reference)):
            result.append(f"{label}: {why}")
    return result
