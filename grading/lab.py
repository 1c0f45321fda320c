"""`python -m grading lab`: open JupyterLab on the course, with nbgrader's Validate button.

One place builds the server's command line (`lab_launch`); `make lab` and the browser test both use it, so the
test drives exactly the server a student starts. The server

- serves the repository (root_dir) and opens on `course/` (default_url /lab/tree/course);
- listens on localhost only, adds `--allow-root` when run as root, and never reaches the internet (no news feed,
  no update check), so it works offline;
- force-enables nbgrader's server extensions (Validate, assignment list, course list, formgrader) and checks that
  nbgrader's JupyterLab extension is installed and not disabled;
- lets every kernel import `minigrad` and `grading` (the repository root goes first on PYTHONPATH), whether or
  not the project was pip-installed;
- finds the course's nbgrader configuration: `grading/` is put first on JUPYTER_CONFIG_PATH, which nbgrader's
  Validate and assignment-list handlers search for `nbgrader_config.py` (after the server's working directory,
  which is the repository root).
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "grading"  # holds nbgrader_config.py
COURSE_URL = "/lab/tree/course"
NBGRADER_LABEXTENSION = "@jupyter/nbgrader"
NBGRADER_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.formgrader",
)


@dataclass(frozen=True)
class LabLaunch:
    """How to start the server: run `argv` in `cwd` with environment `env`."""

    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(repr=False)
    url: str  # where the course opens (with ?token=... when the token is known)


def lab_launch(
    port: int = 8888,
    *,
    root_dir: Path = REPO_ROOT,
    default_url: str = COURSE_URL,
    open_browser: bool = True,
    token: str | None = None,
    port_retries: int = 50,
    env: dict[str, str] | None = None,
    extra_args: tuple[str, ...] | list[str] = (),
) -> LabLaunch:
    """The command line, working directory and environment that start JupyterLab on the course.

    `token=None` lets Jupyter pick a random one (it prints the login URL); tests pass a known token and
    `port_retries=0` so the server is where they expect it. `env` defaults to this process's environment.
    `extra_args` go last, so they override (e.g. `--ServerApp.ip=0.0.0.0` inside a container).
    """
    root_dir = Path(root_dir).resolve()
    if not root_dir.is_dir():
        raise FileNotFoundError(f"JupyterLab root {root_dir} is not a directory; pass the repository root.")
    options = {
        "ServerApp.root_dir": str(root_dir),
        "LabApp.default_url": default_url,
        "ServerApp.ip": "127.0.0.1",
        "ServerApp.port": port,
        "ServerApp.port_retries": port_retries,
        "ServerApp.open_browser": open_browser,
        # offline: no announcements feed, no update check against PyPI
        "LabApp.news_url": None,
        "LabApp.check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
    }
    if token is not None:
        options["IdentityProvider.token"] = token
    overridden = _options_named(extra_args)  # Jupyter refuses an option given twice: the caller's wins
    argv = [sys.executable, "-m", "jupyterlab"]
    argv += [f"--{name}={value}" for name, value in options.items() if name not in overridden]
    argv += [f"--ServerApp.jpserver_extensions={name}=True" for name in NBGRADER_SERVER_EXTENSIONS]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    argv += list(extra_args)
    run_env = dict(os.environ if env is None else env)
    _prepend_path(run_env, "JUPYTER_CONFIG_PATH", CONFIG_DIR)
    _prepend_path(run_env, "PYTHONPATH", REPO_ROOT)  # kernels import minigrad and grading.checks from any folder
    url = f"http://127.0.0.1:{port}{default_url}" + (f"?token={token}" if token else "")
    return LabLaunch(argv=argv, cwd=REPO_ROOT, env=run_env, url=url)


_SERVER_ALIASES = {"ip": "ServerApp.ip", "port": "ServerApp.port", "port-retries": "ServerApp.port_retries",
                   "notebook-dir": "ServerApp.root_dir"}


def _options_named(args) -> set[str]:
    """The `Class.trait` names that command-line arguments such as `--ServerApp.ip=x` or `--port 9` set."""
    names = {arg[2:].split("=", 1)[0] for arg in args if arg.startswith("--")}
    return {_SERVER_ALIASES.get(name, name) for name in names}


def _prepend_path(env: dict[str, str], name: str, entry: Path) -> None:
    """Put `entry` first on the os.pathsep-separated variable `name` (once)."""
    rest = [p for p in env.get(name, "").split(os.pathsep) if p and p != str(entry)]
    env[name] = os.pathsep.join([str(entry), *rest])


def nbgrader_labextension_problem(env: dict[str, str] | None = None) -> str | None:
    """Why nbgrader's JupyterLab extension would not load, or None when it is installed and enabled."""
    from jupyter_core.paths import jupyter_path
    from jupyterlab_server.config import get_page_config

    saved = dict(os.environ)
    try:  # page config and extension paths follow JUPYTER_* variables of the server's environment
        os.environ.clear()
        os.environ.update(env or saved)
        page_config = get_page_config(jupyter_path("labextensions"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    installed = {ext["name"] for ext in page_config.get("federated_extensions", [])}
    if NBGRADER_LABEXTENSION not in installed:
        return (f"nbgrader's JupyterLab extension ({NBGRADER_LABEXTENSION}) is not installed in this environment; "
                "reinstall the pinned environment with `make setup` (pip install -e .).")
    disabled = page_config.get("disabledExtensions", [])
    if isinstance(disabled, dict):  # {name: true/false} in config files, a list of names once merged
        disabled = [name for name, is_off in disabled.items() if is_off]
    off = sorted(name for name in disabled if name.split(":")[0] == NBGRADER_LABEXTENSION)
    if off:
        return (f"nbgrader's JupyterLab extension is disabled ({', '.join(off)}), so there is no Validate button; "
                f"enable it with `.venv/bin/jupyter labextension enable {NBGRADER_LABEXTENSION}`.")
    return None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m grading lab",
        description="Open JupyterLab on the course with nbgrader's extension (assignment list, Validate button).",
        epilog="Other options go to JupyterLab as they are, e.g. --ServerApp.ip=0.0.0.0 inside a container.",
    )
    parser.add_argument("--port", type=int, default=8888, help="port to listen on (default 8888; the next free "
                        "one is used when it is taken)")
    parser.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    parser.add_argument("--token", default=None, help="login token (default: a random one, printed in the URL)")
    args, jupyter_args = parser.parse_known_args(argv)
    args.jupyter_args = jupyter_args
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not 0 < args.port < 65536:
        print(f"--port must be between 1 and 65535, got {args.port}.", file=sys.stderr)
        return 2
    launch = lab_launch(args.port, open_browser=not args.no_browser, token=args.token, extra_args=args.jupyter_args)
    problem = nbgrader_labextension_problem(launch.env)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    print(f"Starting JupyterLab on {launch.url} (Ctrl-C twice to stop)", flush=True)
    os.chdir(launch.cwd)
    os.execve(launch.argv[0], launch.argv, launch.env)  # the server replaces this process; Ctrl-C reaches it
    return 0  # not reached
