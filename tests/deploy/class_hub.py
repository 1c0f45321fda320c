"""A class on the course's JupyterHub, for a test: system groups and accounts, the hub started by
deploy/jupyterhub/hub.py (the `make hub` command) on free localhost ports, commands run as a given user with the
environment their hub server gives them, and a cleanup that removes every account, process, mount and folder it
made and puts back every permission it changed.
"""
from __future__ import annotations

import contextlib
import errno
import grp
import os
import pwd
import random
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

from grading.lab import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "deploy" / "jupyterhub"))
from hub import PROXY, HubSettings, user_environment  # noqa: E402

EXCHANGE_SIZE = "16m"  # the exchange's own disk: releases and submissions of one small notebook fit easily
HUB_SCRIPT = REPO_ROOT / "deploy" / "jupyterhub" / "hub.py"
VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"


@dataclass(frozen=True)
class Account:
    name: str
    password: str
    role: str  # "instructor" or "student"

    @property
    def home(self) -> Path:
        return Path(pwd.getpwnam(self.name).pw_dir)


def why_not_here() -> str | None:
    """Why the hub journey cannot run on this machine, or None."""
    if os.geteuid() != 0:
        return "the hub journey creates system users and runs JupyterHub as root: run it as root (CI does)"
    if not os.access(PROXY, os.X_OK):
        how = "`make hub-proxy`" if shutil.which("npm") else "install npm (Debian: apt-get install npm), then " \
                                                              "`make hub-proxy`"
        return f"JupyterHub's proxy (configurable-http-proxy) is not installed at {PROXY}: {how}"
    for tool in ("useradd", "userdel", "groupadd", "groupdel", "chpasswd", "bwrap"):
        if not shutil.which(tool):
            return f"`{tool}` is missing (Debian: passwd / bubblewrap packages)"
    return None


def _free_port_trio() -> int:
    """A port P with P, P+1 and P+2 free on localhost (the class, the hub's API, the proxy's API)."""
    for _ in range(200):
        port = random.randrange(20000, 60000)
        try:
            for p in (port, port + 1, port + 2):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
    raise RuntimeError("no three consecutive free ports on 127.0.0.1")


