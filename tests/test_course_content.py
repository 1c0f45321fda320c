"""What the lecture notebooks teach: every erratum avoided, every syllabus topic covered, the worked
derivations' ground-truth values printed, and the required plots drawn."""
import functools
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "course"))
from _course_catalog import COURSE_DIR, NOTEBOOKS, output_text, read_notebook  # noqa: E402


def flat(text: str) -> str:
    """Whitespace collapsed, so that a phrase wrapped across lines still matches."""
    return re.sub(r"\s+", " ", text)


@functools.cache
def all_text(stem: str) -> str:
    """Markdown, code and stored outputs of one notebook."""
    parts = []
    for cell in read_notebook(stem).cells:
        parts.append(cell.source)
        parts.extend(output_text(o) for o in cell.get("outputs", []))
    return flat("\n".join(parts))


@functools.cache
def code_text(stem: str) -> str:
    return "\n".join(c.source for c in read_notebook(stem).cells if c.cell_type == "code")


@functools.cache
def outputs_text(stem: str) -> str:
    return flat("\n".join(output_text(o) for c in read_notebook(stem).cells for o in c.get("outputs", [])))


def course_text() -> str:
    return " ".join(all_text(stem) for stem in NOTEBOOKS)

# (erratum number in ../shared/errata.md, pattern of the wrong claim); matched case-insensitively
WRONG_CLAIMS = [
    (1, r"(January|released in) 2016"),
    (2, r"Kaggle"),
    (3, r"no idea how much memory"),
    (4, r"torch==1\.4|cudatoolkit|Python 3\.6|Anaconda Prompt"),
    (5, r"from __future__ import print_function"),
    (6, r"bridge-to-np-label"),
    (7, r"a\.b_\(\)"),
    (8, r"Size`? is (actually )?a tuple"),
    (9, r"to resize or reshape,? use"),
    (10, r"CharTensor"),
    (12, r"class is an engine"),
    (13, r"defaults? to False"),
    (14, r"created by the user"),
    (15, r"backdrop|backword|Differentiaition"),
    (16, r"(reverse mode|backward|autograd) (computes|uses)[^.]{0,40}Jacobian-vector product"),
    (17, r"grad_tensor\b"),
    (19, r"4th iteration|2\^4"),
    (21, r"n ?\\times ?m\b.{0,40}Jacobian|Jacobian.{0,40}\bn ?\\times ?m\b"),
    (22, r"will not be available"),
    (23, r"x\.grad will calculate"),
    (24, r"vector of random numbers"),
    (26, r"gradients? during the forward pass"),
    (27, r"special class of tensors"),
    (28, r"\.grad of each tensor that requires"),
    (31, r"single perceptron"),
    (32, r"prevents? unnecessary memory|\bautograde\b|\bForwar\b|\bliner\b|predtion"),
]


@pytest.mark.parametrize("number,pattern", WRONG_CLAIMS, ids=[f"erratum{n}" for n, _ in WRONG_CLAIMS])
def test_no_erratum_is_repeated(number, pattern):
    course = course_text()
    match = re.search(pattern, course, flags=re.IGNORECASE)
    assert match is None, f"erratum {number}: {course[max(0, match.start() - 80):match.end() + 80]!r}"


# issue 12's errors in the first edition of the course: (erratum number in issue 12, pattern of the wrong claim)
ISSUE12_WRONG_CLAIMS = [
    (1, r"a custom `?Function`? must do it itself|gives an error that says what to do, as in PyTorch"),
    (2, r"doubling \$?n\$? costs about eight times|costs about eight times more"),
    (3, r"direction gradients flow"),
    (4, r"summed, which is why gradients \*{0,2}accumulate"),
    (5, r"costs about two gradient evaluations"),
    (6, r"never moves data (implicitly|behind)"),
    (7, r"agree to about \$10\^\{-4\}\$"),
    (8, r"never need (it|retain_graph)"),
    (9, r"the constant 3\b|fifteen lines"),
]


