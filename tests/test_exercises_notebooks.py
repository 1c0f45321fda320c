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
    """Only answer cells may raise, and only their NotImplementedError stub (a prediction's answer cell runs its
    stub at the top level); every test says NOT ANSWERED."""
    nb = execute(path_of(RELEASE_DIR, name))
    results = question_results(nb)
    assert results and [r.status for r in results] == [NOT_ANSWERED] * len(results)
    answer_cells = {n for n, c in enumerate(nb.cells, start=1) if nbgrader_meta(c).get("solution")}
    assert [(n, m) for n, m in other_errors(nb) if not (n in answer_cells and m == "NotImplementedError")] == []


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_exercise_with_the_solutions_pasted_in_passes_its_visible_tests(name, tmp_path):
    """What a student who answers correctly sees: the released notebook, answered, all PASS."""
    answers = {nbgrader_meta(c)["grade_id"]: MARKER_LINE.sub("", c.source)
               for c in nbformat.read(path_of(SOURCE_DIR, name), as_version=4).cells if nbgrader_meta(c).get("solution")}
    results = results_by_question(with_answers(path_of(RELEASE_DIR, name), tmp_path, answers))
    assert {q: r.status for q, r in results.items()} == {q: PASS for q in results}


WRONG_TENSORS = {
    "q04_filled": "def filled(shape, value):\n    return torch.ones(shape) * value\n",
    "q05_int_tensor": "def int_tensor(rows):\n    return torch.tensor(rows)\n",
    "q09_uniform": "def uniform(shape, low=0.0, high=1.0):\n    return torch.randn(shape)\n",
    "q17_products": "def both_products(a, b):\n    return a @ b, a * b\n",
    "q19_regroup": "def regroup(t, rows):\n    return t.view(rows, -1)\n",
    "p1_dtypes": ("p_fives_dtype = torch.full((3, 3), 5).dtype\np_rand_dtype = torch.float32\n"
                  "p_div_dtype = torch.float32\np_floordiv_dtype = torch.int64\n"),  # computed, not predicted
    "p3_shapes": "p_cat_shape = (6, 3)\np_stack_shape = (2, 3, 2)\np_broadcast_shape = (4, 5, 3)\np_unsqueeze_shape = (2, 3, 4)\n",
}


def test_wrong_tensor_answers_and_predictions_fail_with_actionable_messages(tmp_path):
    results = results_by_question(with_answers(path_of(SOURCE_DIR, "02_tensors"), tmp_path, dict(WRONG_TENSORS)))
    failed = {q for q, r in results.items() if r.status == FAIL}
    assert failed == set(WRONG_TENSORS)  # the other questions still pass: no test depends on another answer
    assert "expected dtype torch.int64, got torch.float32" in results["q04_filled"].message
    assert "dtype=torch.int64" in results["q05_int_tensor"].message
    assert "use torch.rand" in results["q09_uniform"].message
    assert "a * b (torch.mul); a @ b is the matrix product" in results["q17_products"].message
    assert results["q19_regroup"].message.startswith("RuntimeError: view size is not compatible")
    assert "p_fives_dtype must be written as a literal, not computed" in results["p1_dtypes"].message
    assert "p_stack_shape: expected (2, 2, 3), got (2, 3, 2)" in results["p3_shapes"].message


def test_accumulated_gradients_and_copies_are_named(tmp_path):
    reuse_leaf = ("_leaves = {}\n\n\ndef grad_sum_of_powers(values, p):\n"
                  "    X = _leaves.setdefault(str(values), torch.tensor(values, dtype=torch.float32, requires_grad=True))\n"
                  "    (X ** p).sum().backward()\n    return X\n")
    int_leaf = ("def poly_derivative(coeffs, x0):\n    x = torch.tensor(x0, requires_grad=True)\n"
                "    sum(c * x ** (len(coeffs) - 1 - i) for i, c in enumerate(coeffs)).backward()\n"
                "    return x.grad.item()\n")
    results = results_by_question(with_answers(path_of(SOURCE_DIR, "05_autograd"), tmp_path,
                                               {"q27_powers": reuse_leaf, "q30_poly": int_leaf}))
    assert "2 times the expected gradient" in results["q27_powers"].message  # from the hidden test's second call
    assert "did you zero the gradients?" in results["q27_powers"].message.lower()
    assert "floating point" in results["q30_poly"].message  # torch's own error for an int leaf
    assert results["q28_no_grad"].status == PASS

    copy = "def roundtrip(arr):\n    t = torch.tensor(arr)\n    return t, t.numpy()\n"
    rebind = "def increment(t, by):\n    t = t + by\n"
    results = results_by_question(with_answers(path_of(SOURCE_DIR, "03_numpy_bridge"), tmp_path,
                                               {"q02_roundtrip": copy, "q22_in_place": rebind}))
    assert results["q02_roundtrip"].status == FAIL
    assert "t after writing 42 into arr" in results["q02_roundtrip"].message
    assert "torch.from_numpy" in results["q02_roundtrip"].message
    assert "expected 2.5, got 0.5" in results["q22_in_place"].message and "t = t + by" in results["q22_in_place"].message


