"""A fork server for sandboxed kernels: torch and ipykernel are imported once, each kernel is a fork.

Starting a kernel costs about two CPU-seconds, almost all of it `import torch` and ipykernel; a class of
notebooks pays that again and again. This server (a separate, trusted process that never runs student
code) imports them once. For each submission it forks a child that builds the same sandbox bwrap
builds, with the same kernel primitives, before any student code exists in it:

    new mount, pid, network, ipc, uts and cgroup namespaces; a tmpfs root holding only read-only binds
    of the system and Python folders and the course's own packages, the submission's writable work
    folder and the runtime (socket) folder; fresh /proc, /tmp, a minimal /dev; pivot_root; then
    no_new_privs, rlimits, and an unprivileged per-slot uid (which drops every capability and makes
    RLIMIT_NPROC bind); the environment cleared to a student's.

The child is pid 1 of its pid namespace (its parent, a tiny supervisor, has PDEATHSIG on it), so killing
the supervisor takes the whole sandbox down. Run as root, the server creates the namespaces itself and each
kernel gets its own unprivileged uid. Run by anyone else, the server itself lives inside a bubblewrap user
namespace (`userns=True`: root there, which is the grader's own uid outside) and each kernel, after building
its root, drops every capability (bounding set, ambient, effective, permitted) under no_new_privs, so neither
it nor anything it executes can use the namespace's privileges. Protocol: one JSON request per line on stdin,
one JSON answer per line on stdout; a spawned supervisor waits on its `go` FIFO until the grader has put it in
its cgroups, so every process of the sandbox starts inside them.
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import sys

CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x08000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4
CAPABILITY_VERSION_3 = 0x20080522
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

_libc = ctypes.CDLL(None, use_errno=True)
# what a kernel imports on start (ipykernel, IPython, its debugger) and what every notebook imports
PRELOAD = ("torch", "numpy", "IPython", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell",
           "ipykernel.iostream", "ipykernel.comm", "ipykernel.debugger", "debugpy", "IPython.core.debugger",
           "IPython.core.completer", "tornado.ioloop", "zmq", "jupyter_client.session", "pdb", "pydoc",
           "IPython.core.completerlib", "IPython.core.oinspect", "IPython.extensions.storemagic",
           "tornado.platform.asyncio", "faulthandler",
           # what the grader's install step and the checks import in every kernel (the course's own minigrad, the
           # same files the sandbox shows read-only; grading.* itself is always re-imported inside)
           "torch.testing", "torch.nn.functional", "torch.autograd.functional", "numpy.testing", "IPython.display",
           "minigrad", "minigrad.testing",
           # what IPython loads to show the first error of a kernel (its coloured, annotated traceback)
           "IPython.core.logger", "stack_data", "pygments.lexers.python", "pygments.formatters.terminal256",
           "pygments.formatters.html", "pygments.styles", "pygments.filters",
           # what torch.autograd.backward(outputs, grad_tensors) imports (with sympy) on its first call: 0.3 s a kernel
           "torch.fx.experimental.symbolic_shapes")
# What torch imports (with sympy) on the first jacrev/jacfwd, torch.func transform or meta tensor: about 1.2
# CPU-seconds that every kernel of such an assignment would pay again. Preloaded only for the assignments that use
# them (`uses_functorch`): an import cannot be interrupted, so preloading it for all held up the first kernels of
# every other assignment by as much.
PRELOAD_FUNCTORCH = ("torch._dynamo", "torch._decomp.decompositions_for_jvp")
_FUNCTORCH_USE = re.compile(r"torch\.func\b|functorch|\bjacrev\b|\bjacfwd\b|device\s*=\s*\\?[\"']meta")


def uses_functorch(text: str) -> bool:
    """Whether an assignment's notebooks (their raw text) call what PRELOAD_FUNCTORCH serves. Only a hint for
    speed: a kernel that needs these modules anyway imports them itself."""
    return _FUNCTORCH_USE.search(text) is not None


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src, dst, fstype, flags, data=None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(src), enc(dst), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {dst}")


def _bind(root: str, src: str, dst: str, readonly: bool, device: bool = False) -> None:
    target = root + dst
    if os.path.isdir(src):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(src, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (0 if device else MS_NODEV) | (MS_RDONLY if readonly else 0)
    _mount(None, target, None, flags)


def _build_root(spec: dict) -> None:
    """Mount the sandbox's file system and pivot into it (we are pid 1 of a fresh pid namespace)."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # a tmpfs over an existing empty folder (in our private mount namespace: the host never sees it)
    root = spec["scratch"]
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=64m")
    # /tmp first: a venv or checkout that lives under /tmp must be bound on top of it, not hidden by it.
    os.makedirs(root + "/tmp", exist_ok=True)
    _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
           "mode=1777,size=%dm,nr_inodes=%d" % (spec["tmp_mb"], spec["inodes"]))
    for path in spec["ro"]:
        if os.path.exists(path):
            _bind(root, path, path, readonly=True)
    for inside, outside in spec["course"].items():
        _bind(root, outside, inside, readonly=True)
    _bind(root, spec["workdir"], spec["stage_inside"], readonly=True)
    os.makedirs(root + spec["workdir_inside"], exist_ok=True)   # a sized work folder: disk and inode quota
    _mount("tmpfs", root + spec["workdir_inside"], "tmpfs", MS_NOSUID | MS_NODEV,
           "mode=0755,uid=%d,gid=%d,size=%dm,nr_inodes=%d" % (spec["uid"], spec["uid"], spec["work_mb"], spec["inodes"]))
    _bind(root, spec["runtime"], spec["runtime_inside"], readonly=False)
    os.makedirs(root + "/proc", exist_ok=True)
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(root + "/dev", exist_ok=True)
    _mount("tmpfs", root + "/dev", "tmpfs", MS_NOSUID, "mode=755,size=1m")
    for dev in DEVICES:
        if os.path.exists("/dev/" + dev):
            _bind(root, "/dev/" + dev, "/dev/" + dev, readonly=False, device=True)
    os.makedirs(root + "/dev/shm", exist_ok=True)
    _mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
           "mode=1777,size=%dm,nr_inodes=%d" % (spec["shm_mb"], spec["inodes"]))
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, root + "/dev/" + name)
    home = root + spec["home"]
    os.makedirs(home, exist_ok=True)
    os.chown(home, spec["uid"], spec["uid"])
    os.makedirs(root + "/.oldroot", exist_ok=True)
    _check(_libc.syscall(SYS_PIVOT_ROOT[os.uname().machine], root.encode(), (root + "/.oldroot").encode()),
           "pivot_root")
    os.chdir("/")
    _check(_libc.umount2(b"/.oldroot", MNT_DETACH), "umount old root")
    os.rmdir("/.oldroot")
    _mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _drop_privileges(spec: dict) -> None:
    import resource

    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    mb = 1024 * 1024
    for limit, value in ((resource.RLIMIT_AS, spec["memory_mb"] * mb), (resource.RLIMIT_NPROC, spec["processes"]),
                         (resource.RLIMIT_FSIZE, spec["file_mb"] * mb), (resource.RLIMIT_NOFILE, 1024),
                         (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(limit, (value, value))
    if spec.get("userns"):
        _drop_capabilities()
    else:
        os.setgroups([])
        os.setresgid(spec["uid"], spec["uid"], spec["uid"])
        os.setresuid(spec["uid"], spec["uid"], spec["uid"])   # non-zero uids: every capability is dropped
    # a credential change clears the parent-death signal: set it again, now, so the sandbox dies with its
    # supervisor (and so with the grader) even after `kill -9`
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")


def _drop_capabilities() -> None:
    """Inside a user namespace (uid 0 there): no capability now, none after any execve (bounding set empty)."""
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:   # EINVAL: no such cap
            _check(-1, f"drop capability {cap} from the bounding set")
    _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")
    header = (ctypes.c_uint32 * 2)(CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")


def _run_kernel(spec: dict) -> None:
    """Become the sandbox (pid 1) and run the ipykernel in this process; never returns."""
    try:
        _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
        _check(_libc.sethostname(b"jupyter", 7), "sethostname")
        _build_root(spec)
        _drop_privileges(spec)
        os.chdir(spec["workdir_inside"])
        os.environ.clear()
        os.environ.update(spec["env"])
        for name in [m for m in sys.modules if m == "grading" or m.startswith("grading.")]:
            del sys.modules[name]
        sys.path[:] = [spec["workdir_inside"]] + [p for p in sys.path if p and p not in spec["hide_paths"]]
        sys.argv = ["ipykernel_launcher", "-f", spec["connection_file"]] + spec["kernel_args"]
        devnull = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.closerange(3, 1 << 16)
    except BaseException as exc:  # noqa: BLE001 - report and die: never run a kernel half-sandboxed
        os.write(2, f"sandbox setup failed: {exc}\n".encode())
        os._exit(70)
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(sys.argv[1:])
    app.start()
    os._exit(0)


def _spawn(spec: dict) -> int:
    """Fork a supervisor that unshares the namespaces and forks the kernel as pid 1; returns its pid."""
    pid = os.fork()
    if pid:
        return pid
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        devnull = os.open("/dev/null", os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)     # the server's pipes to the grader are not the sandbox's business
        _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
        if spec.get("go"):   # wait until the grader has put this process in its cgroups
            fd = os.open(spec["go"], os.O_RDONLY)
            if os.read(fd, 1) != b"1":
                os._exit(72)
            os.close(fd)
        _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
                             | CLONE_NEWCGROUP), "unshare")
        child = os.fork()
        if child == 0:
            _run_kernel(spec)
        _, status = os.waitpid(child, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    except BaseException as exc:  # noqa: BLE001
        os.write(2, f"sandbox supervisor failed: {exc}\n".encode())
        os._exit(71)


def serve(functorch: bool = False) -> None:
    """The server loop (run as `python -c 'from grading.autograde.forkserver import serve; serve()'`)."""
    import importlib

    for name in PRELOAD + (PRELOAD_FUNCTORCH if functorch else ()):   # the point: import them once, before any fork
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - an optional module: the kernel imports it itself if needed
            pass

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # children are reaped by the kernel; pidfds watch them
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        try:
            request = json.loads(line)
            answer = {"pid": _spawn(request)}
        except Exception as exc:  # noqa: BLE001
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


class ForkServer:
    """The grader's handle on one fork server process (shared by all worker threads).

    Creating it only starts the process; its imports run while the grader does its own start-up,
    and the first spawn waits for the server's "ready" line.
    """

    def __init__(self, repo: str, userns: bool = False, functorch: bool = False):
        import shutil
        import subprocess
        import threading

        # A clean environment, not the grader's: a forked kernel inherits this process's environment block
        # (/proc/self/environ shows it even after os.environ is cleared), so nothing of the grader's may be in it.
        env = {"PATH": f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": repo,
               "LANG": "C.UTF-8", "HOME": "/nonexistent", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "MPLBACKEND": "agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        argv = [sys.executable, "-c", f"from grading.autograde.forkserver import serve; serve({bool(functorch)})"]
        if userns:   # root inside a user namespace of its own: the grader's uid outside, nothing more
            argv = [shutil.which("bwrap") or "bwrap", *USERNS_ARGS, "--"] + argv
        self.userns = userns
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, env=env, cwd="/", start_new_session=True)
        self.lock = threading.Lock()
        self.ready = False

    def wait_ready(self) -> bool:
        """Block until the server has imported its modules; False when it could not start."""
        with self.lock:
            return self._wait_ready()

    def _wait_ready(self) -> bool:
        if not self.ready:
            line = self.proc.stdout.readline()
            try:
                self.ready = bool(line) and bool(json.loads(line).get("ready"))
            except ValueError:
                self.ready = False
        return self.ready

    def spawn(self, spec: dict) -> int:
        with self.lock:
            if not self._wait_ready():
                raise RuntimeError("the kernel fork server did not start")
            self.proc.stdin.write(json.dumps(spec) + "\n")
            self.proc.stdin.flush()
            answer = json.loads(self.proc.stdout.readline() or '{"error": "the fork server died"}')
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return int(answer["pid"])

    def close(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001
            pass


USERNS_ARGS = ["--unshare-user", "--uid", "0", "--gid", "0", "--cap-add", "ALL", "--bind", "/", "/",
               "--dev-bind", "/dev", "/dev", "--die-with-parent"]


def available() -> bool:
    """The fork server as root: namespaces without a user namespace, Linux pidfds and a known arch."""
    return (hasattr(os, "geteuid") and os.geteuid() == 0 and hasattr(os, "pidfd_open")
            and os.uname().machine in SYS_PIVOT_ROOT and os.path.isdir("/mnt"))


def userns_available() -> bool:
    """The fork server inside a bubblewrap user namespace (for graders that are not root)."""
    import shutil
    import subprocess

    bwrap = shutil.which("bwrap")
    if not (bwrap and hasattr(os, "pidfd_open") and os.uname().machine in SYS_PIVOT_ROOT):
        return False
    try:
        return subprocess.run([bwrap, *USERNS_ARGS, "--", "true"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def release(go: str, timeout: float = 10.0) -> None:
    """Let a spawned supervisor go on (see `go` in the module docstring); gives up quietly if it is gone."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fd = os.open(go, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:      # ENXIO: the supervisor has not opened it yet
            time.sleep(0.005)
            continue
        try:
            os.write(fd, b"1")
        finally:
            os.close(fd)
        return


class PidHandle:
    """Popen-like view of a process that is not our child (poll/wait through a pidfd)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode = None
        self.stderr = None
        try:
            self._fd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._fd, self.returncode = None, -1

    def poll(self):
        if self.returncode is None and self._fd is not None:
            import select
            if select.select([self._fd], [], [], 0)[0]:
                self.returncode = -1
                os.close(self._fd)
                self._fd = None
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            try:
                signal.pidfd_send_signal(self._fd, signal.SIGKILL)
            except (OSError, AttributeError):
                pass

    def wait(self, timeout: float = 10.0):
        import select
        import time
        deadline = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < deadline:
            select.select([self._fd], [], [], max(0.0, deadline - time.monotonic()))
        return self.returncode