@pytest.mark.parametrize("number,pattern", ISSUE12_WRONG_CLAIMS, ids=[f"issue12-{n}" for n, _ in ISSUE12_WRONG_CLAIMS])
def test_no_error_of_the_first_edition_is_repeated(number, pattern):
    text = course_text() + flat((COURSE_DIR / "_course_utils.py").read_text())
    match = re.search(pattern, text, flags=re.IGNORECASE)
    assert match is None, f"issue 12 erratum {number}: {text[max(0, match.start() - 80):match.end() + 80]!r}"


def test_no_code_cell_calls_torch_autograd_or_reads_data_norm():
    code = "\n".join(code_text(stem) for stem in NOTEBOOKS)
    assert not re.search(r"torch\.autograd\(", code)       # erratum 18: not callable
    assert ".data.norm" not in code                         # erratum 20


# (notebook, the correct statement that replaces a wrong claim); whitespace-insensitive
CORRECT_STATEMENTS = [
    ("01_what_is_pytorch", "first public release was in January 2017"),
    ("01_what_is_pytorch", "data-dependent control flow"),
    ("01_what_is_pytorch", "rebuilt on every forward pass"),
    ("00_welcome", "Python 3.10 or newer"),
    ("00_welcome", "%pip install"),
    ("00_welcome", "MPS"),
    ("02_tensors", "a.t_()"),
    ("02_tensors", "**subclass of `tuple`**"),
    ("02_tensors", "**copies when it must**"),
    ("02_tensors", "`resize_`** is something else"),
    ("03_numpy_bridge", "`int8` included, converts"),
    ("03_numpy_bridge", "numpy(force=True)"),
    ("03_numpy_bridge", "| `torch.tensor(a)` | **always copied** |"),
    ("05_autograd", "`torch.autograd` is a **package**"),
    ("05_autograd", "its argument **defaults to True**"),
    ("05_autograd", "anything computed while recording is off"),
    ("05_autograd", "Reading `a.grad` later computes nothing"),
    ("05_autograd", "**upstream gradient**"),
    ("05_autograd", "`t` itself still tracks"),
    ("05_autograd", "only the tensors you differentiate with respect to need `requires_grad=True`"),
    ("05_autograd", "The forward pass only **records** the graph"),
    ("05_autograd", "Only leaves that require grad have `.grad` filled"),
    ("05_autograd", "print(X.grad)"),
    ("05_autograd", "**logistic (sigmoid) neuron**"),
    ("05_autograd", "**in float32 $1 - 10^{-8}$ is 1.0**"),
    ("05_autograd", "F.binary_cross_entropy_with_logits"),
    ("05_autograd", "`set_to_none=True`"),
    ("05_autograd", "Setting `x.grad = None` frees the buffer"),
    ("05_autograd", "never rely on `.data`"),
    ("06_jacobians", "the $m \\times n$ matrix"),
    ("06_jacobians", "J_{ij} = \\frac{\\partial y_i}{\\partial x_j}"),
    ("06_jacobians", "Reverse mode computes vector-Jacobian products"),
    ("06_jacobians", "Forward mode computes Jacobian-vector products"),
    ("06_jacobians", "`gradient` in `Tensor.backward`, `grad_tensors` in `torch.autograd.backward`, `grad_outputs`"),
    ("06_jacobians", "`torch.autograd` is a package, not a function"),
    # issue 12, errata 1-9
    ("07_inside_autograd_minigrad", "PyTorch **sums the gradient back silently**"),
    ("07_inside_autograd_minigrad", "It raises an error only when the returned shape cannot be reduced"),
    ("07_inside_autograd_minigrad", "Why is minigrad stricter?"),
    ("01_what_is_pytorch", "No single factor describes every size"),
    ("01_what_is_pytorch", "measured on:"),
    ("05_autograd", "The arrows point the way the **forward**"),
    ("07_inside_autograd_minigrad", "that sum is the chain rule itself"),
    ("07_inside_autograd_minigrad", "**accumulation across `backward()` calls**"),
    ("06_jacobians", "its own documentation warns that it is significantly slower than `vhp`"),
    ("06_jacobians", "jvp(grad(s), (x,), (u,))"),
    ("04_devices", "except 0-d CPU tensors"),
    ("06_jacobians", "gap of $-3\\cdot10^{-4}$ and $-4\\cdot10^{-4}$"),
    ("06_jacobians", "$\\lVert h\\rVert^2 = 5\\cdot10^{-4}$"),
    ("05_autograd", "**two backward passes go through a shared part of one graph**"),
    ("07_inside_autograd_minigrad", "**`t.data` is a minigrad `Tensor` sharing `t`'s memory, outside the graph**"),
    ("07_inside_autograd_minigrad", "**`t.array`** (no copy)"),
    ("07_inside_autograd_minigrad", "under thirty lines"),
    ("06_jacobians", "$(v^\\top J)^\\top = J^\\top v$"),
]