def test_training_mistakes_show_in_the_losses(tmp_path):
    """08: the classic loop mistakes each fail with a message that names the step and the fix."""
    solution = {nbgrader_meta(c).get("grade_id"): c.source
                for c in nbformat.read(path_of(SOURCE_DIR, "08_end_to_end"), as_version=4).cells}
    no_zero = solution["q2_train"].replace("        w.grad, b.grad = None, None\n", "")
    rebinding = solution["q2_train"].replace("w -= lr * w.grad", "w = w - lr * w.grad")
    global_seed = solution["q1_data"].replace(", generator=generator", "")
    unfrozen = (solution["q3_mlp"].replace("[p[name] for name in trainable]", "list(p.values())")
                .replace("requires_grad_(name in trainable)", "requires_grad_()"))
    assert len({no_zero, rebinding, solution["q2_train"]}) == 3 and global_seed != solution["q1_data"]
    results = results_by_question(with_answers(path_of(SOURCE_DIR, "08_end_to_end"), tmp_path,
                                               {"q2_train": no_zero, "q1_data": global_seed, "q3_mlp": unfrozen}))
    assert "w after 2 steps with torch: wrong values" in results["q2_train"].message
    assert "use a generator" in results["q1_data"].message or "torch.Generator" in results["q1_data"].message
    assert "the frozen W1 after training: wrong values" in results["q3_mlp"].message
    results = results_by_question(with_answers(path_of(SOURCE_DIR, "08_end_to_end"), tmp_path, {"q2_train": rebinding}))
    assert results["q2_train"].status == FAIL


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
    answers["q34_vjp"] = "def vjp(fn, x, v):\n    return x * v.sum()\n"
    notebook = with_answers(path_of(RELEASE_DIR, "06_jacobians"), tmp_path, answers, edit_test="q33_hessian_test")
    assert student_check.main([str(notebook)]) == 1
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith(("q3", "p"))}
    assert set(rows) == {"q32_jacobian", "q33_hessian", "q34_vjp", "p1_shapes", "p2_products", "p3_modes"}
    assert "PASS" in rows["q32_jacobian"] and " 2 " in rows["q32_jacobian"]
    assert "FAIL" in rows["q33_hessian"] and "test cell was edited" in rows["q33_hessian"]
    assert "FAIL" in rows["q34_vjp"] and "vjp_mix(x, v): wrong values" in rows["q34_vjp"]
    assert "4 of 6 questions pass (6 of 10 points)" in out


def test_check_command_exit_codes(capsys):
    assert student_check.main([str(path_of(SOURCE_DIR, "04_devices"))]) == 0
    assert "8 of 8 questions pass" in capsys.readouterr().out
    assert student_check.main(["no/such/notebook.ipynb"]) == 2
    assert "is not a notebook file" in capsys.readouterr().err


