"""The sandbox itself, probed from inside a real sandboxed kernel (no static scan in the way)."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from grading.autograde import forkserver
from grading.autograde.kernel import SandboxedKernel
from grading.autograde.runner import course_files
from grading.autograde.sandbox import Limits

from grading_helpers import NEEDS_BWRAP, REPO

ENGINES = [pytest.param("bwrap", marks=NEEDS_BWRAP),
           pytest.param("bwrap-server", marks=pytest.mark.skipif(not forkserver.userns_available(),
                                                                 reason="needs bwrap with user namespaces")),
           pytest.param("fork", marks=pytest.mark.skipif(not forkserver.available(),
                                                         reason="the fork engine needs root on Linux"))]

PROBE = r"""
import json, os, socket, resource
def can(f):
    try:
        f()
        return True
    except Exception:
        return False
def write(path):
    with open(path, 'w') as fh:
        fh.write('x')
def stack_environment():
    # the environment block the process started with, read from its own stack (what ctypes lets a student do)
    import ctypes
    end = ctypes.c_void_p.in_dll(ctypes.CDLL(None), "__libc_stack_end").value
    argc = ctypes.c_long.from_address(end).value
    envp, found = end + 8 * (argc + 2), []
    for i in range(1000):
        ptr = ctypes.c_void_p.from_address(envp + 8 * i).value
        if not ptr:
            break
        found.append(ctypes.string_at(ptr).decode('utf-8', 'replace'))
    return ' '.join(found)
def connect():
    socket.create_connection(('1.1.1.1', 53), timeout=2)
report = {
    'solutions': os.path.exists(%(repo)r + '/solutions'),
    'tests': os.path.exists(%(repo)r + '/tests'),
    'outside': os.path.exists(%(outside)r),
    'repo_listing': sorted(os.listdir(%(repo)r)),
    'grading_listing': sorted(os.listdir(%(repo)r + '/grading')),
    'write_usr': can(lambda: write('/usr/x')),
    'write_checks': can(lambda: write(%(repo)r + '/grading/checks.py')),
    'write_workdir': can(lambda: write('answer.txt')),
    'write_tmp': can(lambda: write('/tmp/x')),
    'network': can(connect),
    'cwd': os.getcwd(), 'home': os.environ.get('HOME'),
    'env': sorted(os.environ),
    'as_limit': resource.getrlimit(resource.RLIMIT_AS)[0],
    'cap_eff': [l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0],
    'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),
    'hostname': socket.gethostname(),
    'environ_block': repr(__import__('posix').environ) + stack_environment(),
    'sizes': {p: os.statvfs(p).f_blocks * os.statvfs(p).f_frsize for p in ('/tmp', '/dev/shm', '.')},
    'stage': sorted(os.listdir('/opt/submission')),
    'write_stage': can(lambda: write('/opt/submission/x')),
}
def fill(folder, mb):
    try:
        with open(folder + '/big', 'wb') as fh:
            for _ in range(mb):
                fh.write(b'0' * (1 << 20))
        return False
    except OSError:
        return True
    finally:
        try:
            os.remove(folder + '/big')
        except OSError:
            pass
def many(folder, n):
    try:
        for i in range(n):
            open(f'{folder}/f{i}', 'w').close()
        return False
    except OSError:
        return True
report['full'] = {p: fill(p, 40) for p in ('/tmp', '/dev/shm', '.')}
report['inodes_capped'] = {p: many(p, 700) for p in ('/tmp', '/dev/shm', '.')}
print(json.dumps(report))
"""


@pytest.fixture(scope="module", params=ENGINES)
def report(request):
    os.environ["GRADER_ONLY_SECRET"] = "do-not-leak"      # as if set for the grader (a token, a password)
    server = forkserver.ForkServer(str(REPO), userns=request.param == "bwrap-server") \
        if request.param in ("fork", "bwrap-server") else None
    del os.environ["GRADER_ONLY_SECRET"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "work").mkdir()
        (tmp / "run").mkdir()
        secret = tmp / "grader_only.txt"
        secret.write_text("secret")
        (tmp / "work" / "data.csv").write_text("1,2\n")
        limits = Limits(memory_mb=1536, tmp_mb=16, shm_mb=8, work_mb=32, work_inodes=500)
        (tmp / "root").mkdir()
        for sub in ("work", "run"):
            (tmp / sub).chmod(0o777)
        kernel = SandboxedKernel(repo=REPO, workdir=tmp / "work", workdir_inside=str(REPO / "exercises" / "probe"),
                                 runtime=tmp / "run", course_files=course_files(REPO), limits=limits,
                                 engine=request.param.split("-")[0], forkserver=server, scratch=tmp / "root")
        try:
            kernel.wait_ready(60)
            res = kernel.execute(PROBE % {"repo": str(REPO), "outside": str(secret)}, 60, [1 << 20])
        finally:
            kernel.shutdown()
            if server:
                server.close()
        assert res.status == "ok", res
        data = json.loads(res.stdout.strip().splitlines()[-1])
        data["written"] = (tmp / "work" / "answer.txt").exists()
        data["engine"] = request.param
        return data


def test_solutions_tests_and_grader_files_are_invisible(report):
    assert not report["solutions"] and not report["tests"] and not report["outside"]
    assert set(report["repo_listing"]) <= {".venv", "exercises", "grading", "minigrad"}
    assert set(report["grading_listing"]) <= {"__init__.py", "checks.py", "plain.py", "student.py"}


def test_system_and_course_code_are_read_only_but_the_workdir_is_not(report):
    assert not report["write_usr"] and not report["write_checks"]
    assert report["write_workdir"] and report["write_tmp"]
    assert not report["written"]          # the work folder is the sandbox's own (sized) copy
    assert report["stage"] == ["data.csv"] and not report["write_stage"]


def test_the_grader_environment_never_reaches_the_sandbox(report):
    """Not in os.environ, nor in the interpreter's start-up copy (posix.environ) or the environment block on the
    process's stack, under both engines (a forked kernel inherits the fork server's block)."""
    assert "GRADER_ONLY_SECRET" not in report["environ_block"] and "do-not-leak" not in report["environ_block"]
    assert "GRADER_ONLY_SECRET" not in report["env"]


def test_tmp_shm_and_the_work_folder_are_sized(report):
    assert report["sizes"] == {"/tmp": 16 << 20, "/dev/shm": 8 << 20, ".": 32 << 20}
    assert report["full"] == {"/tmp": True, "/dev/shm": True, ".": True}
    if report["engine"] != "bwrap":       # inode caps need a fork server's own mounts (bwrap cannot set them)
        assert report["inodes_capped"] == {"/tmp": True, "/dev/shm": True, ".": True}


def test_no_network(report):
    assert not report["network"]


def test_environment_looks_like_a_students(report):
    assert report["cwd"] == str(REPO / "exercises" / "probe")
    assert report["home"] == "/home/student"
    assert not [k for k in report["env"] if any(w in k.upper() for w in ("GRAD", "NBGRADER", "PYTEST", "CI"))]


def test_memory_limit_is_applied(report):
    assert report["as_limit"] == 1536 * 1024 * 1024


def test_no_privileges_and_no_view_of_other_processes(report):
    assert int(report["cap_eff"], 16) == 0
    assert max(report["pids"]) < 50   # its own pid namespace: only the sandbox's few processes
    assert report["hostname"] == "jupyter"