@pytest.mark.parametrize("stem,statement", CORRECT_STATEMENTS)
def test_the_correct_statement_is_taught(stem, statement):
    assert flat(statement) in all_text(stem)


# syllabus sections 1 and 2: (notebook, names that must appear in its code)
SYLLABUS_CODE = {
    "01_what_is_pytorch": ["requires_grad=True", ".backward()", "synchronize", "matmul_measurements(",
                           "benchmark.Compare(", "machine_description(", "ratios_per_doubling(", "load_reference()"],
    "02_tensors": ["torch.tensor(", "zeros_like", "rand_like", "new_ones", "new_full", "torch.rand(",
                   "torch.randn(", "torch.ones(", "torch.zeros(", "torch.full(", "torch.empty(",
                   ".shape", ".dtype", ".device", "torch.add(a, b)", "out=", "add_(", " @ ", " * ",
                   "keepdim=True", "dim=", ".view(", ".reshape(", "-1", ".item()", ".stride()",
                   ".is_contiguous()", ".clone()", "result_type", "broadcast_shapes", "A[A % 2 == 0]", "torch.cat(", "torch.stack(", ".unsqueeze(", ".squeeze(",
                   ".permute(", ".expand(", ".repeat(", "torch.where(", "torch.dot(", "torch.mv(", ".norm()",
                   " & ", " | ", "~"],
    "03_numpy_bridge": ["torch.from_numpy(", "torch.as_tensor(", "torch.tensor(a)", ".numpy()",
                        "numpy(force=True)", ".detach().numpy()", "np.shares_memory", "default_rng(0)",
                        "t.add_(1)", "t = t + 1"],
    "04_devices": ["torch.device(", ".to(device)", "device=device", ".cpu()", "torch.float64",
                   "torch.cuda.is_available()", "torch.backends.mps.is_available()",
                   "torch.cuda.synchronize()", "torch.cuda.Event(enable_timing=True)", "elapsed_time",
                   "pin_memory()", "non_blocking=True"],
    "05_autograd": ["requires_grad=True", ".grad_fn", ".is_leaf", ".backward()", "backward(gradient=",
                    "x.grad = None", "retain_graph=True", "retain_grad()", "requires_grad_()",
                    "detach()", "torch.no_grad()", "torch.inference_mode()", "torch.set_grad_enabled(",
                    ".data.zero_()", "torch.autograd.grad(", "create_graph=True", "torch.relu(",
                    ".clamp(", "binary_cross_entropy_with_logits", "F.softplus", "F.logsigmoid",
                    "torch.autograd.Function", "ctx.save_for_backward", ".apply(", "gradcheck(",
                    "torch.float64", "register_hook", "Dataset", "DataLoader(", "zero_grad()",
                    "torch.manual_seed(0)", "while ",
                    "retain_graph=True)", "requires_grad_(False)", "u = x.detach()", "model.eval()",
                    "torch.inference_mode()", "torch.Generator()", "drop_last=True", "collate_fn=",
                    "num_workers=2", "torch.use_deterministic_algorithms(True)"],
    "08_end_to_end": ["engines = {\"torch\": torch, \"minigrad\": mg}", "lib.nn.Linear(", "lib.optim.SGD(",
                      "binary_cross_entropy_with_logits", "optimizer.zero_grad()", "load_state_dict(",
                      "default_rng(0)"],
    "06_jacobians": ["jacobian(", "backward(gradient=v)", "grad_outputs=v", "vjp(", "jvp(", "hessian(",
                     "hvp(", "tf.jacrev(", "tf.jacfwd(", "tf.vmap(", "tf.grad(", "tf.hessian(",
                     "create_graph=True", "argnums=(0, 1)", "in_dims=(None, None, 0)", "tf.vmap(vjp_fn)",
                     "tf.jvp(tf.grad(", "benchmark.Timer("],
}


