"""The exercise notebooks, executed: solutions pass (nbgrader validate), untouched releases fail cleanly
(nbgrader validate --invert), and wrong answers fail with the message a student needs."""
import re

import nbformat
import pytest
from nbgrader.validator import Validator

from grading import student_check
from grading.nbgrader_util import (FAIL, NOT_ANSWERED, PASS, RELEASE_DIR, SOURCE_DIR, assignments, execute,
                                   nbgrader_meta, other_errors, question_results)

pytestmark = pytest.mark.slow
ASSIGNMENTS = assignments()
MARKER_LINE = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION\n", re.M)


def path_of(folder, name):
    return folder / name / f"{name}.ipynb"


def with_answers(source, tmp_path, answers, edit_test=None):
    """A copy of `source` in tmp_path with the answer cells named in `answers` replaced ({grade_id: code});
    `edit_test` names a test cell to tamper with."""
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in answers:
            cell.source = answers.pop(grade_id)
        if grade_id == edit_test:
            cell.source = "pass  # the tests were here"
    assert not answers, f"no such answer cells: {list(answers)}"
    out = tmp_path / source.name
    nbformat.write(nb, out)
    return out


def results_by_question(path):
    nb = execute(path)
    assert other_errors(nb) == []
    return {r.question: r for r in question_results(nb)}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solution_passes_nbgrader_validate(name):
    assert Validator().validate(str(path_of(SOURCE_DIR, name))) == {}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_untouched_exercise_passes_nbgrader_validate_invert(name):
    assert Validator(invert=True).validate(str(path_of(RELEASE_DIR, name))) == {}


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_untouched_exercise_fails_each_test_with_not_implemented_and_nothing_else_errors(name):
    nb = execute(path_of(RELEASE_DIR, name))
    results = question_results(nb)
    assert results and [r.status for r in results] == [NOT_ANSWERED] * len(results)
    assert other_errors(nb) == []


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_exercise_with_the_solutions_pasted_in_passes_its_visible_tests(name, tmp_path):
    """What a student who answers correctly sees: the released notebook, answered, all PASS."""
    answers = {nbgrader_meta(c)["grade_id"]: MARKER_LINE.sub("", c.source)
               for c in nbformat.read(path_of(SOURCE_DIR, name), as_version=4).cells if nbgrader_meta(c).get("solution")}
    results = results_by_question(with_answers(path_of(RELEASE_DIR, name), tmp_path, answers))
    assert {q: r.status for q, r in results.items()} == {q: PASS for q in results}


WRONG_TENSORS = {
    "q04_fives": "def make_fives():\n    return torch.full((3, 3), 5), torch.float32\n",
    "q05_from_lists": "def tensor_from_lists(rows):\n    return torch.Tensor(rows)\n",
    "q09_uniform": "def uniform_4x4():\n    return torch.randn(4, 4)\n",
    "q17_product": "def elementwise_product(a, b):\n    return a @ b\n",
    "q19_reshape": "def to_3x4(t):\n    return t.view(3, 4)\n",  # right on the visible test, wrong on hidden ones
}


def test_wrong_tensor_answers_fail_with_actionable_messages(tmp_path):
    results = results_by_question(with_answers(path_of(SOURCE_DIR, "02_tensors"), tmp_path, dict(WRONG_TENSORS)))
    failed = {q for q, r in results.items() if r.status == FAIL}
    assert failed == set(WRONG_TENSORS)  # the other questions still pass: no test depends on another answer
    assert "you said the dtype is torch.float32, but your tensor has dtype torch.int64" in results["q04_fives"].message
    assert "expected dtype torch.int64, got torch.float32" in results["q05_from_lists"].message
    assert "use torch.rand" in results["q09_uniform"].message
    assert "matrix product" in results["q17_product"].message
    assert results["q19_reshape"].message.startswith("RuntimeError: view size is not compatible")


