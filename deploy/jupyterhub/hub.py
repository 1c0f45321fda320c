"""`make hub`: serve the course to a whole class on this machine with JupyterHub (run as root).

    python deploy/jupyterhub/hub.py --port 8000            # what `make hub PORT=8000` runs
    python deploy/jupyterhub/hub.py --port 8000 --prepare-only

Every account is a system user (log in with its password, PAM); members of the instructors group get formgrader
and the course directory, members of the students group get the Assignments tab and their own home. Before the
hub starts, `prepare` makes the folders the class shares and gives them their permissions:

- the course directory (instructors only, group-shared): nbgrader's CourseDirectory.root, holding a copy of
  solutions/ and exercises/ and, once the class works, submitted/, autograded/, feedback/ and gradebook.db;
- the exchange root (everyone, sticky): nbgrader's exchange, where releases, submissions and feedback travel;
- the hub's state folder (root only): its database, cookie secret and logs, so a restart keeps every login;
- solutions/ of this checkout closed to everyone outside the instructors group (students share the machine).

The settings travel to jupyterhub_config.py and to the users' nbgrader configuration as COURSE_HUB_* variables
(`HubSettings.to_env`), so the command line, the hub and nbgrader read one set of values.
"""
from __future__ import annotations

import argparse
import grp
import os
import shutil
import socket
import stat
import sys
from dataclasses import dataclass, fields
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PROXY = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
ROLES = HERE / "roles"  # one Jupyter config folder per role, put on each user's JUPYTER_CONFIG_PATH
COURSE_FOLDERS = ("solutions", "exercises")  # copied into the course directory for nbgrader and the grader


