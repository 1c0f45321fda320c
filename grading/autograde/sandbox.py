"""The bubblewrap sandbox one submission's Jupyter kernel runs in, and its resource limits.

Only the kernel runs inside; the grader drives it from outside over unix sockets (jupyter's
`ipc` transport) that live in a runtime folder bound into the sandbox.
"""
from __future__ import annotations

import os
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

HOME = "/home/student"
RUNTIME_INSIDE = f"{HOME}/.local/share/jupyter/runtime"
STAGE_INSIDE = "/opt/submission"   # the submission's files, read-only; copied into the sized work folder at start


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission's kernel (all configurable from the CLI)."""
    memory_mb: int = 4096          # address space per process (RLIMIT_AS) and cgroup memory cap
    cell_timeout: float = 60.0     # seconds per cell
    notebook_timeout: float = 600.0  # seconds for the whole notebook
    output_kb: int = 1024          # total output kept per notebook
    processes: int = 64            # processes/threads inside the sandbox
    file_mb: int = 256             # largest file the kernel may write
    tmp_mb: int = 256              # size of the sandbox's /tmp (a tmpfs of its own)
    shm_mb: int = 64               # size of the sandbox's /dev/shm
    work_mb: int = 256             # size of the work folder (a tmpfs of its own, filled from the submission)
    work_inodes: int = 4096        # files and folders in the work folder, /tmp and /dev/shm (fork engine)


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or cannot create namespaces here."""


def require_bwrap() -> str:
    path = shutil.which("bwrap")
    if not path:
        raise SandboxUnavailable(
            "bubblewrap (`bwrap`) is not installed; install it (Debian: apt-get install bubblewrap) "
            "or pass --no-sandbox to grade without isolation (only for trusted notebooks).")
    return path


def _python_roots() -> list[str]:
    """Folders the venv's interpreter and libraries live in (bound read-only)."""
    roots = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix), sys.prefix}
    return sorted(roots)


def bwrap_command(*, repo: Path, workdir_outside: Path, workdir_inside: str, runtime_outside: Path,
                  course_files: dict[str, Path], limits: Limits, argv: list[str]) -> list[str]:
    """The bwrap command line that runs `argv` with only what a kernel needs visible.

    course_files maps inside paths to outside files/folders bound read-only (the course's
    own packages); nothing else of the repository is visible (no solutions/, no gradebook,
    no other submissions, no grader output).
    """
    cmd = [require_bwrap(), "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
           "--uid", "1000", "--gid", "1000", "--hostname", "jupyter"]
    for system_dir in ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc"):
        if os.path.exists(system_dir):
            cmd += ["--ro-bind", system_dir, system_dir]
    # /tmp first: a venv or checkout that lives under /tmp must be bound on top of it, not hidden by it.
    cmd += ["--size", str(limits.tmp_mb << 20), "--tmpfs", "/tmp"]
    for root in _python_roots():
        cmd += ["--ro-bind", root, root]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--size", str(limits.shm_mb << 20), "--tmpfs", "/dev/shm",
            "--dir", HOME]
    for inside, outside in course_files.items():
        cmd += ["--ro-bind", str(outside), inside]
    cmd += ["--ro-bind", str(workdir_outside), STAGE_INSIDE,
            "--size", str(limits.work_mb << 20), "--tmpfs", workdir_inside,
            "--bind", str(runtime_outside), RUNTIME_INSIDE,
            "--chdir", workdir_inside, "--clearenv",
            "--setenv", "HOME", HOME, "--setenv", "USER", "student", "--setenv", "LANG", "C.UTF-8",
            "--setenv", "PATH", f"{sys.prefix}/bin:/usr/local/bin:/usr/bin:/bin",
            "--setenv", "VIRTUAL_ENV", sys.prefix, "--setenv", "MPLBACKEND", "agg",
            "--setenv", "OMP_NUM_THREADS", "1", "--setenv", "PYDEVD_DISABLE_FILE_VALIDATION", "1",
            "--"]
    return cmd + rlimit_prefix(limits) + argv


STUDENT_ENV = {"HOME": HOME, "USER": "student", "LANG": "C.UTF-8", "MPLBACKEND": "agg", "OMP_NUM_THREADS": "1",
               "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc")
FORK_UID_BASE = 61000   # + a per-sandbox number: an unprivileged uid of its own, so RLIMIT_NPROC binds per sandbox


