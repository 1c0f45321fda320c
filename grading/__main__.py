"""`python -m grading <command> ...`: one entry point for the course's grading tools.

    check    check an exercise notebook from the command line (students)
    release  regenerate exercises/ from solutions/ with nbgrader (instructors)
    grade    grade a class of submissions, sandboxed and in parallel (instructors)
    export   write upload files (per-question CSV, Canvas gradebook) from graded results (instructors)
    lab      open JupyterLab on the course, with nbgrader's extension (students)
    formgrader  open nbgrader's formgrader on a grading folder, for manual grading (instructors)
"""
import importlib
import sys

COMMANDS = {
    "check": ("grading.student_check", "check an exercise notebook and say which questions pass"),
    "release": ("grading.release", "regenerate exercises/ from solutions/ with nbgrader"),
    "grade": ("grading.autograde.cli", "grade a folder or LMS zip of submissions"),
    "export": ("grading.autograde.export", "write per-question and LMS gradebook CSVs from graded results"),
    "lab": ("grading.lab", "open JupyterLab on the course with nbgrader's extension"),
    "formgrader": ("grading.formgrader", "open nbgrader's formgrader on a grading folder (grade's --out)"),
}


def usage() -> str:
    lines = ["usage: python -m grading <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run `python -m grading <command> --help` for a command's options."]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"unknown command {name!r}.\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