@pytest.mark.parametrize("stem,name", [(s, n) for s, names in SYLLABUS_CODE.items() for n in names])
def test_syllabus_topic_is_shown_in_code(stem, name):
    assert name in code_text(stem)


# worked derivations of syllabus 1.10 and section 4, and the other ground truths, as printed
GROUND_TRUTH_OUTPUTS = [
    ("05_autograd", "tensor(27., grad_fn=<MeanBackward0>)"),
    ("05_autograd", "tensor([[4.5000, 4.5000], [4.5000, 4.5000]])"),
    ("05_autograd", "72.0 tensor([24., 24., 24.])"),
    ("05_autograd", "tensor([0.2500, 0.2500, 0.2500, 0.2500])"),
    ("05_autograd", "4.6667 tensor([0.6667, 1.3333, 2.0000])"),
    ("05_autograd", "tensor(6.)"),
    ("05_autograd", "-7.661275842587077 -7.661275842587077"),
    ("05_autograd", "tensor([2.0000, 2.0000, 0.6000]) = 2 * x * v"),
    ("05_autograd", "tensor([ 0.3000, -1.0000, 2.0000]) = m"),
    ("05_autograd", "prediction p = 0.99877, loss = 6.7012"),
    ("05_autograd", "dL/dw: autograd 6.6918, by hand 6.6918"),
    ("05_autograd", "dL/db: autograd 0.99877, by hand 0.99877"),
    ("05_autograd", "equals 3 * 2^k * v: True"),
    ("05_autograd", "clamped BCE: inf"),
    ("05_autograd", "BCE with logits: 20.0"),
    ("05_autograd", "gradcheck, correct backward: True"),
    ("05_autograd", "gradcheck, wrong backward: False"),
    ("02_tensors", "torch.int64 torch.int64 torch.float32"),
    ("02_tensors", "torch.float32 torch.bool"),
    ("02_tensors", "tensor([[0, 0], [0, 0]]) torch.int64 torch.float32 torch.float64"),
    ("02_tensors", "True (<class 'torch.Size'>, <class 'tuple'>)"),
    ("03_numpy_bridge", "100.0 100.0 0.6369616873214543"),
    ("04_devices", "tensor([[10., 13.], [28., 40.]]) cpu 1.0"),
    ("06_jacobians", "torch.Size([3, 2]) = (m, n)"),
    ("06_jacobians", "tensor([[6., 4.], [4., 2.]])"),
    # issue 12: both broadcasting behaviours side by side (erratum 1)
    ("07_inside_autograd_minigrad", "torch: (3, 1) (1, 4) | col.grad = [4.0, 4.0, 4.0]"),
    ("07_inside_autograd_minigrad", "got shape [3, 4] but expected shape [3, 1]"),
    ("07_inside_autograd_minigrad", "got [5] but expected shape compatible with [3]"),
    ("07_inside_autograd_minigrad", "ndarray | shares memory with t: True"),
    # erratum 6: a 0-d CPU tensor combines with another device, a (1,) tensor does not
    ("04_devices", "meta RuntimeError: Tensor on device cpu is not on the expected device meta!"),
    # erratum 7: the printed gap and ||h||^2
    ("06_jacobians", "gap: -3.0e-04, -4.0e-04; its length 5.0e-04; ||h||^2 = 5.0e-04"),
    # erratum 8: two backward passes through a shared subgraph
    ("05_autograd", "d loss_a/dw: tensor([0.7864, 0.1413]) d loss_b/dw: tensor([ 0.7269, -0.2724])"),
    # erratum 5: forward-over-reverse agrees with hvp, vhp and H @ u
    ("06_jacobians", "jvp of grad: tensor([2., 2.])"),
    ("06_jacobians", "autograd.functional.vhp: tensor([2., 2.])"),
    # new content: 02 joining and shapes
    ("02_tensors", "torch.Size([4, 3]) torch.Size([2, 6]) torch.Size([2, 2, 3]) torch.Size([2, 3, 2])"),
    ("02_tensors", "expand: stride (1, 0) shares memory: True"),
    ("02_tensors", "repeat: stride (4, 1) shares memory: False"),
    ("02_tensors", "tensor(11.) tensor(11.)"),
    ("02_tensors", "tensor(5.) tensor(5.) tensor(7.)"),
    # 05: propagation, freezing, stop-gradient, mistakes, data loading
    ("05_autograd", "True False False"),
    ("05_autograd", "frozen layer unchanged: True | its grad: None"),
    ("05_autograd", "z = 14.0 | x.grad = tensor([1., 2., 3.]) | equals u: True"),
    ("05_autograd", "wrong: torch.Size([4, 4]) loss 2.5"),
    ("05_autograd", "fixed: torch.Size([4]) loss 0.0"),
    ("05_autograd", "step 1: w is a leaf: False, w.grad = None"),
    ("05_autograd", "after eval(): requires grad: True"),
    ("05_autograd", "Inference tensors cannot be saved for backward"),
    ("05_autograd", "batch sizes: [4, 4, 2]"),
    ("05_autograd", "drop_last: [4, 4]"),
    ("05_autograd", "same seed, same items and random numbers: True"),
    ("05_autograd", "another seed, different: True"),
    # 06: torch.func in depth
    ("06_jacobians", "torch.Size([3, 3, 2]) torch.Size([3, 3])"),
    ("06_jacobians", "torch.Size([5, 3, 3, 2]) = (batch, output, *W.shape)"),
    ("06_jacobians", "equals jacrev: True"),
    # 08: both engines learn the same weights
    ("08_end_to_end", "largest weight difference below 1e-5: True"),
    ("08_end_to_end", "largest weight difference below 1e-4: True"),
    ("08_end_to_end", "logistic regression on the rings: accuracy 0.51"),
]