def fork_spec(*, repo: Path, workdir: Path, workdir_inside: str, runtime: Path, course_files: dict[str, Path],
              limits: Limits, connection_file: str, kernel_args: list[str], scratch: Path, slot: int,
              go: str, userns: bool = False) -> dict:
    """What the fork server needs to build the same sandbox bwrap_command describes."""
    env = dict(STUDENT_ENV, PATH=f"{sys.prefix}/bin:/usr/local/bin:/usr/bin:/bin", VIRTUAL_ENV=sys.prefix)
    return {"ro": [d for d in SYSTEM_DIRS] + _python_roots(), "course": {k: str(v) for k, v in course_files.items()},
            "workdir": str(workdir), "workdir_inside": workdir_inside, "runtime": str(runtime),
            "runtime_inside": RUNTIME_INSIDE, "home": HOME, "scratch": str(scratch), "tmp_mb": limits.tmp_mb,
            "shm_mb": limits.shm_mb, "work_mb": limits.work_mb, "inodes": limits.work_inodes,
            "stage_inside": STAGE_INSIDE,
            "uid": 0 if userns else FORK_UID_BASE + slot, "userns": userns, "go": go, "memory_mb": limits.memory_mb, "processes": limits.processes,
            "file_mb": limits.file_mb, "env": env, "connection_file": connection_file, "kernel_args": kernel_args,
            "hide_paths": [str(repo)]}


def rlimit_prefix(limits: Limits) -> list[str]:
    """`prlimit` in front of the kernel: address space, processes, file size, open files."""
    prlimit = shutil.which("prlimit")
    if not prlimit:
        return []
    mb = 1024 * 1024
    return [prlimit, f"--as={limits.memory_mb * mb}", f"--nproc={limits.processes}",
            f"--fsize={limits.file_mb * mb}", "--nofile=1024", "--core=0", "--"]


class CgroupLimits:
    """A per-sandbox cgroup (v1 `pids` and `memory` controllers) when this machine lets us make one.

    RLIMIT_NPROC does not bind processes that map to root outside the user namespace, so when the
    grader runs as root the process cap comes from the pids cgroup. Absent cgroups, the rlimits
    are all there is (documented in GRADING.md).
    """

    def __init__(self, limits: Limits):
        self.dirs: list[Path] = []
        name = f"grading-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        for controller, settings in (("pids", {"pids.max": str(limits.processes)}),
                                     ("memory", {"memory.limit_in_bytes": str(limits.memory_mb * 1024 * 1024),
                                                 "memory.memsw.limit_in_bytes": None})):
            base = _cgroup_v1_dir(controller)
            if base is None:
                continue
            path = base / name
            try:
                path.mkdir()
            except OSError:
                continue
            self.dirs.append(path)
            for key, value in settings.items():
                if value is None:
                    continue
                try:
                    (path / key).write_text(value)
                except OSError:
                    pass

    def add(self, pid: int) -> None:
        """Move process `pid` into the cgroups (its children to come are then born inside them)."""
        for path in self.dirs:
            try:
                with open(path / "cgroup.procs", "w") as fh:
                    fh.write(str(pid))
            except OSError:
                pass

    def enter(self) -> None:
        """Move the calling process into the cgroups and tie its life to ours (Popen's preexec_fn)."""
        die_with_parent()
        for path in self.dirs:
            try:
                with open(path / "cgroup.procs", "w") as fh:
                    fh.write(str(os.getpid()))
            except OSError:
                pass

    @staticmethod
    def sweep() -> None:
        """Remove cgroups (and any process still in them) left by a grader that was killed."""
        for controller in ("pids", "memory"):
            base = _cgroup_v1_dir(controller)
            if base is None:
                continue
            for path in base.glob("grading-*-*"):
                try:
                    pid = int(path.name.split("-")[1])
                except (IndexError, ValueError):
                    continue
                if not Path(f"/proc/{pid}").exists():
                    stale = CgroupLimits.__new__(CgroupLimits)
                    stale.dirs = [path]
                    stale.remove()

    def remove(self) -> None:
        """Kill whatever is left in the cgroups and delete them (retrying while processes exit)."""
        for path in self.dirs:
            for _ in range(200):
                try:
                    for pid in (path / "cgroup.procs").read_text().split():
                        try:
                            os.kill(int(pid), 9)
                        except OSError:
                            pass
                    path.rmdir()
                    break
                except OSError:
                    time.sleep(0.005)


def die_with_parent() -> None:
    """PR_SET_PDEATHSIG(SIGKILL) for the calling process: it dies when the thread that forked it does.

    bwrap's own --die-with-parent covers only the sandboxed child, not the outer bwrap process, so a
    grader killed with -9 would otherwise leave running sandboxes behind.
    """
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _cgroup_v1_dir(controller: str) -> Path | None:
    """Our own cgroup folder for a v1 controller, if it is mounted and writable."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        own = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    mount_point = None
    for line in mounts:
        parts = line.split()
        if len(parts) >= 4 and parts[2] == "cgroup" and controller in parts[3].split(","):
            mount_point = Path(parts[1])
    if mount_point is None:
        return None
    for line in own:
        _, controllers, rel = line.split(":", 2)
        if controller in controllers.split(","):
            path = mount_point / rel.lstrip("/")
            return path if os.access(path, os.W_OK) else None
    return None
