"""A Jupyter kernel in its own sandbox, driven from the trusted grader process.

The kernel is started inside bubblewrap with the `ipc` transport (unix sockets in a runtime
folder bound into the sandbox); `execute` sends one cell and collects, from the grader's side,
the reply status, the error (if any) and the cell's stdout, under a time limit and an output cap.
"""
from __future__ import annotations

import json
import os
import queue
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import zmq
from jupyter_client.blocking import BlockingKernelClient

from .forkserver import PidHandle, release
from .sandbox import RUNTIME_INSIDE, CgroupLimits, Limits, bwrap_command, die_with_parent, fork_spec

PORTS = {"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}
CELL_OUTPUT_CAP = 64 * 1024    # bytes of outputs kept per cell for the graded notebook
ERROR_TEXT_CAP = 2000          # characters of an error's name/value kept
MAX_ERRORS = 20                # error outputs kept per cell


@dataclass
class ExecResult:
    """What the grader saw while one cell ran."""
    status: str                    # "ok", "error", "timeout", "died", "aborted"
    stdout: str = ""
    ename: str = ""
    evalue: str = ""
    output_bytes: int = 0
    truncated: bool = False
    seconds: float = 0.0
    errors: list = field(default_factory=list)   # error outputs seen (ename, evalue), capped
    marker_seen: bool = False      # the `marker` string appeared on stdout (never truncated away)
    outputs: list = field(default_factory=list)  # nbformat output dicts, capped (CELL_OUTPUT_CAP per cell)
    outputs_bytes: int = 0
    outputs_capped: bool = False


class KernelStartError(RuntimeError):
    pass


class SandboxedKernel:
    """One kernel process in its own sandbox, talking over ipc.

    engine "fork": the fork server (run as root) forks a kernel with torch already imported and builds the sandbox
    itself; "bwrap": the same from a fork server that lives in a bubblewrap user namespace (any user), or, without
    a server, bubblewrap starting a fresh interpreter; "none": no sandbox. See forkserver.py and sandbox.py.
    """

    def __init__(self, *, repo: Path, workdir: Path, workdir_inside: str, runtime: Path,
                 course_files: dict[str, Path], limits: Limits, engine: str = "bwrap",
                 forkserver=None, scratch: Path | None = None, slot: int = 0):
        self.limits = limits
        self.runtime = runtime
        self.engine = engine
        sandboxed = engine != "none"
        key = secrets.token_hex(16)
        inside_ip = f"{RUNTIME_INSIDE}/k" if sandboxed else str(runtime / "k")
        conn = dict(PORTS, transport="ipc", ip=inside_ip, key=key, signature_scheme="hmac-sha256",
                    kernel_name="python3")
        conn_name = "kernel-1.json"
        (runtime / conn_name).write_text(json.dumps(conn))
        conn_inside = f"{RUNTIME_INSIDE}/{conn_name}" if sandboxed else str(runtime / conn_name)
        # no input history; no 0.5 ms pause after each request (the grader waits for the idle status anyway)
        kernel_args = ["--HistoryManager.enabled=False", "--IPythonKernel._execute_sleep=0"]
        self.cgroup = CgroupLimits(limits) if sandboxed else None
        if forkserver is not None and engine in ("fork", "bwrap"):
            go = runtime / "go"
            os.mkfifo(go, 0o600)
            spec = fork_spec(repo=repo, workdir=workdir, workdir_inside=workdir_inside, runtime=runtime,
                             course_files=course_files, limits=limits, connection_file=conn_inside,
                             kernel_args=kernel_args, scratch=scratch, slot=slot, go=str(go),
                             userns=forkserver.userns)
            try:
                pid = forkserver.spawn(spec)
            except RuntimeError as exc:
                raise KernelStartError(str(exc)) from None
            self.cgroup.add(pid)
            self.proc = PidHandle(pid)
            release(str(go))
        else:
            argv = [sys.executable, "-m", "ipykernel_launcher", "-f", conn_inside] + kernel_args
            if engine == "bwrap":
                cmd = bwrap_command(repo=repo, workdir_outside=workdir, workdir_inside=workdir_inside,
                                    runtime_outside=runtime, course_files=course_files, limits=limits, argv=argv)
                env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
                cwd = None
            else:
                cmd, env, cwd = argv, {**os.environ, "MPLBACKEND": "agg"}, str(workdir)
            self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         preexec_fn=self.cgroup.enter if self.cgroup else die_with_parent,
                                         start_new_session=True)
        self.client = BlockingKernelClient()
        self.client.load_connection_info(dict(conn, ip=str(runtime / "k")))
        self.client.start_channels()
        # the channels' own blocking reads and one poller over both: the client's get_*_msg wrappers run an asyncio
        # loop per call, which cost the grader more CPU than the kernel's answers themselves
        self._iopub, self._shell = self.client.iopub_channel, self.client.shell_channel
        self._poller = zmq.Poller()
        self._poller.register(self._iopub.socket, zmq.POLLIN)
        self._poller.register(self._shell.socket, zmq.POLLIN)
        self.tamper: list[str] = []          # protocol evidence: messages no request of ours explains
        self._finished: set[str] = set()     # our requests whose reply and idle status arrived
        self._late_ok: set[str] = set()      # our requests that timed out (their late messages are expected)
        self._ours: set[str] = set()         # every request id we sent

    # -- lifecycle ---------------------------------------------------------------------------
    def wait_ready(self, timeout: float) -> None:
        """Block until the kernel answers kernel_info on shell AND its iopub messages reach us.

        Waiting for iopub too matters: a subscription that is not yet connected silently drops the
        first cell's output (zmq's slow joiner), and a test's evidence is in that output.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise KernelStartError(f"the kernel exited at start (code {self.proc.returncode}): "
                                       f"{self._stderr_tail()}")
            if not (self.runtime / "k-1").exists():
                time.sleep(0.005)
                continue
            msg_id = self.client.kernel_info()
            self._ours.add(msg_id)
            self._late_ok.add(msg_id)    # the answers to an earlier try may still arrive
            shell_ok = iopub_ok = False
            until = min(deadline, time.monotonic() + 1.0)
            while time.monotonic() < until and not (shell_ok and iopub_ok):
                try:
                    msg = self._iopub.get_msg(timeout=0.01)
                    iopub_ok = iopub_ok or msg["parent_header"].get("msg_id") == msg_id
                except queue.Empty:
                    pass
                try:
                    reply = self._shell.get_msg(timeout=0)
                    if reply["parent_header"].get("msg_id") == msg_id and not shell_ok:
                        # the kernel is up; its status on iopub follows at once unless our subscription was
                        # not connected yet when it was sent (then it never comes): ask again soon
                        shell_ok, until = True, min(until, time.monotonic() + 0.05)
                except queue.Empty:
                    pass
            if shell_ok and iopub_ok:
                self._drain_iopub()
                return
        raise KernelStartError(f"the kernel did not start within {timeout:.0f}s")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _stderr_tail(self) -> str:
        try:
            if self.proc.poll() is not None and self.proc.stderr:
                return self.proc.stderr.read()[-500:].decode("utf-8", "replace").strip()
        except Exception:  # noqa: BLE001 - diagnostics only
            pass
        return ""

    def shutdown(self) -> None:
        try:
            self.client.stop_channels()
        except Exception:  # noqa: BLE001
            pass
        if self.proc.poll() is None:
            try:
                if isinstance(self.proc, PidHandle):
                    self.proc.kill()
                else:
                    os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self.proc.stderr:
            self.proc.stderr.close()
        if self.cgroup:
            self.cgroup.remove()

    def interrupt(self) -> None:
        """Ask the kernel to interrupt the running cell (control channel, SIGINT inside)."""
        msg = self.client.session.msg("interrupt_request", {})
        self._ours.add(msg["header"]["msg_id"])
        self._late_ok.add(msg["header"]["msg_id"])
        self.client.control_channel.send(msg)

    def _note(self, what: str) -> None:
        if len(self.tamper) < 20:
            self.tamper.append(what)

    def _judge(self, msg: dict, channel: str, current: str = "") -> None:
        """Protocol evidence from one message that is not part of the request being read."""
        parent = msg.get("parent_header", {}).get("msg_id", "")
        kind = str(msg.get("msg_type", "?"))[:40]
        if parent in self._late_ok:
            return
        if parent in self._finished:
            self._note(f"the kernel sent more ({kind} on {channel}) for a request that had already finished")
        elif parent != current:
            self._note(f"the kernel sent a message ({kind} on {channel}) that answers no request of the grader")

    def audit(self) -> None:
        """Read everything that arrived since the last request finished (call before the next one)."""
        for channel, get in (("iopub", self._iopub.get_msg), ("shell", self._shell.get_msg)):
            for _ in range(10000):
                try:
                    msg = get(timeout=0)
                except queue.Empty:
                    break
                except Exception:  # noqa: BLE001 - a message that does not even parse or verify
                    self._note(f"the kernel sent an unreadable message on {channel}")
                    continue
                self._judge(msg, channel)

    def _drain_iopub(self) -> None:
        while True:
            try:
                self._iopub.get_msg(timeout=0.01)
            except queue.Empty:
                return

    # -- execution ---------------------------------------------------------------------------
    def execute(self, code: str, timeout: float, output_budget: list[int],
                store_history: bool = True, marker: str = "") -> ExecResult:
        """Run `code`; output_budget is a one-item list holding the bytes of output still allowed.

        `marker`, if given, is looked for in the whole stdout stream, whatever the output cap kept.
        """
        start = time.monotonic()
        if not self.alive():
            return ExecResult("died", evalue="the kernel is not running")
        self.audit()
        msg_id = self.client.execute(code, store_history=store_history, allow_stdin=False,
                                     stop_on_error=False)
        self._ours.add(msg_id)
        result = ExecResult("timeout")
        stdout_parts: list[str] = []
        tail = [""]
        deadline = start + timeout
        reply_status = None
        idle = False
        interrupted_at = None
        while True:
            now = time.monotonic()
            if reply_status is not None and idle:
                break
            if not self.alive():
                result.status = "died"
                break
            if now > deadline:
                if interrupted_at is None:
                    interrupted_at = now
                    try:
                        self.interrupt()
                    except Exception:  # noqa: BLE001
                        pass
                    deadline = now + 5.0   # grace period for the interrupt
                else:
                    result.status = "timeout"
                    break
            # once the reply is in, wait on iopub alone (more on shell is for the next audit, not a reason to wake)
            ready = dict(self._poller.poll(50)) if reply_status is None else \
                {self._iopub.socket: self._iopub.socket.poll(50)}
            try:
                msg = self._iopub.get_msg(timeout=0) if ready.get(self._iopub.socket) else None
            except queue.Empty:
                msg = None
            except Exception:  # noqa: BLE001 - a message that does not parse or verify
                self._note("the kernel sent an unreadable message on iopub")
                msg = None
            if msg is not None and msg["parent_header"].get("msg_id") != msg_id:
                self._judge(msg, "iopub", msg_id)
            elif msg is not None and idle:
                self._note(f"the kernel sent {str(msg['msg_type'])[:40]} after its idle status")
            elif msg is not None:
                self._record(msg, result, stdout_parts, output_budget)
                if marker and msg["msg_type"] == "stream" and msg["content"].get("name") == "stdout":
                    window = tail[0] + msg["content"].get("text", "")
                    result.marker_seen = result.marker_seen or marker in window
                    tail[0] = window[-len(marker):]
                if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                    idle = True
            if reply_status is None:
                try:
                    reply = self._shell.get_msg(timeout=0)
                except queue.Empty:
                    reply = None
                except Exception:  # noqa: BLE001
                    self._note("the kernel sent an unreadable message on shell")
                    reply = None
                if reply is not None and reply["parent_header"].get("msg_id") != msg_id:
                    self._judge(reply, "shell", msg_id)
                elif reply is not None:
                    reply_status = reply["content"].get("status", "error")
                    if reply_status == "error" and not result.ename:
                        result.ename = str(reply["content"].get("ename", ""))[:ERROR_TEXT_CAP]
                        result.evalue = str(reply["content"].get("evalue", ""))[:ERROR_TEXT_CAP]
        if reply_status is not None and result.status != "died":
            result.status = "timeout" if interrupted_at is not None else reply_status
        if result.status in ("ok", "error") and reply_status is not None and idle:
            self._finished.add(msg_id)
        else:
            self._late_ok.add(msg_id)
        result.stdout = "".join(stdout_parts)
        result.seconds = time.monotonic() - start
        return result

    @staticmethod
    def _record(msg: dict, result: ExecResult, stdout_parts: list[str], budget: list[int]) -> None:
        kind, content = msg["msg_type"], msg["content"]
        text = ""
        if kind == "stream":
            text = str(content.get("text", ""))
        elif kind == "error":
            ename = str(content.get("ename", ""))[:ERROR_TEXT_CAP]
            evalue = str(content.get("evalue", ""))[:ERROR_TEXT_CAP]
            if len(result.errors) < MAX_ERRORS:
                result.errors.append((ename, evalue))
            result.ename = result.ename or ename
            result.evalue = result.evalue or evalue
        elif kind in ("execute_result", "display_data"):
            text = str(content.get("data", {}).get("text/plain", ""))
        _keep_output(result, kind, content, text)
        size = len(text.encode("utf-8", "replace")) if text else 0
        result.output_bytes += size
        if size and budget[0] <= 0:
            result.truncated = True
            return
        if kind == "stream" and content.get("name") == "stdout":
            kept = text[: max(0, budget[0])]
            stdout_parts.append(kept)
            result.truncated = result.truncated or len(kept) < len(text)
        budget[0] -= size


def _keep_output(result: ExecResult, kind: str, content: dict, text: str) -> None:
    """Keep an nbformat-shaped copy of one output for the graded notebook, within CELL_OUTPUT_CAP per cell."""
    room = CELL_OUTPUT_CAP - result.outputs_bytes
    if kind not in ("stream", "error", "execute_result", "display_data") or room <= 0:
        return
    if kind == "stream":
        name = "stderr" if content.get("name") == "stderr" else "stdout"
        kept = text[:room]
        last = result.outputs[-1] if result.outputs else None
        if last is not None and last.get("output_type") == "stream" and last.get("name") == name:
            last["text"] += kept
        else:
            result.outputs.append({"output_type": "stream", "name": name, "text": kept})
        size = len(kept)
    elif kind == "error":
        tb = [str(line)[:2000] for line in list(content.get("traceback", []))[:50]]
        out = {"output_type": "error", "ename": str(content.get("ename", ""))[:ERROR_TEXT_CAP],
               "evalue": str(content.get("evalue", ""))[:ERROR_TEXT_CAP], "traceback": tb}
        size = len(out["ename"]) + len(out["evalue"]) + sum(len(line) for line in tb)
        result.outputs.append(out)
    else:
        data = {k: v for k, v in (content.get("data") or {}).items()
                if k in ("text/plain", "image/png", "text/html") and isinstance(v, str) and len(v) <= room}
        if not data:
            return
        out = {"output_type": kind, "data": data, "metadata": {}}
        if kind == "execute_result":
            out["execution_count"] = None
        size = sum(len(v) for v in data.values())
        result.outputs.append(out)
    result.outputs_bytes += size
    if result.outputs_bytes >= CELL_OUTPUT_CAP and not result.outputs_capped:
        result.outputs_capped = True
        result.outputs.append({"output_type": "stream", "name": "stderr",
                               "text": f"\n[output truncated: the grader keeps {CELL_OUTPUT_CAP // 1024} KiB per cell]\n"})
