"""Start the course's JupyterLab (grading.lab's command line) for a test, and always stop it by its process id."""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

from grading.lab import lab_launch


@dataclass(frozen=True)
class LabServer:
    base_url: str  # http://127.0.0.1:PORT
    token: str
    pid: int
    log: Path

    def url(self, path: str) -> str:
        """`path` (e.g. /lab/tree/course/x.ipynb) on this server, logged in with the token."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{sep}token={self.token}"

    def api(self, path: str):
        """GET /api/<path> as JSON."""
        with urllib.request.urlopen(self.url(f"/api/{path}"), timeout=5) as reply:
            return json.load(reply)

    def wait_for_idle_kernel(self, notebook: str, timeout: float = 90.0) -> None:
        """Wait until the server has a kernel session for `notebook` (a root-relative path) that is idle."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [s["kernel"]["execution_state"] for s in self.api("sessions") if s["path"] == notebook]
            if "idle" in states:
                return
            time.sleep(0.25)
        raise TimeoutError(f"no idle kernel for {notebook} after {timeout:.0f} s (sessions: {self.api('sessions')})"
                           f"\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no server log)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def isolated_env(state_dir: Path) -> dict[str, str]:
    """This environment with Jupyter's, JupyterLab's and IPython's per-user state redirected into `state_dir`, so
    the test neither reads nor leaves anything in the user's ~/.jupyter, ~/.local/share/jupyter or ~/.ipython."""
    env = dict(os.environ)
    for name, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                      ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
                      ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"), ("IPYTHONDIR", "ipython")]:
        env[name] = str(state_dir / sub)
        (state_dir / sub).mkdir(parents=True, exist_ok=True)
    env.pop("JUPYTER_TOKEN", None)
    # Answer JupyterLab's "get notified about Jupyter news?" toast with No, as a student would on first start.
    notification = state_dir / "lab-settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    return env


@contextlib.contextmanager
def running_lab(root_dir: Path, state_dir: Path, start_timeout: float = 90.0, launcher=lab_launch):
    """Run the course's JupyterLab on `root_dir` on a free localhost port; yield a LabServer once it answers.
    `launcher` builds the command line (`grading.lab.lab_launch`, or `grading.formgrader.formgrader_launch`
    for formgrader on a grading folder).

    However the block ends, the server is stopped by its own process id and process group, and any kernel it
    started that outlived it is killed by its pid.
    """
    token = secrets.token_hex(16)
    port = free_port()
    launch = launcher(root_dir, port=port, open_browser=False, token=token, port_retries=0,
                      env=isolated_env(state_dir)) if launcher is not lab_launch else \
        lab_launch(port, root_dir=root_dir, open_browser=False, token=token, port_retries=0,
                   env=isolated_env(state_dir))
    log = state_dir / "server.log"
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(launch.argv, cwd=launch.cwd, env=launch.env, stdout=log_file,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    server = LabServer(f"http://127.0.0.1:{port}", token, proc.pid, log)
    try:
        wait_until_answering(server, proc, start_timeout)
        yield server
    finally:
        stop(proc)


def wait_until_answering(server: LabServer, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with status {proc.returncode} before answering:\n"
                               f"{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url("/api/status"), timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"JupyterLab did not answer on {server.base_url} within {timeout:.0f} s:\n{server.log_tail()}")


def stop(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the server's process group (it shuts its kernels down), SIGKILL what is left after `grace` s."""
    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)  # start_new_session=True: the group id is the server's pid
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    for child in descendants:  # kernels run in sessions of their own
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(descendants, timeout=5)