def test_accumulated_gradients_and_copies_are_named(tmp_path):
    reuse_leaf = ("_leaves = {}\n\n\ndef grad_matrix_squares(X_values):\n"
                  "    X = _leaves.setdefault(str(X_values), torch.tensor(X_values, requires_grad=True))\n"
                  "    (X ** 2).sum().backward()\n    return X\n")
    int_leaf = ("def poly_derivative(x0):\n    x = torch.tensor(x0, requires_grad=True)\n"
                "    (3 * x**3 + 2 * x**2 - 4 * x + 5).backward()\n    return x.grad.item()\n")
    results = results_by_question(with_answers(path_of(SOURCE_DIR, "05_autograd"), tmp_path,
                                               {"q31_matrix": reuse_leaf, "q30_poly": int_leaf}))
    assert "2 times the expected gradient" in results["q31_matrix"].message
    assert "did you zero the gradients?" in results["q31_matrix"].message.lower()
    assert "floating point" in results["q30_poly"].message  # torch's own error for an int leaf, from a hidden test
    assert results["q27_sum_squares"].status == PASS

    copy = "def roundtrip(arr):\n    t = torch.tensor(arr)\n    return t, t.numpy()\n"
    rebind = "def add_one(t):\n    t = t + 1\n"
    results = results_by_question(with_answers(path_of(SOURCE_DIR, "03_numpy_bridge"), tmp_path,
                                               {"q02_roundtrip": copy, "q22_in_place": rebind}))
    assert results["q02_roundtrip"].status == FAIL
    assert "memory is not shared" in results["q02_roundtrip"].message and "torch.from_numpy" in results["q02_roundtrip"].message
    assert "expected 2.0, got 1.0" in results["q22_in_place"].message and "t = t + 1" in results["q22_in_place"].message


def test_wrong_minigrad_backward_rules_are_caught_against_torch(tmp_path):
    source = nbformat.read(path_of(SOURCE_DIR, "07_minigrad"), as_version=4)
    solution = {nbgrader_meta(c).get("grade_id"): c.source for c in source.cells}
    wrong = {
        "qa_tanh": solution["qa_tanh"].replace("grad_output * (1 - y * y)", "grad_output * (1 - y)"),
        "qb_mul": solution["qb_mul"].replace(
            "return unbroadcast(grad_output * b, a.shape), unbroadcast(grad_output * a, b.shape)",
            "return grad_output * b, grad_output * a"),
        "qd_mean": solution["qd_mean"].replace("/ ctx.shape[ctx.dim]", ""),
        "qa2_relu": solution["qa2_relu"].replace("(x > 0)", "(x >= 0)"),  # wrong only at the kink
    }
    assert all(wrong[q] != solution[q] for q in wrong)
    results = results_by_question(with_answers(path_of(SOURCE_DIR, "07_minigrad"), tmp_path, dict(wrong)))
    assert {q for q, r in results.items() if r.status == FAIL} == {"qa_tanh", "qa2_relu", "qb_mul", "qd_mean",
                                                                            "qg_network"}
    assert "Tanh.apply on a (3, 4) float64 input: minigrad disagrees with PyTorch. grad of input 0" in results["qa_tanh"].message
    assert "invalid gradient" in results["qb_mul"].message and "expected shape [3, 1]" in results["qb_mul"].message
    assert "grad of input 0: values differ at index" in results["qd_mean"].message
    assert results["qa2_relu"].message.startswith("ReLU.apply at and around the kink x = 0")
    assert results["qc_matmul"].status == PASS


def test_check_command_prints_one_row_per_question_and_flags_edited_tests(tmp_path, capsys):
    source = nbformat.read(path_of(SOURCE_DIR, "06_jacobians"), as_version=4)
    answers = {nbgrader_meta(c)["grade_id"]: c.source for c in source.cells if nbgrader_meta(c).get("solution")}
    answers["q34_vjp"] = "def vjp_square(x, v):\n    return x * v\n"
    notebook = with_answers(path_of(RELEASE_DIR, "06_jacobians"), tmp_path, answers, edit_test="q33_hessian_test")
    assert student_check.main([str(notebook)]) == 1
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("q3")}
    assert set(rows) == {"q32_jacobian", "q33_hessian", "q34_vjp"}
    assert "PASS" in rows["q32_jacobian"] and " 2 " in rows["q32_jacobian"]
    assert "FAIL" in rows["q33_hessian"] and "test cell was edited" in rows["q33_hessian"]
    assert "FAIL" in rows["q34_vjp"] and "vjp_square(x, v): wrong values" in rows["q34_vjp"]
    assert "1 of 3 questions pass (2 of 5 points)" in out