@pytest.mark.parametrize("stem,printed", GROUND_TRUTH_OUTPUTS)
def test_ground_truth_is_printed(stem, printed):
    assert flat(printed) in outputs_text(stem)


def test_the_doubling_loop_counts_its_doublings():
    text = outputs_text("05_autograd")
    k = int(re.search(r"(\d+) doublings; x\.grad", text).group(1))
    assert k >= 1
    assert "x = 0.1: 5 doublings recorded, x.grad = [96.0, 96.0]" in outputs_text("01_what_is_pytorch")


# required plots: (notebook, a phrase from the plotting call, at least this many figures there)
REQUIRED_PLOTS = [
    ("01_what_is_pytorch", "plot_matmul_with_reference(", 1),
    ("04_devices", "plot_gpu_timing_reference(", 1),
    ("05_autograd", "plot_loss(curves", 1),
    ("08_end_to_end", "plot_loss(curves", 2),
    ("05_autograd", "plot_function_and_derivative(", 1),
    ("05_autograd", "plot_autograd_graph(", 1),
    ("05_autograd", "plot_loss(", 1),
    ("06_jacobians", "plot_unit_square_map(", 1),
]


@pytest.mark.parametrize("stem,call,count", REQUIRED_PLOTS)
def test_required_plot_is_drawn(stem, call, count):
    cells = [c for c in read_notebook(stem).cells if c.cell_type == "code" and call in c.source]
    assert cells, f"no cell in {stem} calls {call}"
    figures = [o for c in cells for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(figures) >= count