class ClassHub:
    """One instructor and two students on a hub of their own. Use as a context manager."""

    def __init__(self, keep_log: Path | None = None):
        self.keep_log = keep_log  # where the hub's log (with every user server's) is copied at the end
        tag = "hj" + secrets.token_hex(3)  # short: user names are at most 32 characters
        self.base = Path(tempfile.mkdtemp(prefix="course-hub-", dir="/tmp"))
        self.base.chmod(0o755)
        self.settings = HubSettings(port=_free_port_trio(), course_dir=self.base / "course",
                                    exchange=self.base / "exchange", state_dir=self.base / "state",
                                    instructors=f"{tag}-instr", students=f"{tag}-stud")
        self.instructor = Account(f"{tag}-ian", secrets.token_urlsafe(12), "instructor")
        self.alice = Account(f"{tag}-alice", secrets.token_urlsafe(12), "student")
        self.bob = Account(f"{tag}-bob", secrets.token_urlsafe(12), "student")
        self.url = f"http://127.0.0.1:{self.settings.port}"
        self.log = self.base / "hub.log"
        self._proc: subprocess.Popen | None = None
        self._restore: list[tuple[Path, int, int, int]] = []  # (path, mode, uid, gid) to put back
        self._mounts: list[Path] = []

    @property
    def accounts(self) -> list[Account]:
        return [self.instructor, self.alice, self.bob]

    # --- set-up and clean-up ---------------------------------------------------------------------------------
    def __enter__(self) -> "ClassHub":
        try:
            self._create_accounts()
            self._open_way_to_python()
            self._remember_tree(REPO_ROOT / "solutions")  # hub.py closes it to the test's instructors' group
            self.mount_small_tmpfs(self.settings.exchange, EXCHANGE_SIZE)  # its own disk, to fill (fill_disk)
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _create_accounts(self) -> None:
        s = self.settings
        for group in (s.instructors, s.students):
            _run(["groupadd", group])
        for account in self.accounts:
            group = s.instructors if account.role == "instructor" else s.students
            _run(["useradd", "--create-home", "--shell", "/bin/bash", "--groups", group, account.name])
        subprocess.run(["chpasswd"], input="".join(f"{a.name}:{a.password}\n" for a in self.accounts), text=True,
                       check=True, capture_output=True)

    def _open_way_to_python(self) -> None:
        """The course's Python must be reachable by every user (their servers run it). Where a folder above it is
        closed (/root, when the .venv was made from a Python under root's home), let others pass through it
        (search permission only, no listing) for the test's duration."""
        target = Path(os.path.realpath(VENV_PYTHON))
        for folder in [*reversed(target.parents), *reversed(REPO_ROOT.parents), REPO_ROOT]:
            st = folder.stat()
            if not st.st_mode & stat.S_IXOTH:
                self._restore.append((folder, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid))
                folder.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)

    def _remember_tree(self, top: Path) -> None:
        for folder, _dirs, files in os.walk(top):
            for path in [folder, *(os.path.join(folder, f) for f in files)]:
                st = os.lstat(path)
                self._restore.append((Path(path), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid))

    def close(self) -> None:
        """Remove everything the class made; each step runs whatever the previous one did."""
        with contextlib.suppress(Exception):
            self.stop()
        self._kill_user_processes()
        for mount in reversed(self._mounts):
            subprocess.run(["umount", "--lazy", str(mount)], capture_output=True)
        for account in self.accounts:
            subprocess.run(["userdel", "--remove", account.name], capture_output=True)
        for group in (self.settings.instructors, self.settings.students):
            subprocess.run(["groupdel", group], capture_output=True)
        if self.keep_log and self.log.exists():
            shutil.copyfile(self.log, self.keep_log)
        for path, mode, uid, gid in reversed(self._restore):
            with contextlib.suppress(FileNotFoundError):
                os.chown(path, uid, gid, follow_symlinks=False)
                os.chmod(path, mode)
        shutil.rmtree(self.base, ignore_errors=True)

    def _kill_user_processes(self) -> None:
        """Servers and kernels the hub started for the test's accounts (they outlive the hub by design)."""
        uids = set()
        for account in self.accounts:
            with contextlib.suppress(KeyError):
                uids.add(pwd.getpwnam(account.name).pw_uid)
        procs = [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real in uids]
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.terminate()
        _gone, alive = psutil.wait_procs(procs, timeout=10)
        for proc in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)

    # --- the hub ---------------------------------------------------------------------------------------------
    def start(self, timeout: float = 90.0) -> None:
        s = self.settings
        argv = [str(VENV_PYTHON), str(HUB_SCRIPT), f"--port={s.port}", f"--course-dir={s.course_dir}",
                f"--exchange={s.exchange}", f"--state-dir={s.state_dir}", f"--instructors={s.instructors}",
                f"--students={s.students}"]
        with open(self.log, "ab") as log:
            self._proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the hub exited with {self._proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/hub/api", timeout=2) as reply:
                    if reply.status == 200:
                        return
            time.sleep(0.3)
        raise TimeoutError(f"the hub did not answer on {self.url} within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the hub (and the proxy it started) by the process group of its pid; users' servers keep running."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no hub log)"

    def server_pid(self, account: Account) -> int | None:
        """The pid of the account's single-user server, or None."""
        uid = pwd.getpwnam(account.name).pw_uid
        for proc in psutil.process_iter(["uids", "cmdline"]):
            if proc.info["uids"] and proc.info["uids"].real == uid and \
                    any("jupyterhub-singleuser" in part for part in proc.info["cmdline"] or []):
                return proc.pid
        return None

    # --- acting as a user ------------------------------------------------------------------------------------
    def run_as(self, account: Account, *argv: str, check: bool = True, timeout: float = 300,
               cwd: Path | None = None) -> subprocess.CompletedProcess:
        """Run `argv` as `account`, in its home, with the environment its hub server (and terminal) has."""
        pw = pwd.getpwnam(account.name)
        env = {"HOME": pw.pw_dir, "USER": account.name, "LOGNAME": account.name, "LANG": "C.UTF-8",
               **user_environment(self.settings, account.role)}
        result = subprocess.run(list(argv), env=env, cwd=cwd or pw.pw_dir, user=pw.pw_uid, group=pw.pw_gid,
                                extra_groups=os.getgrouplist(account.name, pw.pw_gid), capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} as {account.name} exited {result.returncode}:\n"
                                 f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def can_read(self, account: Account, path: Path) -> bool:
        """Whether `account` can read the file or list the folder `path`."""
        probe = "import os,sys; p=sys.argv[1]; os.listdir(p) if os.path.isdir(p) else open(p,'rb').read(1)"
        return self.run_as(account, str(VENV_PYTHON), "-c", probe, str(path), check=False).returncode == 0

    def mount_small_tmpfs(self, path: Path, size: str) -> None:
        """A tmpfs of `size` at `path` (root only; unmounted by close())."""
        path.mkdir(parents=True, exist_ok=True)
        _run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=1777", "tmpfs", str(path)])
        self._mounts.append(path)


    def fill_disk(self, path: Path) -> None:
        """Write zeros to `path` until its file system is full (the exchange's tmpfs)."""
        block = b"\0" * (1 << 16)
        with open(path, "wb") as f:
            try:
                while True:
                    f.write(block)
                    f.flush()
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
        path.chmod(0o600)


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")


def group_members(name: str) -> list[str]:
    return grp.getgrnam(name).gr_mem
