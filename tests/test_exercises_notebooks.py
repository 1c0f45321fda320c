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
    "07_minigrad_engine": {
        "qa_gradcheck": ("def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):\n"
                         "    xs = [x.detach().double().requires_grad_() for x in inputs]\n"
                         "    out = fn(*xs)\n"
                         "    u = mg.tensor(np.random.default_rng(seed + 1).standard_normal(out.shape))\n"
                         "    (out * u).sum().backward()\n"
                         "    for x in xs:\n"
                         "        analytic = x.grad.numpy().reshape(-1) if x.grad is not None else np.zeros(x.numel())\n"
                         "        for j in range(x.numel()):\n"
                         "            sides = []\n"
                         "            for step in (eps, -eps):\n"
                         "                moved = x.detach().numpy().copy()\n"
                         "                moved.reshape(-1)[j] += step\n"
                         "                args = [mg.tensor(moved) if y is x else y.detach() for y in xs]\n"
                         "                sides.append((fn(*args) * u).sum().item())\n"
                         "            numeric = (sides[0] - sides[1]) / (2 * eps)\n"
                         "            if abs(analytic[j] - numeric) > atol + rtol * abs(numeric):\n"
                         "                return False\n"
                         "    return True\n"),
        "qb_softplus": ("class Softplus(Function):\n    @staticmethod\n    def forward(ctx, x, beta):\n"
                        "        ctx.beta, z = beta, beta * x\n        ctx.save_for_backward(z)\n"
                        "        return (mg.maximum(z, mg.zeros_like(z)) + (1 + (-(z.abs())).exp()).log()) * (1 / beta)\n\n"
                        "    @staticmethod\n    def backward(ctx, grad_output):\n        (z,) = ctx.saved_tensors\n"
                        "        small = (-(z.abs())).exp()\n"
                        "        return grad_output * ((z >= 0) / (1 + small) + (z < 0) * small / (1 + small)), None\n"),
        "qe_backprop": ("def backprop(root, grad_output, retain_graph=False):\n"
                        "    if root.grad_fn is None:\n"
                        "        root.grad = grad_output if root.grad is None else root.grad + grad_output\n"
                        "        return\n"
                        "    order, visited, stack = [], set(), [(root.grad_fn, False)]\n"
                        "    while stack:  # depth first, each node listed after everything it feeds on\n"
                        "        node, finished = stack.pop()\n"
                        "        if finished:\n            order.append(node)\n            continue\n"
                        "        if node in visited:\n            continue\n"
                        "        visited.add(node)\n        stack.append((node, True))\n"
                        "        stack += [(p, False) for p in next_nodes(node) if isinstance(p, Function) and p not in visited]\n"
                        "    grads = {root.grad_fn: grad_output}\n"
                        "    for node in reversed(order):\n"
                        "        g = grads.pop(node, None)\n"
                        "        if g is None:\n            continue\n"
                        "        for parent, pg in zip(next_nodes(node), node_backward(node, g)):\n"
                        "            if parent is None or pg is None:\n                continue\n"
                        "            if isinstance(parent, Function):\n"
                        "                grads[parent] = grads[parent] + pg if parent in grads else pg\n"
                        "            else:\n"
                        "                parent.grad = pg if parent.grad is None else parent.grad + pg\n"
                        "        if not retain_graph:\n            free_saved(node)\n"),
        "qf_block": ("def feature_block(x, w, scale, shift):\n"
                     "    return CumSum.apply(Softplus.apply(shift + scale * LayerNorm.apply(mg.matmul(x, w), 1e-5), 1.0), -1)\n"),
    },
}


@pytest.mark.parametrize("name", sorted(OTHER_CORRECT_ANSWERS))
def test_other_correct_approaches_pass_the_hidden_tests_too(name, tmp_path):
    answers = dict(OTHER_CORRECT_ANSWERS[name])
    results = results_by_question(with_answers(path_of(SOURCE_DIR, name), tmp_path, answers))
    assert {q: (r.status, r.message) for q, r in results.items() if r.status != PASS} == {}


# --- 07_minigrad_engine: wrong answers and shortcuts are caught, each by the question it belongs to ---------------

