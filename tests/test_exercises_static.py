"""The exercise notebooks as files: layout, nbgrader metadata, no outputs, no leaks, every syllabus question."""
import ast
import builtins
import re
import shutil
import subprocess
import sys

import nbformat
import pytest

from grading import release
from grading.nbgrader_util import REPO_ROOT, RELEASE_DIR, SOURCE_DIR, assignments, is_test_cell, nbgrader_meta

ASSIGNMENTS = ["02_tensors", "03_numpy_bridge", "04_devices", "05_autograd", "06_jacobians", "07_minigrad",
               "07_minigrad_engine", "08_end_to_end"]
PREDICTING = [a for a in ASSIGNMENTS if not a.startswith("07_")]  # the minigrad assignments have no predictions
SOLUTION_BLOCK = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


def notebook(folder, name):
    return nbformat.read(folder / name / f"{name}.ipynb", as_version=4)


def released_text():
    """Every cell source and every raw file under exercises/, as one string."""
    sources = [c.source for p in RELEASE_DIR.rglob("*.ipynb") for c in nbformat.read(p, as_version=4).cells]
    return "\n".join(sources + [p.read_text() for p in RELEASE_DIR.rglob("*") if p.is_file()])


def present_assignments():
    return [a for a in ASSIGNMENTS if (SOURCE_DIR / a / f"{a}.ipynb").is_file()]


def test_one_assignment_per_chapter_with_one_notebook_each():
    assert assignments() == ASSIGNMENTS
    for folder in (SOURCE_DIR, RELEASE_DIR):
        for a in ASSIGNMENTS:
            assert sorted(p.name for p in (folder / a).iterdir()) == [f"{a}.ipynb"], folder / a


@pytest.mark.parametrize("name", present_assignments())
@pytest.mark.parametrize("folder", [SOURCE_DIR, RELEASE_DIR], ids=["solutions", "exercises"])
def test_notebooks_store_no_outputs_and_use_the_python3_kernel(folder, name):
    nb = notebook(folder, name)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("name", present_assignments())