OTHER_CORRECT_ANSWERS = {
    "02_tensors": {
        "q04_filled": "def filled(shape, value):\n    return torch.empty(shape, dtype=torch.tensor(value).dtype).fill_(value)\n",
        "q05_int_tensor": "def int_tensor(rows):\n    return torch.as_tensor(rows).long()\n",
        "q09_uniform": "def uniform(shape, low=0.0, high=1.0):\n    return torch.empty(shape).uniform_(low, high)\n",
        "q11_like": ("def zeros_like_x(x):\n    return x.new_zeros(x.shape)\n\n\n"
                     "def rand_like_float64(x):\n    return torch.rand(x.shape, dtype=torch.double)\n\n\n"
                     "def twos_like(a):\n    return torch.ones_like(a) * 2\n"),
        "q18_subtract": ("def subtract_three_ways(a, b):\n    out = torch.zeros(torch.broadcast_shapes(a.shape, b.shape))\n"
                         "    return a - b, a.sub(b), torch.sub(a, b, out=out)\n\n\n"
                         "def subtract_in_place(a, b):\n    a -= b\n    return a\n"),
        "q19_regroup": ("def regroup(t, rows):\n    if t.numel() % rows:\n        raise ValueError('uneven rows')\n"
                        "    return t.contiguous().view(rows, t.numel() // rows)\n"),
        "q20_flatten": "def flatten(t):\n    return t.flatten()\n",
        "p3_shapes": ("p_cat_shape = torch.Size([6, 3])\np_stack_shape = (2, 2, 3)\np_broadcast_shape = (4, 5, 3)\n"
                      "p_unsqueeze_shape = (2, 3, 4)\n"),
    },
    "05_autograd": {
        "q01_loop": ("def f(a):\n    b = a * 2\n    while torch.linalg.vector_norm(b) < 1000:\n        b = b + b\n    return b\n\n\n"
                     "def grad_through_loop(values):\n    a = torch.as_tensor(values, dtype=torch.float32).requires_grad_()\n"
                     "    d = f(a)\n    d.backward(torch.ones_like(d))\n    return a, d\n"),
        "q28_no_grad": ("def with_and_without_tracking(x):\n    with torch.inference_mode():\n        inside = x.exp()\n"
                        "    return inside, torch.exp(x)\n"),
        "q30_poly": ("def poly_derivative(coeffs, x0):\n    x = torch.tensor([x0], dtype=torch.float64, requires_grad=True)\n"
                     "    y = torch.zeros(1, dtype=torch.float64)\n    for c in coeffs:\n        y = y * x + c\n"
                     "    (g,) = torch.autograd.grad(y.sum(), x)\n    return float(g)\n"),
    },
    "06_jacobians": {
        "q32_jacobian": ("def f32(x):\n    return torch.stack([x[0] * x[1], x[0].sin(), x[1].pow(3)])\n\n\n"
                         "def jacobians_f32(points):\n"
                         "    return torch.stack([torch.autograd.functional.jacobian(f32, p) for p in points])\n"),
        "q33_hessian": ("def g33(x):\n    return x[0] ** 2 * x[1] + x[1] ** 3\n\n\n"
                        "def hessian_g33(x):\n    return torch.autograd.functional.hessian(g33, x)\n\n\n"
                        "def hvp_g33(x, u):\n    x = x.detach().requires_grad_()\n"
                        "    (g,) = torch.autograd.grad(g33(x), x, create_graph=True)\n"
                        "    return torch.autograd.grad(g @ u, x)[0]\n"),
        "q34_vjp": ("def vjp(fn, x, v):\n    x = x.clone().detach().requires_grad_(True)\n"
                    "    fn(x).backward(gradient=v)\n    return x.grad\n"),
    },
    "08_end_to_end": {
        "q2_train": ("def train_logistic(lib, X, y, steps, lr):\n    w = lib.zeros(2, requires_grad=True)\n"
                     "    b = lib.zeros(1, requires_grad=True)\n    optimizer = lib.optim.SGD([w, b], lr=lr)\n    losses = []\n"
                     "    for _ in range(steps):\n        optimizer.zero_grad()\n"
                     "        loss = lib.nn.functional.binary_cross_entropy_with_logits(X @ w + b, y)\n"
                     "        loss.backward()\n        optimizer.step()\n        losses.append(float(loss.item()))\n"
                     "    return w, b, losses\n"),
    },
}


@pytest.mark.parametrize("name", sorted(OTHER_CORRECT_ANSWERS))
def test_other_correct_approaches_pass_the_hidden_tests_too(name, tmp_path):
    answers = dict(OTHER_CORRECT_ANSWERS[name])
    results = results_by_question(with_answers(path_of(SOURCE_DIR, name), tmp_path, answers))
    assert {q: (r.status, r.message) for q, r in results.items() if r.status != PASS} == {}
