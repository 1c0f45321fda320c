"""autograd.grad, autograd.functional, deep graphs, dtypes and creation functions vs torch."""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.autograd import functional as MF
from torch.autograd import functional as TF


def both(fn, *arrays, dtype="float64"):
    """fn(lib, F, *tensors) in both libraries; inputs as float64 tensors requiring grad."""
    out = {}
    for lib, F in ((mg, MF), (torch, TF)):
        ts = [lib.tensor(a, dtype=getattr(lib, dtype), requires_grad=True) for a in arrays]
        out[lib.__name__] = fn(lib, F, *ts)
    return out["minigrad"], out["torch"]


def assert_same_structure(m, t, rtol=1e-7):
    """Same nesting of tuples, same shapes and values."""
    if isinstance(t, tuple):
        assert isinstance(m, tuple) and len(m) == len(t), (type(m), type(t))
        for a, b in zip(m, t):
            assert_same_structure(a, b, rtol)
        return
    assert isinstance(m, mg.Tensor) and isinstance(t, torch.Tensor), (type(m), type(t))
    assert tuple(m.shape) == tuple(t.shape)
    np.testing.assert_allclose(m.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=1e-12)


A = np.array([0.3, -1.2, 2.0])
B = np.array([[1.0, 0.5], [-0.5, 2.0], [0.1, 0.2]])


def f_vec(lib, x):
    return (x.sin() * x).exp()


def f_two(lib, x, w):
    return (x @ w).tanh()


@pytest.mark.parametrize("case", ["single", "tuple"])
def test_vjp_jvp_jacobian_structure(case):
    if case == "single":
        m, t = both(lambda lib, F, x: (
            F.vjp(lambda a: f_vec(lib, a), x, lib.ones(3, dtype=lib.float64) * 0.5),
            F.jvp(lambda a: f_vec(lib, a), x, lib.ones(3, dtype=lib.float64)),
            F.jacobian(lambda a: f_vec(lib, a), x),
        ), A)
    else:
        m, t = both(lambda lib, F, x, w: (
            F.vjp(lambda a, b: f_two(lib, a, b), (x, w), lib.ones(2, dtype=lib.float64)),
            F.jvp(lambda a, b: f_two(lib, a, b), (x, w), (lib.ones(3, dtype=lib.float64), lib.ones(3, 2, dtype=lib.float64))),
            F.jacobian(lambda a, b: f_two(lib, a, b), (x, w)),
            F.jacobian(lambda a, b: (f_two(lib, a, b), a * 2), (x, w)),
        ), A, B)
    assert_same_structure(m, t)


def test_hessian_and_hvp():
    m, t = both(lambda lib, F, x: (
        F.hessian(lambda a: (a ** 3 * a.sin()).sum(), x),
        F.hvp(lambda a: (a ** 3).sum() * a.exp().sum(), x, lib.ones(3, dtype=lib.float64)),
        F.vhp(lambda a: (a ** 3).sum(), x, x.detach()),
    ), A)
    assert_same_structure(m, t)
    m, t = both(lambda lib, F, x, w: F.hessian(lambda a, b: (f_two(lib, a, b) ** 2).sum(), (x, w)), A, B)
    assert_same_structure(m, t)


def test_jacobian_with_create_graph_is_differentiable():
    m, t = both(lambda lib, F, x: lib.autograd.grad(
        F.jacobian(lambda a: f_vec(lib, a), x, create_graph=True).sum(), x)[0], A)
    assert_same_structure(m, t)


