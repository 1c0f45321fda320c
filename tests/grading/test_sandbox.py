"""The sandbox itself, probed from inside a real sandboxed kernel (no static scan in the way)."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from grading.autograde import forkserver
from grading.autograde.kernel import SandboxedKernel
from grading.autograde.runner import course_files
from grading.autograde.sandbox import Limits

from grading_helpers import NEEDS_BWRAP, REPO

ENGINES = [pytest.param("bwrap", marks=NEEDS_BWRAP),
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
}
print(json.dumps(report))
"""


@pytest.fixture(scope="module", params=ENGINES)
def report(request):
    server = forkserver.ForkServer(str(REPO)) if request.param == "fork" else None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "work").mkdir()
        (tmp / "run").mkdir()
        secret = tmp / "grader_only.txt"
        secret.write_text("secret")
        limits = Limits(memory_mb=1536)
        (tmp / "root").mkdir()
        for sub in ("work", "run"):
            (tmp / sub).chmod(0o777)
        kernel = SandboxedKernel(repo=REPO, workdir=tmp / "work", workdir_inside=str(REPO / "exercises" / "probe"),
                                 runtime=tmp / "run", course_files=course_files(REPO), limits=limits,
                                 engine=request.param, forkserver=server, scratch=tmp / "root")
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
        return data


def test_solutions_tests_and_grader_files_are_invisible(report):
    assert not report["solutions"] and not report["tests"] and not report["outside"]
    assert set(report["repo_listing"]) <= {".venv", "exercises", "grading", "minigrad"}
    assert set(report["grading_listing"]) <= {"__init__.py", "checks.py", "plain.py", "student.py"}


def test_system_and_course_code_are_read_only_but_the_workdir_is_not(report):
    assert not report["write_usr"] and not report["write_checks"]
    assert report["write_workdir"] and report["written"] and report["write_tmp"]


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