def engine_solution(grade_id):
    cells = nbformat.read(path_of(SOURCE_DIR, "07_minigrad_engine"), as_version=4).cells
    return next(MARKER_LINE.sub("", c.source) for c in cells if nbgrader_meta(c).get("grade_id") == grade_id)


def edited(grade_id, old, new):
    """The solution of `grade_id` with `old` replaced by `new` (which must occur)."""
    source = engine_solution(grade_id)
    assert old in source, f"{grade_id}: {old!r} not in the solution"
    return source.replace(old, new)


NAIVE_SOFTPLUS = """\
class Softplus(Function):
    @staticmethod
    def forward(ctx, x, beta):
        ctx.save_for_backward(x)
        ctx.beta = beta
        return ((x * beta).exp() + 1).log() / beta

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        e = (x * ctx.beta).exp()
        return grad_output * e / (1 + e), None
"""
DELEGATING_LAYER_NORM = """\
class LayerNorm(Function):
    @staticmethod
    def forward(ctx, x, eps):
        ctx.save_for_backward(x)
        ctx.eps = eps
        centred = x - x.mean(dim=-1, keepdim=True)
        return centred / ((centred * centred).mean(dim=-1, keepdim=True) + eps).sqrt()

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        with mg.enable_grad():
            x = x.detach().requires_grad_()
            centred = x - x.mean(dim=-1, keepdim=True)
            y = centred / ((centred * centred).mean(dim=-1, keepdim=True) + ctx.eps).sqrt()
            return mg.autograd.grad(y, x, grad_output)[0], None
"""
RECURSIVE_BACKPROP = """\
def backprop(root, grad_output, retain_graph=False):
    if root.grad_fn is None:
        root.grad = grad_output if root.grad is None else root.grad + grad_output
        return
    order, seen = [], set()

    def visit(node):
        seen.add(node)
        for parent in next_nodes(node):
            if isinstance(parent, Function) and parent not in seen:
                visit(parent)
        order.append(node)

    visit(root.grad_fn)
    grads = {root.grad_fn: grad_output}
    for node in reversed(order):
        g = grads.pop(node, None)
        if g is None:
            continue
        for parent, pg in zip(next_nodes(node), node_backward(node, g)):
            if parent is None or pg is None:
                continue
            if isinstance(parent, Function):
                grads[parent] = pg if parent not in grads else grads[parent] + pg
            else:
                parent.grad = pg if parent.grad is None else parent.grad + pg
        if not retain_graph:
            free_saved(node)
"""
PER_PATH_BACKPROP = """\
def backprop(root, grad_output, retain_graph=False):
    if root.grad_fn is None:
        root.grad = grad_output if root.grad is None else root.grad + grad_output
        return
    queue = [(root.grad_fn, grad_output)]
    while queue:
        node, g = queue.pop(0)
        for parent, pg in zip(next_nodes(node), node_backward(node, g)):
            if parent is None or pg is None:
                continue
            if isinstance(parent, Function):
                queue.append((parent, pg))
            else:
                parent.grad = pg if parent.grad is None else parent.grad + pg
"""
BUILT_IN_BLOCK = """\
def feature_block(x, w, scale, shift):
    h = x @ w
    centred = h - h.mean(dim=-1, keepdim=True)
    h = centred / ((centred * centred).mean(dim=-1, keepdim=True) + 1e-5).sqrt() * scale + shift
    return CumSum.apply(Softplus.apply(h, 1.0), 1)
"""
TORCH_CUMSUM = """\
class CumSum(Function):
    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return mg.tensor(np.cumsum(x.detach().numpy(), axis=dim), dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        g = torch.from_numpy(grad_output.numpy())
        x = torch.zeros(g.shape, dtype=g.dtype, requires_grad=True)
        (grad,) = torch.autograd.grad(torch.cumsum(x, ctx.dim), x, g)
        return mg.tensor(grad.numpy()), None
"""
LIBRARY_GRADCHECK = """\
def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    import minigrad.testing
    return minigrad.testing.gradcheck(fn, [x.detach().requires_grad_() for x in inputs], raise_exception=False)
"""