def test_grad_with_non_leaf_inputs_and_allow_unused():
    res = {}
    for lib in (mg, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        u = lib.tensor([3.0], requires_grad=True)
        h = x * 2
        y = (h * h).sum()
        gh, gx, gu = lib.autograd.grad(y, (h, x, u), allow_unused=True)
        assert gu is None and x.grad is None
        res[lib.__name__] = (gh.tolist(), gx.tolist())
    assert res["minigrad"] == res["torch"]
    for lib in (mg, torch):
        with pytest.raises(RuntimeError, match="not have been used in the graph"):
            a, b = lib.ones(1, requires_grad=True), lib.ones(1, requires_grad=True)
            lib.autograd.grad((a * 2).sum(), (a, b))


def test_grad_outputs_and_multiple_outputs():
    res = {}
    for lib in (mg, torch):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y1, y2 = x * x, x.exp()
        (g,) = lib.autograd.grad((y1, y2), x, grad_outputs=(lib.ones(3), lib.tensor([1.0, 0.0, 2.0])))
        res[lib.__name__] = g.tolist()
    np.testing.assert_allclose(res["minigrad"], res["torch"], rtol=1e-6)


def test_million_op_chain_has_no_recursion_limit():
    """Iterative backward: far deeper than Python's recursion limit (1,000)."""
    x = mg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad.item() == 1.0


def test_diamond_graph_sums_both_paths():
    res = {}
    for lib in (mg, torch):
        x = lib.tensor([1.5], requires_grad=True)
        a = x.exp()
        b, c = a * 2, a.sin()
        (b * c).sum().backward()
        res[lib.__name__] = x.grad.item()
    assert res["minigrad"] == pytest.approx(res["torch"], rel=1e-6)


@pytest.mark.parametrize("order", ["direct_first", "shared_first"])
def test_gradient_sums_never_change_a_gradient_that_another_edge_holds(order):
    """The engine adds later contributions into a sum it made itself, in place. A sum handed on
    by a backward (Add gives the same tensor to both inputs) must not be added into, nor the
    caller's own gradient= tensor."""
    res = {}
    for lib in (mg, torch):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = lib.tensor([0.5, -1.0, 4.0], requires_grad=True)
        u, v = x * 2, y * 3
        n = u + v
        m = n + n  # n receives two contributions: a sum of the engine's own
        out = m + u + v if order == "direct_first" else u + v + m
        up = lib.tensor([1.0, 10.0, 100.0])
        out.backward(up)
        res[lib.__name__] = (x.grad.numpy().copy(), y.grad.numpy().copy(), up.numpy().copy())
    for got, want in zip(res["minigrad"], res["torch"]):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(res["minigrad"][0], [6.0, 60.0, 600.0])  # 2 * (2 + 1) * up


# -- dtypes and promotion ----------------------------------------------------------------------
VALUES = {
    "f32": lambda lib: lib.tensor([1.5, 2.0]),
    "f64": lambda lib: lib.tensor([1.5, 2.0], dtype=lib.float64),
    "i64": lambda lib: lib.tensor([1, 2]),
    "bool": lambda lib: lib.tensor([True, False]),
    "f64_0d": lambda lib: lib.tensor(2.5, dtype=lib.float64),
    "i64_0d": lambda lib: lib.tensor(3),
    "f32_0d": lambda lib: lib.tensor(2.5),
    "py_float": lambda lib: 2.5,
    "py_int": lambda lib: 3,
    "py_bool": lambda lib: True,
}


@pytest.mark.parametrize("a", [k for k in VALUES if not k.startswith("py")])
@pytest.mark.parametrize("b", list(VALUES))
@pytest.mark.parametrize("op", ["add", "mul", "div", "lt"])
def test_type_promotion_matches_torch(a, b, op):
    fn = {"add": lambda x, y: x + y, "mul": lambda x, y: x * y, "div": lambda x, y: x / y,
          "lt": lambda x, y: x < y}[op]
    m = fn(VALUES[a](mg), VALUES[b](mg))
    t = fn(VALUES[a](torch), VALUES[b](torch))
    assert m.dtype.name == str(t.dtype).replace("torch.", "")
    np.testing.assert_allclose(m.numpy().astype(float), t.numpy().astype(float), rtol=1e-6)


def test_creation_functions_default_dtypes_like_torch():
    for make in (lambda lib: lib.tensor([1.0, 2.0]), lambda lib: lib.tensor([1, 2]),
                 lambda lib: lib.tensor(True), lambda lib: lib.tensor(np.array([1.0])),
                 lambda lib: lib.zeros(2, 3), lambda lib: lib.ones((2,)), lambda lib: lib.arange(5),
                 lambda lib: lib.arange(0, 1, 0.25), lambda lib: lib.full((2,), 7),
                 lambda lib: lib.full((2,), 7.0), lambda lib: lib.rand(3), lambda lib: lib.randn(2, 2),
                 lambda lib: lib.zeros_like(lib.tensor([1, 2])), lambda lib: lib.ones_like(lib.ones(2)),
                 lambda lib: lib.tensor(3.0), lambda lib: lib.eye(2), lambda lib: lib.linspace(0, 1, 5)):
        m, t = make(mg), make(torch)
        assert m.dtype.name == str(t.dtype).replace("torch.", ""), (m, t)
        assert tuple(m.shape) == tuple(t.shape)
    assert mg.tensor(3.0).ndim == 0 and mg.tensor(3.0).item() == 3.0
    np.testing.assert_array_equal(mg.arange(0, 1, 0.25).numpy(), torch.arange(0, 1, 0.25).numpy())


def test_manual_seed_makes_random_tensors_reproducible():
    mg.manual_seed(7)
    a = mg.randn(3)
    mg.manual_seed(7)
    assert a.tolist() == mg.randn(3).tolist()


def test_tensor_metadata_methods():
    for lib in (mg, torch):
        x = lib.tensor([[1.0, 2.0], [3.0, 4.0]])
        assert x.ndim == 2 and x.numel() == 4 and x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
        assert x.sum().item() == 10.0 and len(x) == 2 and str(x.device) == "cpu"
        assert x.numpy().shape == (2, 2)
    with pytest.raises(RuntimeError, match="Use tensor.detach\\(\\).numpy\\(\\)"):
        mg.ones(1, requires_grad=True).numpy()
    assert repr(mg.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"


def test_cuda_request_without_gpu_gives_clear_error():
    if mg.cuda.is_available():
        pytest.skip("a GPU is present: the error path does not apply")
    with pytest.raises(RuntimeError, match=r"device 'cuda' needs CuPy and an NVIDIA GPU; none found\. Use device='cpu'\."):
        mg.tensor([1.0], device="cuda")
    with pytest.raises(RuntimeError, match="needs CuPy"):
        mg.ones(2).to("cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not mg.cuda.is_available(), reason="needs CuPy and a CUDA GPU")
def test_cuda_round_trip_and_gradients():
    x = mg.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    y = (x * x).sum()
    y.backward()
    assert x.device == "cuda" and x.grad.device == "cuda"
    assert x.grad.cpu().tolist() == [2.0, 4.0]
    w = mg.ones(3, requires_grad=True)
    (w.to("cuda") * 3).sum().backward()
    assert w.grad.device == "cpu" and w.grad.tolist() == [3.0] * 3