def test_each_question_is_an_answer_cell_then_a_locked_test_cell_with_points(name):
    nb = notebook(SOURCE_DIR, name)
    ids = [nbgrader_meta(c).get("grade_id") for c in nb.cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    tests = [i for i, c in enumerate(nb.cells) if is_test_cell(c)]
    assert tests
    for i in tests:
        test, answer = nb.cells[i], nb.cells[i - 1]
        meta = nbgrader_meta(test)
        assert meta["locked"] and meta["points"] > 0 and meta["grade_id"].endswith("_test")
        assert nbgrader_meta(answer).get("solution") and SOLUTION_BLOCK.search(answer.source), meta["grade_id"]
        assert "check" in test.source and HIDDEN_BLOCK.search(test.source), f"{meta['grade_id']}: visible and hidden tests"
        visible = test.source.split("### BEGIN HIDDEN TESTS")[0]
        assert "check" in visible, f"{meta['grade_id']} has no visible test"
    intro = nb.cells[0].source
    links = re.findall(r"\]\((\.\./\.\./course/[^)]+\.ipynb)\)", intro)
    assert links, "the intro links back to its lecture notebook"
    lecture = (SOURCE_DIR / name / links[0]).resolve()
    assert lecture.is_file() and lecture.name[:3] == name[:3], f"{links[0]} is not this chapter's lecture notebook"
    assert f"python -m grading check exercises/{name}/{name}.ipynb" in intro


def test_all_34_syllabus_questions_are_asked():
    asked = set()
    for name in present_assignments():
        for cell in notebook(SOURCE_DIR, name).cells:
            if cell.cell_type == "markdown":
                asked |= {int(n) for n in re.findall(r"#(\d+)", " ".join(re.findall(r"syllabus #\d+.*?\)", cell.source)))}
    torch_questions = set(range(1, 35))
    assert torch_questions - asked == set(), f"syllabus questions without an exercise: {sorted(torch_questions - asked)}"


def public_lines():
    """Lines that the sources show students anyway (outside solution and hidden-test blocks)."""
    lines = set()
    for name in present_assignments():
        for cell in notebook(SOURCE_DIR, name).cells:
            lines |= {line.strip() for line in HIDDEN_BLOCK.sub("", SOLUTION_BLOCK.sub("", cell.source)).splitlines()}
    return lines


@pytest.mark.parametrize("name", present_assignments())
def test_no_solution_code_or_hidden_test_reaches_the_release(name):
    released = released_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in released
    secret_lines = set()
    for cell in notebook(SOURCE_DIR, name).cells:
        for block in SOLUTION_BLOCK.findall(cell.source) + HIDDEN_BLOCK.findall(cell.source):
            assert block.strip() not in released
            secret_lines |= {line.strip() for line in block.splitlines() if len(line.strip()) > 12}
    released_lines = {line.strip() for line in released.splitlines()}
    leaked = sorted((secret_lines - public_lines()) & released_lines)
    assert leaked == [], f"solution or hidden-test lines found under exercises/: {leaked}"
    for cell in notebook(RELEASE_DIR, name).cells:
        if nbgrader_meta(cell).get("solution"):
            assert "raise NotImplementedError()" in cell.source


def test_release_is_up_to_date_and_leaves_no_stray_files():
    before = set(p.name for p in REPO_ROOT.iterdir())
    proc = subprocess.run([sys.executable, "-m", "grading", "release", "--check"], cwd=REPO_ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "up to date" in proc.stdout
    assert set(p.name for p in REPO_ROOT.iterdir()) == before  # no gradebook.db, no .nbgrader.log


def test_release_check_names_stale_missing_and_extra_files(tmp_path):
    source = tmp_path / "solutions"
    shutil.copytree(SOURCE_DIR, source)
    nb_path = source / "02_tensors" / "02_tensors.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[0].source += "\nAn edit the release has not seen."
    nbformat.write(nb, nb_path)
    shutil.rmtree(source / "03_numpy_bridge")
    fresh = tmp_path / "fresh"
    release.generate(source, fresh)
    diff = release.differences(fresh, RELEASE_DIR)
    assert "stale: exercises/02_tensors/02_tensors.ipynb" in diff
    assert any(line.startswith("extra") and "03_numpy_bridge" in line for line in diff)
    assert not any("04_devices" in line for line in diff)
    assert release.differences(RELEASE_DIR, tmp_path / "nothing") == [
        f"missing: nothing/{p.relative_to(RELEASE_DIR)}" for p in sorted(RELEASE_DIR.rglob("*.ipynb"))]


def test_validate_button_finds_the_course_config_where_make_lab_puts_it(monkeypatch):
    """nbgrader's Validate handler loads nbgrader_config.py from its cwd and JUPYTER_CONFIG_PATH; `python -m grading
    lab` puts grading/ on that path. Loading it the handler's way must give the course's settings."""
    from jupyter_core.paths import jupyter_config_path
    from nbgrader.apps import NbGrader

    from grading.lab import lab_launch

    monkeypatch.setenv("JUPYTER_CONFIG_PATH", lab_launch(open_browser=False).env["JUPYTER_CONFIG_PATH"])
    monkeypatch.chdir(REPO_ROOT)
    app = NbGrader()
    app.config_file_paths.append([REPO_ROOT, *jupyter_config_path()])  # as ValidateAssignmentHandler.load_config
    app.load_config_file()
    assert app.config.CourseDirectory.source_directory == "solutions"
    assert app.config.CourseDirectory.release_directory == "exercises"
    assert app.config.CourseDirectory.root == str(REPO_ROOT)
    assert app.config.Execute.timeout >= 60


def hidden_blocks(nb):
    """(grade id, hidden block source) of each test cell, in notebook order."""
    return [(nbgrader_meta(c)["grade_id"], HIDDEN_BLOCK.search(c.source).group(1)) for c in nb.cells if is_test_cell(c)]


@pytest.mark.parametrize("name", PREDICTING)
def test_each_notebook_has_at_least_three_graded_predictions_written_as_literals(name):
    """A prediction question: its answer cell assigns literals, its hidden block reads them with student.literal."""
    import ast

    from grading.student import _literal

    nb = notebook(SOURCE_DIR, name)
    predictions = 0
    for i, cell in enumerate(nb.cells):
        if not is_test_cell(cell):
            continue
        hidden = HIDDEN_BLOCK.search(cell.source).group(1)
        if "student.literal(" not in hidden:
            continue
        predictions += 1
        answer = ast.parse(SOLUTION_BLOCK.search(nb.cells[i - 1].source).group(1))
        assigned = {}
        for stmt in answer.body:
            assert isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name), ast.unparse(stmt)
            assigned[stmt.targets[0].id] = _literal(stmt.value)  # raises unless the solution is itself a literal
        unread = [n for n in assigned if f'"{n}"' not in hidden]
        assert assigned and not unread, f"{nbgrader_meta(cell)['grade_id']}: hidden tests never read {unread}"
        assert "prediction(" in cell.source.split("### BEGIN HIDDEN TESTS")[0], "the visible part reveals the answer"
    assert predictions >= 3, f"{name} has {predictions} graded predictions; the course asks for at least three"


def _names(tree):
    """(names a block binds, names it reads) at any depth: assignments, defs, arguments, imports, loop targets."""
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, (ast.Store, ast.Del)) else read).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound, read


@pytest.mark.parametrize("name", present_assignments())
def test_hidden_blocks_in_the_vocabulary_use_only_the_trusted_namespace(name):
    """A hidden block that talks to the student's code through `student` runs in the grader's process, where the
    visible part's names do not exist: it may read only the trusted namespace (VOCABULARY.md) and names that it or
    an earlier hidden block of the notebook bound."""
    from grading import checks

    trusted = set(dir(builtins)) | {"torch", "np", "mg", "student"} | set(checks.__all__)
    earlier = set()
    for cell in notebook(SOURCE_DIR, name).cells:
        for block in HIDDEN_BLOCK.findall(cell.source):
            bound, read = _names(ast.parse(block))
            if "student" in read:
                stray = read - trusted - bound - earlier
                assert stray == set(), f"{nbgrader_meta(cell).get('grade_id')}: hidden block reads {sorted(stray)}"
            earlier |= bound
