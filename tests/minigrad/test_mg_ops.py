"""Every operation against torch in float64: random broadcastable shapes and values (hypothesis),
forward values and gradients (random upstream vectors), inputs never mutated."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from mg_strategies import SETTINGS, broadcastable, check, distinct, floats, shape

BINARY = {
    "add": lambda lib, a, b: a + b,
    "sub": lambda lib, a, b: a - b,
    "mul": lambda lib, a, b: a * b,
    "div": lambda lib, a, b: a / b,
    "pow": lambda lib, a, b: a ** b,
    "maximum": lambda lib, a, b: lib.maximum(a, b),
    "minimum": lambda lib, a, b: lib.minimum(a, b),
    "add_fn": lambda lib, a, b: lib.add(a, b),
    "mul_fn": lambda lib, a, b: lib.mul(a, b),
    "max_binary": lambda lib, a, b: lib.max(a, b),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(data=st.data())
def test_binary_broadcasting(name, data):
    shapes = data.draw(broadcastable()).input_shapes
    lo = 0.5 if name in ("div", "pow") else -3.0  # keep away from poles and negative bases
    a = data.draw(floats(lo, 3.0, shapes[0]))
    b = data.draw(floats(lo if name == "div" else -3.0, 3.0, shapes[1]))
    check(BINARY[name], a, b)


REFLECTED = {
    "radd": lambda lib, a: 2.5 + a,
    "rsub": lambda lib, a: 2.5 - a,
    "rmul": lambda lib, a: 2.5 * a,
    "rdiv": lambda lib, a: 2.5 / a,
    "rpow": lambda lib, a: 2.0 ** a,
    "pow_scalar": lambda lib, a: a ** 3,
    "pow_half": lambda lib, a: a ** 0.5,
    "pow_zero": lambda lib, a: a ** 0,
    "scalar_div": lambda lib, a: a / 4,
}


@pytest.mark.parametrize("name", sorted(REFLECTED))
@SETTINGS
@given(data=st.data())
def test_scalar_operands(name, data):
    a = data.draw(floats(0.5, 3.0, data.draw(shape())))
    check(REFLECTED[name], a)


UNARY = {
    "neg": (lambda lib, a: -a, -3, 3),
    "neg_fn": (lambda lib, a: lib.neg(a), -3, 3),
    "exp": (lambda lib, a: a.exp(), -3, 3),
    "log": (lambda lib, a: a.log(), 0.1, 3),
    "sin": (lambda lib, a: lib.sin(a), -3, 3),
    "cos": (lambda lib, a: lib.cos(a), -3, 3),
    "tanh": (lambda lib, a: a.tanh(), -3, 3),
    "sigmoid": (lambda lib, a: lib.sigmoid(a), -8, 8),
    "relu": (lambda lib, a: a.relu(), -3, 3),
    "abs": (lambda lib, a: a.abs(), -3, 3),
    "sqrt": (lambda lib, a: a.sqrt(), 0.1, 3),
    "clamp": (lambda lib, a: a.clamp(-1.0, 1.5), -3, 3),
    "clamp_min": (lambda lib, a: lib.clamp(a, min=0.0), -3, 3),
    "clamp_max": (lambda lib, a: a.clamp(max=0.5), -3, 3),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(data=st.data())
def test_unary(name, data):
    fn, lo, hi = UNARY[name]
    check(fn, data.draw(floats(lo, hi, data.draw(shape()))))


@pytest.mark.parametrize("name", ["relu", "abs", "clamp"])
def test_kinks_take_torchs_one_sided_value(name):
    """relu'(0) = 0, abs'(0) = 0, clamp passes the gradient at its bounds: as torch."""
    check(UNARY[name][0], np.array([-1.0, 0.0, 1.0, 1.5, -1.0 + 0.0]))


def test_maximum_ties_split_the_gradient():
    check(BINARY["maximum"], np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0]))


@SETTINGS
@given(data=st.data(), keepdim=st.booleans())
def test_sum_mean_over_dims(data, keepdim):
    s = data.draw(shape(min_dims=1))
    a = data.draw(floats(shape=s))
    dims = data.draw(st.lists(st.integers(-len(s), len(s) - 1), min_size=1, max_size=len(s),
                              unique_by=lambda d: d % len(s)))
    dim = dims[0] if len(dims) == 1 else tuple(dims)
    check(lambda lib, x: x.sum(dim=dim, keepdim=keepdim), a)
    check(lambda lib, x: lib.mean(x, dim=dim, keepdim=keepdim), a)


@SETTINGS
@given(data=st.data())
def test_full_reductions(data):
    a = data.draw(floats(shape=data.draw(shape())))
    check(lambda lib, x: x.sum(), a)
    check(lambda lib, x: x.mean(), a)
    check(lambda lib, x: lib.sum(x * x), a)


@SETTINGS
@given(data=st.data(), keepdim=st.booleans())
def test_max_min_with_dim_return_values_and_indices(data, keepdim):
    s = data.draw(shape(min_dims=1))
    a = data.draw(distinct(s))
    dim = data.draw(st.integers(-len(s), len(s) - 1))
    check(lambda lib, x: x.max(dim=dim, keepdim=keepdim), a)
    check(lambda lib, x: tuple(lib.min(x, dim, keepdim)), a)
    check(lambda lib, x: x.max(dim).values * 2, a)


@SETTINGS
@given(data=st.data())
def test_max_over_everything_shares_ties(data):
    a = data.draw(floats(shape=data.draw(shape())))  # repeats are likely: ties share evenly
    check(lambda lib, x: x.max(), a)
    check(lambda lib, x: lib.min(x), a)


@SETTINGS
@given(data=st.data(), keepdim=st.booleans())
def test_softmax_family(data, keepdim):
    s = data.draw(shape(min_dims=1))
    a = data.draw(floats(-5, 5, s))
    dim = data.draw(st.integers(-len(s), len(s) - 1))
    check(lambda lib, x: x.softmax(dim), a)
    check(lambda lib, x: lib.softmax(x, dim=dim), a)
    check(lambda lib, x: lib.log_softmax(x, dim), a)
    check(lambda lib, x: x.logsumexp(dim, keepdim=keepdim), a)
    check(lambda lib, x: lib.logsumexp(x, dim=(dim,)), a)


@SETTINGS
@given(data=st.data())
def test_matmul_shapes(data):
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    batch = data.draw(broadcastable(max_dims=2, max_side=3)).input_shapes
    kind = data.draw(st.sampled_from(["mm", "mv", "vm", "vv", "batched"]))
    sa, sb = {"mm": ((n, k), (k, m)), "mv": ((n, k), (k,)), "vm": ((k,), (k, m)),
              "vv": ((k,), (k,)), "batched": (batch[0] + (n, k), batch[1] + (k, m))}[kind]
    a, b = data.draw(floats(shape=sa)), data.draw(floats(shape=sb))
    check(lambda lib, x, y: x @ y, a, b)
    check(lambda lib, x, y: lib.matmul(x, y), a, b)


@SETTINGS
@given(data=st.data())
def test_where_broadcasts(data):
    s = data.draw(broadcastable(num_shapes=3)).input_shapes
    cond = data.draw(floats(shape=s[0])) > 0
    a, b = data.draw(floats(shape=s[1])), data.draw(floats(shape=s[2]))
    check(lambda lib, c, x, y: lib.where(c, x, y), cond, a, b)
    check(lambda lib, c, x: lib.where(c, x, 0.0), cond, a)


@SETTINGS
@given(data=st.data())
def test_reshape_family(data):
    s = data.draw(shape(min_dims=1))
    a = data.draw(floats(shape=s))
    n = a.size
    check(lambda lib, x: x.reshape(n), a)
    check(lambda lib, x: x.reshape(-1, 1) * 2, a)
    check(lambda lib, x: x.view(n, 1), a)
    check(lambda lib, x: x.flatten(), a)
    check(lambda lib, x: lib.flatten(x, 0, -1), a)
    check(lambda lib, x: x.unsqueeze(0).unsqueeze(-1), a)
    check(lambda lib, x: lib.unsqueeze(x, 1).squeeze(), a)
    check(lambda lib, x: x.reshape((1,) + s).squeeze(0), a)


@SETTINGS
@given(data=st.data())
def test_transpose_permute(data):
    s = data.draw(shape(min_dims=2))
    a = data.draw(floats(shape=s))
    perm = data.draw(st.permutations(range(len(s))))
    check(lambda lib, x: x.permute(*perm), a)
    check(lambda lib, x: lib.permute(x, tuple(perm)), a)
    check(lambda lib, x: x.transpose(0, -1), a)
    check(lambda lib, x: lib.transpose(x, 0, 1), a)
    check(lambda lib, x: x.mT, a)
    if len(s) == 2:
        check(lambda lib, x: x.T, a)


@SETTINGS
@given(data=st.data())
def test_expand(data):
    shapes = data.draw(broadcastable()).input_shapes
    target = np.broadcast_shapes(*shapes)
    a = data.draw(floats(shape=shapes[0]))
    if target:
        check(lambda lib, x: x.expand(*target), a)
    check(lambda lib, x: x.expand(target) * 3, a)


@SETTINGS
@given(data=st.data())
def test_basic_indexing(data):
    s = data.draw(shape(min_dims=1))
    a = data.draw(floats(shape=s))
    i = data.draw(st.integers(-s[0], s[0] - 1))
    start = data.draw(st.integers(0, s[0] - 1))
    check(lambda lib, x: x[i], a)
    check(lambda lib, x: x[start:], a)
    check(lambda lib, x: x[::2], a)
    check(lambda lib, x: x[..., 0], a)
    check(lambda lib, x: x[None, start:start + 2], a)


@SETTINGS
@given(data=st.data())
def test_advanced_indexing_with_repeats_and_masks(data):
    s = data.draw(shape(min_dims=1))
    a = data.draw(floats(shape=s))
    idx = data.draw(st.lists(st.integers(-s[0], s[0] - 1), min_size=1, max_size=6))
    check(lambda lib, x: x[idx], a)  # repeated indices: gradients add up
    check(lambda lib, x, i: x[i], a, np.array(idx))
    mask = data.draw(floats(shape=s)) > 0
    check(lambda lib, x, m: x[m], a, mask)
    check(lambda lib, x: x[a > 0], a)
    if len(s) >= 2:
        check(lambda lib, x: x[idx, 0], a)
        check(lambda lib, x: x[:, [0, 0]], a)


@SETTINGS
@given(data=st.data())
def test_cat_stack(data):
    s = data.draw(shape(min_dims=1))
    dim = data.draw(st.integers(-len(s), len(s) - 1))
    a, b = data.draw(floats(shape=s)), data.draw(floats(shape=s))
    longer = list(s)
    longer[dim] += 1
    c = data.draw(floats(shape=tuple(longer)))
    check(lambda lib, x, y, z: lib.cat([x, y, z], dim=dim), a, b, c)
    check(lambda lib, x, y: lib.stack([x, y], dim=dim), a, b)
    check(lambda lib, x, y: lib.stack((x, y, x), -1), a, b)


@SETTINGS
@given(data=st.data())
def test_comparisons_give_bool_tensors(data):
    shapes = data.draw(broadcastable()).input_shapes
    a, b = data.draw(floats(shape=shapes[0])), data.draw(floats(shape=shapes[1]))
    for fn in (lambda lib, x, y: x < y, lambda lib, x, y: x <= y, lambda lib, x, y: x > y,
               lambda lib, x, y: x >= y, lambda lib, x, y: x == y, lambda lib, x, y: x != y,
               lambda lib, x, y: lib.gt(x, y), lambda lib, x, y: (x > 0) & (y > 0)):
        check(fn, a, b)
        assert fn(mg, mg.tensor(a), mg.tensor(b)).dtype is mg.bool


@SETTINGS
@given(data=st.data())
def test_composite_expressions(data):
    """Several ops chained, with a shared input (gradients from both paths add up)."""
    shapes = data.draw(broadcastable()).input_shapes
    a, b = data.draw(floats(shape=shapes[0])), data.draw(floats(0.5, 2, shape=shapes[1]))
    check(lambda lib, x, y: ((x * y).tanh() + x.exp() / y).sum() * x.mean(), a, b)
    check(lambda lib, x, y: lib.sigmoid(x - y) ** 2 + (x * x).relu(), a, b)


def test_float32_against_torch():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    r = check(lambda lib, x, y: ((x @ y).tanh() * 2 + x.sum(0) @ y).sum(), a, b)
    assert r.max_abs_err < 1e-4


def _first_grad(op):
    """fn(lib, *xs) -> the gradient of sum(op * weights) wrt the first input, differentiable:
    compare_with_torch then backpropagates through it, which checks the second derivatives."""
    def fn(lib, *xs):
        out = op(lib, *xs)
        weights = lib.linspace(0.5, 1.5, out.numel(), dtype=out.dtype).reshape(out.shape)
        return lib.autograd.grad((out * weights).sum(), xs, create_graph=True)
    return fn


SECOND_ORDER = {**{k: (v[0], v[1], v[2]) for k, v in UNARY.items()},
                "softmax": (lambda lib, a: lib.softmax(a, dim=-1), -3, 3),
                "log_softmax": (lambda lib, a: a.log_softmax(-1), -3, 3),
                "logsumexp": (lambda lib, a: a.logsumexp(-1), -3, 3),
                "mean_sq": (lambda lib, a: (a * a).mean(0), -3, 3),
                "max": (lambda lib, a: a.max(-1).values ** 2, -3, 3),
                "pow_rev": (lambda lib, a: 2.0 ** a, -3, 3)}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_derivatives_match_torch(name):
    """Backward rules are written with minigrad ops, so they differentiate again like torch's."""
    op, lo, hi = SECOND_ORDER[name]
    a = np.linspace(lo, hi, 12).reshape(3, 4) + 0.013  # avoid the kinks at exactly 0
    check(_first_grad(op), a)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_second_derivatives_of_binary_ops(name):
    a = np.linspace(0.5, 2.5, 6).reshape(2, 3)
    b = np.linspace(2.0, 0.7, 3)
    check(_first_grad(BINARY[name]), a, b)
    check(_first_grad(lambda lib, x, y: x @ y.reshape(3, 1)), a, b)


@SETTINGS
@given(data=st.data())
def test_linear_first_and_second_order(data):
    n, i, o = (data.draw(st.integers(1, 4)) for _ in range(3))
    lead = data.draw(st.sampled_from([(), (2,)]))
    x = data.draw(floats(shape=lead + (n, i)))
    w, b = data.draw(floats(shape=(o, i))), data.draw(floats(shape=(o,)))
    check(lambda lib, x, w, b: lib.nn.functional.linear(x, w, b), x, w, b)
    check(_first_grad(lambda lib, x, w, b: lib.nn.functional.linear(x, w, b).tanh()), x, w, b)
    check(_first_grad(lambda lib, x, w: lib.nn.functional.linear(x, w).sigmoid()), x, w)
    check(_first_grad(lambda lib, x, w: lib.nn.functional.mse_loss(
        lib.nn.functional.linear(x, w), lib.zeros(*x.shape[:-1], o, dtype=x.dtype) + 0.5)), x, w)