@dataclass(frozen=True)
class HubSettings:
    """Everything that differs between two deployments of the course's hub."""

    port: int = 8000                        # the class's address: http://IP:PORT/ (the hub's API: PORT+1,
    ip: str = "127.0.0.1"                   # the proxy's API: PORT+2, both on 127.0.0.1)
    course_id: str = "torch-ground-up"
    course_dir: Path = Path("/srv/torch-ground-up/course")
    exchange: Path = Path("/srv/torch-ground-up/exchange")
    state_dir: Path = Path("/srv/torch-ground-up/hub")
    instructors: str = "torch-instructors"  # system group of the instructors
    students: str = "torch-students"        # system group of the students
    # LTI 1.3 logins from an LMS instead of system passwords (lti13.py), when lti13_issuer is set
    lti13_issuer: str = ""
    lti13_client_id: str = ""               # comma-separated when several LMS registrations share the hub
    lti13_authorize_url: str = ""
    lti13_jwks_endpoint: str = ""

    @property
    def hub_api_port(self) -> int:
        return self.port + 1

    @property
    def proxy_api_port(self) -> int:
        return self.port + 2

    def to_env(self) -> dict[str, str]:
        return {f"COURSE_HUB_{f.name.upper()}": str(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_env(cls, env=os.environ) -> "HubSettings":
        values = {}
        for f in fields(cls):
            raw = env.get(f"COURSE_HUB_{f.name.upper()}")
            if raw is not None:
                values[f.name] = int(raw) if f.type == "int" else Path(raw) if f.type == "Path" else raw
        return cls(**values)


class NotReady(RuntimeError):
    """The machine lacks something the hub needs; the message says what and how to fix it."""


def check_machine(settings: HubSettings, ports: bool = True) -> None:
    """Fail with the fix when the hub cannot serve the class from here (`ports`: also check they are free)."""
    if os.geteuid() != 0:
        raise NotReady("the hub must run as root: it starts each user's server as that user "
                       "(run `sudo make hub`).")
    if not os.access(PROXY, os.X_OK):
        raise NotReady(f"configurable-http-proxy is not installed at {PROXY}: run `make hub-proxy` "
                       "(npm ci in deploy/jupyterhub; needs Node.js 20 or newer and npm).")
    for group in (settings.instructors, settings.students):
        try:
            grp.getgrnam(group)
        except KeyError:
            raise NotReady(f"there is no system group {group!r}: create it with `groupadd {group}` and add "
                           f"its members with `usermod -aG {group} USER`.") from None
    for port in (settings.port, settings.hub_api_port, settings.proxy_api_port) if ports else ():
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1" if port != settings.port else settings.ip, port))
            except OSError:
                raise NotReady(f"port {port} is taken; the hub needs --port P and P+1, P+2 free "
                               f"(pick another P).") from None
    python = Path(os.path.realpath(REPO / ".venv" / "bin" / "python"))  # a venv links to the Python it was made from
    way = [*reversed(python.parents), *reversed(REPO.parents), REPO, REPO / ".venv"]
    closed = [p for p in way if not os.stat(p).st_mode & stat.S_IXOTH]
    if closed:
        raise NotReady(f"other users cannot enter {closed[0]}, so their servers cannot run the course's Python "
                       f"({python}): make the .venv from a Python everyone can run (`make clean-venv setup "
                       f"PYTHON=/usr/bin/python3.11`) or let others pass through (`chmod o+x {closed[0]}`).")


def prepare(settings: HubSettings) -> None:
    """Create the shared folders with their permissions (idempotent: a second run changes nothing)."""
    instructors = grp.getgrnam(settings.instructors).gr_gid
    # the course directory: root and the instructors' group only; setgid so new files stay in the group
    _make_dir(settings.course_dir, 0o2770, gid=instructors)
    for name in COURSE_FOLDERS:
        shutil.copytree(REPO / name, settings.course_dir / name, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        _share_tree(settings.course_dir / name, instructors)
    # the exchange: everyone may create entries, nobody may remove another's (sticky); nbgrader's release makes
    # the course's inbound (write-only for students), outbound (read-only) and feedback (enter-only) inside it
    _make_dir(settings.exchange, 0o1777)
    # ... and the course's folder in it belongs to the instructors' group (setgid: inbound/, outbound/ and
    # feedback/ inherit it), so every instructor can collect what students submit, not only the one who released
    _make_dir(settings.exchange / settings.course_id, 0o2775, gid=instructors)
    # the hub's own state: its database and cookie secret (a restart keeps everyone logged in)
    _make_dir(settings.state_dir, 0o700)
    # this checkout's solutions/: students share the machine, so only the instructors' group may read them
    _share_tree(REPO / "solutions", instructors, others=False)


def _make_dir(path: Path, mode: int, gid: int = 0) -> None:
    for parent in reversed(path.parents):  # the way down must be open to every user
        if not parent.exists():
            parent.mkdir(mode=0o755)
    path.mkdir(exist_ok=True)
    os.chown(path, 0, gid)
    os.chmod(path, mode)


def _share_tree(top: Path, gid: int, others: bool = False) -> None:
    """Give `top` and everything in it to group `gid` (read/write for the group; setgid folders); nothing for
    other users unless `others`."""
    for folder, dirs, files in os.walk(top):
        os.chown(folder, 0, gid)
        os.chmod(folder, 0o2775 if others else 0o2770)
        for name in files:
            path = os.path.join(folder, name)
            os.chown(path, 0, gid)
            os.chmod(path, 0o664 if others else 0o660)


def user_environment(settings: HubSettings, role: str) -> dict[str, str]:
    """What each user's server (and so their terminals and kernels) gets on top of the spawner's own variables:
    the course's Python first on PATH, the repository importable, their role's Jupyter and nbgrader config."""
    venv_bin = REPO / ".venv" / "bin"
    return {**settings.to_env(),
            "COURSE_HUB_ROLE": role,
            "JUPYTER_CONFIG_PATH": f"{ROLES / role}{os.pathsep}{ROLES / 'common'}",
            "PYTHONPATH": str(REPO),  # kernels import minigrad and grading.checks, as under `make lab`
            "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin"}


def hub_command(settings: HubSettings) -> tuple[list[str], dict[str, str]]:
    """The jupyterhub command line and environment for these settings."""
    argv = [sys.executable, "-m", "jupyterhub", "-f", str(HERE / "jupyterhub_config.py")]
    env = {**os.environ, **settings.to_env()}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return argv, env


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, HubSettings]:
    d = HubSettings()
    p = argparse.ArgumentParser(prog="python deploy/jupyterhub/hub.py", description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=d.port, help="the class's port (default %(default)s); the hub's "
                   "API takes the next one and the proxy's API the one after")
    p.add_argument("--ip", default=d.ip, help="address to listen on (default %(default)s; 0.0.0.0 for a class "
                   "on the network, behind HTTPS)")
    p.add_argument("--course-id", default=d.course_id)
    p.add_argument("--course-dir", type=Path, default=d.course_dir)
    p.add_argument("--exchange", type=Path, default=d.exchange)
    p.add_argument("--state-dir", type=Path, default=d.state_dir)
    p.add_argument("--instructors", default=d.instructors, help="system group of the instructors")
    p.add_argument("--students", default=d.students, help="system group of the students")
    lti = p.add_argument_group("LTI 1.3 logins from the LMS (deploy/README.md)")
    lti.add_argument("--lti13-issuer", default="", help="the platform's issuer, e.g. https://canvas.instructure.com")
    lti.add_argument("--lti13-client-id", default="", help="the tool's client id(s) in the LMS, comma-separated")
    lti.add_argument("--lti13-authorize-url", default="", help="the platform's OIDC authorization endpoint")
    lti.add_argument("--lti13-jwks-endpoint", default="", help="the platform's public keys (JWKS)")
    p.add_argument("--prepare-only", action="store_true", help="make the shared folders, do not start the hub")
    args = p.parse_args(argv)
    if not 0 < args.port < 65534:
        p.error(f"--port must be between 1 and 65533, got {args.port}")
    lti_missing = [f"--{n.replace('_', '-')}" for n in ("lti13_client_id", "lti13_authorize_url",
                                                        "lti13_jwks_endpoint") if not getattr(args, n)]
    if args.lti13_issuer and lti_missing:
        p.error(f"--lti13-issuer needs {', '.join(lti_missing)} too (the LMS's tool registration gives them)")
    return args, HubSettings(**{f.name: getattr(args, f.name) for f in fields(HubSettings)})


def main(argv: list[str] | None = None) -> int:
    args, settings = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        check_machine(settings, ports=not args.prepare_only)
    except NotReady as problem:
        print(f"make hub: {problem}", file=sys.stderr)
        return 1
    prepare(settings)
    if args.prepare_only:
        return 0
    argv, env = hub_command(settings)
    print(f"Starting JupyterHub for {settings.course_id} on http://{settings.ip}:{settings.port}/ "
          f"(Ctrl-C to stop; students' servers keep running)", flush=True)
    os.chdir(settings.state_dir)
    os.execve(argv[0], argv, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