def test_check_command_exit_codes(capsys):
    assert student_check.main([str(path_of(SOURCE_DIR, "04_devices"))]) == 0
    assert "5 of 5 questions pass" in capsys.readouterr().out
    assert student_check.main(["no/such/notebook.ipynb"]) == 2
    assert "is not a notebook file" in capsys.readouterr().err


OTHER_CORRECT_ANSWERS = {
    "02_tensors": {
        "q04_fives": "def make_fives():\n    return torch.ones(3, 3) * 5, torch.float32\n",
        "q05_from_lists": "def tensor_from_lists(rows):\n    return torch.as_tensor(rows, dtype=torch.long)\n",
        "q09_uniform": "def uniform_4x4():\n    return torch.empty(4, 4).uniform_()\n",
        "q11_zeros_like": "def zeros_like_x(x):\n    return x.new_zeros(x.shape)\n",
        "q12_rand_like": "def rand_like_float64(x):\n    return torch.rand(x.shape, dtype=torch.double)\n",
        "q13_twos_like": "def twos_like(a):\n    return torch.ones_like(a) * 2\n",
        "q18_subtract": ("def subtract_three_ways(a, b):\n    out = torch.zeros(torch.broadcast_shapes(a.shape, b.shape))\n"
                         "    return a - b, a.sub(b), torch.sub(a, b, out=out)\n\n\n"
                         "def subtract_in_place(a, b):\n    a -= b\n    return a\n"),
        "q19_reshape": "def to_3x4(t):\n    return t.contiguous().view(3, 4)\n",
        "q20_flatten": "def flatten(t):\n    return t.flatten()\n",
    },
    "05_autograd": {
        "q28_no_grad": ("def with_and_without_tracking(x):\n    with torch.inference_mode():\n        inside = x * 2\n"
                        "    return inside, x + x\n"),
        "q30_poly": ("def poly_derivative(x0):\n    x = torch.tensor([x0], dtype=torch.float64, requires_grad=True)\n"
                     "    (g,) = torch.autograd.grad((3 * x**3 + 2 * x**2 - 4 * x + 5).sum(), x)\n    return float(g)\n"),
    },
    "06_jacobians": {
        "q32_jacobian": ("def f32(x):\n    return torch.stack([x[0] * x[1], x[0].sin(), x[1].pow(3)])\n\n\n"
                         "def jacobian_f32(x):\n    return torch.func.jacrev(f32)(x)\n"),
        "q33_hessian": ("def g33(x):\n    return x[0] ** 2 * x[1] + x[1] ** 3\n\n\n"
                        "def hessian_g33(x):\n    x = x.detach().requires_grad_()\n"
                        "    (g,) = torch.autograd.grad(g33(x), x, create_graph=True)\n"
                        "    return torch.stack([torch.autograd.grad(g[i], x, retain_graph=True)[0] for i in range(2)])\n"),
        "q34_vjp": ("def vjp_square(x, v):\n    x = x.clone().detach().requires_grad_(True)\n"
                    "    (x ** 2).backward(gradient=v)\n    return x.grad\n"),
    },
}


@pytest.mark.parametrize("name", sorted(OTHER_CORRECT_ANSWERS))
def test_other_correct_approaches_pass_the_hidden_tests_too(name, tmp_path):
    answers = dict(OTHER_CORRECT_ANSWERS[name])
    results = results_by_question(with_answers(path_of(SOURCE_DIR, name), tmp_path, answers))
    assert {q: (r.status, r.message) for q, r in results.items() if r.status != PASS} == {}