ENGINE_WRONG = {  # answers -> {question: a fragment of its failure message}; the other questions must pass
    "wrong_rules_recursion_and_built_ins": (lambda: {
        "qa_gradcheck": edited("qa_gradcheck", "standard_normal(out.shape)", "standard_normal(out.shape) * 0 + 1"),
        "qb_softplus": NAIVE_SOFTPLUS,
        "qc_layernorm": edited("qc_layernorm", "x_hat * mean_gx", "0 * mean_gx"),
        "qd_cumsum": edited("qd_cumsum", "g.sum(dim=ctx.dim, keepdim=True) - CumSum.apply(g, ctx.dim) + g",
                            "CumSum.apply(g, ctx.dim)"),
        "qe_backprop": RECURSIVE_BACKPROP,
    }, {
        "qa_gradcheck": "gradcheck on a wrong rule (upstream_averaged) of sin, inputs of shapes [(5,)]: expected False",
        "qb_softplus": "at x = -800 and 800, where exp overflows: minigrad disagrees with PyTorch",
        "qc_layernorm": "LayerNorm.apply(x, 1e-5) on a (4, 5) float64 input: minigrad disagrees with PyTorch. grad of input 0",
        "qd_cumsum": "CumSum.apply(x, 1) on a (3, 4) float64 input: minigrad disagrees with PyTorch. grad of input 0",
        "qe_backprop": "RecursionError",
        "qf_block": "feature_block on a batch of 4: minigrad disagrees with PyTorch",  # built from the wrong rules
    }),
    "shortcuts_through_minigrad_and_torch": (lambda: {
        "qa_gradcheck": LIBRARY_GRADCHECK,
        "qb_softplus": edited("qb_softplus", "mg.where(z >= 0, 1 / (1 + e), e / (1 + e))", "z.sigmoid()"),
        "qc_layernorm": DELEGATING_LAYER_NORM,
        "qd_cumsum": TORCH_CUMSUM,
        "qe_backprop": "def backprop(root, grad_output, retain_graph=False):\n"
                       "    root.backward(grad_output, retain_graph=retain_graph)\n",
    }, {
        "qa_gradcheck": "gradcheck must compare the gradients itself: it called minigrad.testing.gradcheck",
        "qb_softplus": "Softplus.backward must compute its result itself: it called minigrad.Tensor.sigmoid",
        "qc_layernorm": "LayerNorm.backward must compute its result itself: it called minigrad.autograd.grad",
        "qd_cumsum": "CumSum.backward must compute its result itself: it called torch.autograd.grad",
        "qe_backprop": "backprop must walk the graph itself: it called minigrad.Tensor.backward",
        "qf_block": "CumSum.backward must compute its result itself",  # the first rule run backward
    }),
    "float32_differences_and_a_walk_that_frees_nothing": (lambda: {
        "qa_gradcheck": edited("qa_gradcheck", "x.detach().double()", "x.detach()"),
        "qe_backprop": edited("qe_backprop", "            free_saved(node)", "            pass"),
    }, {
        "qa_gradcheck": "for float32 inputs: expected True, got False. Copy the inputs to float64 first",
        "qe_backprop": "raised no error: call free_saved(node)",
    }),
    "one_element_checked_a_walk_per_path_and_built_ins": (lambda: {
        "qa_gradcheck": edited("qa_gradcheck", "for j in range(base[i].size):", "for j in range(1):"),
        "qe_backprop": PER_PATH_BACKPROP,
        "qf_block": BUILT_IN_BLOCK,
    }, {
        "qa_gradcheck": "a wrong rule (one_element_off)",
        "qe_backprop": "sin(x*x) * tanh(x*x): node_backward ran [1, 1, 1, 2] times on its 4 nodes, expected once each",
        "qf_block": "its graph has 0 LayerNorm, 1 Softplus and 1 CumSum nodes of your classes, expected one of each",
    }),
}


@pytest.mark.parametrize("case", sorted(ENGINE_WRONG))
def test_engine_exercise_catches_wrong_answers_and_shortcuts(case, tmp_path):
    answers, fragments = ENGINE_WRONG[case]
    results = results_by_question(with_answers(path_of(SOURCE_DIR, "07_minigrad_engine"), tmp_path, answers()))
    assert {q for q, r in results.items() if r.status == FAIL} == set(fragments)
    for question, fragment in fragments.items():
        assert fragment in results[question].message, (question, results[question].message)
