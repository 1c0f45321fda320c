"""Conformance: PyTorch's documented autograd behaviours (the "Autograd mechanics" notes, the
torch.autograd and torch.autograd.functional docs, the behaviours of issue 11) and the seeds'
snippets, each run in both libraries through `conformance.check`."""
import copy
import pickle

import pytest
import torch

from conformance import check

CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def leaf(lib, values=(1.0, 2.0, 3.0), **kw):
    return lib.tensor(list(values), requires_grad=True, **kw)


# ---------------------------------------------------------------- graph basics and flags
@case
def requires_grad_default_false(lib):
    return lib.tensor([1.0]).requires_grad, lib.ones(2).requires_grad


@case
def op_on_requires_grad_records(lib):
    x = leaf(lib)
    y = x * 2
    return y, y.is_leaf, x.is_leaf


@case
def op_without_grad_is_leaf(lib):
    y = lib.ones(2) * 2
    return y, y.grad_fn is None, y.is_leaf


@case
def mixed_inputs_require_grad(lib):
    return lib.ones(3) + leaf(lib)


@case
def int_tensor_cannot_require_grad(lib):
    return lib.tensor([1, 2], requires_grad=True)


@case
def int_requires_grad_method(lib):
    return lib.tensor([1, 2]).requires_grad_()


@case
def requires_grad_false_on_non_leaf(lib):
    return (leaf(lib) * 2).requires_grad_(False)


@case
def requires_grad_true_on_non_leaf(lib):
    return (leaf(lib) * 2).requires_grad_(True)


@case
def requires_grad_toggle_leaf(lib):
    x = lib.ones(2)
    x.requires_grad_()
    a = x.requires_grad
    x.requires_grad_(False)
    return a, x.requires_grad


@case
def comparison_has_no_grad(lib):
    x = leaf(lib)
    return x > 1, (x > 1).requires_grad


@case
def argmax_has_no_grad(lib):
    return leaf(lib).argmax()


@case
def float_cast_of_int_is_leaf(lib):
    return lib.tensor([1, 2]).float()


# ---------------------------------------------------------------- backward
@case
def backward_scalar(lib):
    x = leaf(lib)
    (x * x).sum().backward()
    return x.grad


@case
def backward_non_scalar_needs_gradient(lib):
    (leaf(lib) * 2).backward()


@case
def backward_with_gradient(lib):
    x = leaf(lib)
    (x * x).backward(lib.tensor([1.0, 0.5, -1.0]))
    return x.grad


@case
def backward_gradient_wrong_shape(lib):
    (leaf(lib) * 2).backward(lib.ones(2))


@case
def backward_on_no_grad_tensor(lib):
    lib.ones(1).backward()


@case
def backward_accumulates(lib):
    x = leaf(lib)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    return x.grad


@case
def grad_set_none_restarts(lib):
    x = leaf(lib)
    (x * x).sum().backward()
    x.grad = None
    (x * 3).sum().backward()
    return x.grad


@case
def grad_zero_in_place(lib):
    x = leaf(lib)
    (x * x).sum().backward()
    x.grad.zero_()
    return x.grad


@case
def del_grad(lib):
    x = leaf(lib)
    (x * 2).sum().backward()
    del x.grad
    return x.grad


@case
def grad_assign_wrong_shape(lib):
    x = leaf(lib)
    x.grad = lib.zeros(2)


@case
def grad_assign_wrong_dtype(lib):
    x = leaf(lib)
    x.grad = lib.zeros(3, dtype=lib.float64)


@case
def grad_assign_not_tensor(lib):
    x = leaf(lib)
    x.grad = [1.0, 2.0, 3.0]


@case
def grad_assign_then_accumulate(lib):
    x = leaf(lib)
    x.grad = lib.ones(3)
    (x * 2).sum().backward()
    return x.grad


@case
def non_leaf_grad_warns(lib):
    y = leaf(lib) * 2
    y.sum().backward()
    return y.grad


@case
def second_backward_raises(lib):
    x = leaf(lib)
    y = (x.exp() * x).sum()
    y.backward()
    y.backward()


@case
def retain_graph_second_backward(lib):
    x = leaf(lib)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    return x.grad


@case
def graph_without_saved_tensors_reusable(lib):
    x = leaf(lib)
    y = (x + 1).sum()
    y.backward()
    y.backward()
    return x.grad


@case
def shared_subexpression(lib):
    x = leaf(lib)
    a = x * x
    (a + a * a).sum().backward()
    return x.grad


@case
def diamond(lib):
    x = leaf(lib)
    a = x.exp()
    (a.sin() * a.cos()).sum().backward()
    return x.grad


@case
def same_input_twice(lib):
    x = leaf(lib)
    (x * x * x).sum().backward()
    return x.grad


@case
def unused_leaf_grad_stays_none(lib):
    x, w = leaf(lib), leaf(lib)
    (x * 2).sum().backward()
    return w.grad


@case
def backward_inputs_argument(lib):
    x, w = leaf(lib), leaf(lib)
    (x * w).sum().backward(inputs=[w])
    return x.grad, w.grad


@case
def backward_inputs_non_leaf(lib):
    x = leaf(lib)
    h = x * 2
    (h * h).sum().backward(inputs=[h])
    return h.grad, x.grad


@case
def autograd_backward_function(lib):
    x = leaf(lib)
    lib.autograd.backward([(x * x).sum()])
    return x.grad


@case
def backward_through_detach_stops(lib):
    x = leaf(lib)
    (x.detach() * x).sum().backward()
    return x.grad


@case
def long_chain_no_recursion(lib):
    x = leaf(lib)
    y = x
    for _ in range(3000):
        y = y * 1.0001
    y.sum().backward()
    return x.grad


@case
def broadcast_grad_summed(lib):
    x = lib.ones(2, 3, requires_grad=True)
    b = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    ((x + b) * b).sum().backward()
    return x.grad, b.grad


@case
def scalar_times_tensor_grad(lib):
    s = lib.tensor(2.0, requires_grad=True)
    x = leaf(lib)
    (s * x).sum().backward()
    return s.grad, x.grad


@case
def float64_grad_dtype(lib):
    x = leaf(lib, dtype=lib.float64)
    (x * x).sum().backward()
    return x.grad


@case
def mixed_dtype_grads(lib):
    x = leaf(lib, dtype=lib.float64)
    w = leaf(lib)
    (x * w).sum().backward()
    return x.grad, w.grad


# ---------------------------------------------------------------- autograd.grad
@case
def grad_basic(lib):
    x = leaf(lib)
    return lib.autograd.grad((x * x).sum(), x)


@case
def grad_does_not_touch_dot_grad(lib):
    x = leaf(lib)
    lib.autograd.grad((x * x).sum(), x)
    return x.grad


@case
def grad_unused_raises(lib):
    x, w = leaf(lib), leaf(lib)
    lib.autograd.grad((x * 2).sum(), [x, w])


@case
def grad_allow_unused(lib):
    x, w = leaf(lib), leaf(lib)
    return lib.autograd.grad((x * 2).sum(), [x, w], allow_unused=True)


@case
def grad_materialize(lib):
    x, w = leaf(lib), leaf(lib)
    return lib.autograd.grad((x * 2).sum(), [x, w], materialize_grads=True)


@case
def grad_of_non_leaf(lib):
    x = leaf(lib)
    h = x * 2
    return lib.autograd.grad((h * h).sum(), h)


@case
def grad_frees_only_what_it_used(lib):
    x = leaf(lib)
    h = x.exp()
    y = (h * h).sum()
    g = lib.autograd.grad(y, h)
    h.sum().backward()
    return g, x.grad


@case
def grad_input_without_grad(lib):
    x = lib.ones(2)
    lib.autograd.grad((leaf(lib) * 2).sum(), x)


@case
def grad_outputs_argument(lib):
    x = leaf(lib)
    return lib.autograd.grad(x * x, x, grad_outputs=lib.tensor([1.0, 0.0, 2.0]))


@case
def grad_create_graph_second_order(lib):
    x = leaf(lib)
    (g,) = lib.autograd.grad((x ** 3).sum(), x, create_graph=True)
    (gg,) = lib.autograd.grad(g.sum(), x)
    return g, gg


@case
def grad_create_graph_flags(lib):
    x = leaf(lib)
    (g,) = lib.autograd.grad((x * x).sum(), x, create_graph=True)
    return g.requires_grad, g.grad_fn is not None


@case
def grad_without_create_graph_is_constant(lib):
    x = leaf(lib)
    (g,) = lib.autograd.grad((x * x).sum(), x)
    return g.requires_grad


@case
def double_backward_tanh(lib):
    x = leaf(lib)
    (g,) = lib.autograd.grad(x.tanh().sum(), x, create_graph=True)
    g.sum().backward()
    return x.grad


@case
def double_backward_sigmoid(lib):
    x = leaf(lib)
    (g,) = lib.autograd.grad(x.sigmoid().sum(), x, create_graph=True)
    g.sum().backward()
    return x.grad


@case
def backward_create_graph_grad_is_graph(lib):
    x = leaf(lib)
    (x ** 2).sum().backward(create_graph=True)
    return x.grad.requires_grad


# ---------------------------------------------------------------- grad modes
@case
def no_grad_context(lib):
    x = leaf(lib)
    with lib.no_grad():
        y = x * 2
    return y, y.requires_grad


@case
def no_grad_decorator(lib):
    @lib.no_grad()
    def f(x):
        return x * 2

    return f(leaf(lib)).requires_grad


@case
def no_grad_bare_decorator(lib):
    @lib.no_grad
    def f(x):
        return x * 2

    return f(leaf(lib)).requires_grad


@case
def no_grad_on_generator(lib):
    @lib.no_grad()
    def gen():
        yield lib.is_grad_enabled()
        yield lib.is_grad_enabled()

    return list(gen()), lib.is_grad_enabled()


@case
def enable_grad_inside_no_grad(lib):
    x = leaf(lib)
    with lib.no_grad():
        with lib.enable_grad():
            y = x * 2
    return y.requires_grad


@case
def set_grad_enabled_context(lib):
    x = leaf(lib)
    with lib.set_grad_enabled(False):
        y = x * 2
    return y.requires_grad, lib.is_grad_enabled()


@case
def set_grad_enabled_function(lib):
    lib.set_grad_enabled(False)
    state = lib.is_grad_enabled()
    lib.set_grad_enabled(True)
    return state, lib.is_grad_enabled()


@case
def set_grad_enabled_decorator(lib):
    @lib.set_grad_enabled(False)
    def f(x):
        return (x * 2).requires_grad

    outside = lib.is_grad_enabled()
    return outside, f(leaf(lib)), lib.is_grad_enabled()


@case
def set_grad_enabled_decorator_on_generator(lib):
    @lib.set_grad_enabled(False)
    def gen():
        yield lib.is_grad_enabled()

    return list(gen()), lib.is_grad_enabled()


@case
def deepcopy_module(lib):
    lin = lib.nn.Linear(2, 1)
    twin = copy.deepcopy(lin)
    with lib.no_grad():
        twin.weight.fill_(0.0)
    return bool((lin.weight != 0).any()), twin.weight, type(twin.weight).__name__


@case
def no_grad_restores_on_error(lib):
    try:
        with lib.no_grad():
            raise ValueError
    except ValueError:
        pass
    return lib.is_grad_enabled()


@case
def numpy_of_requires_grad(lib):
    leaf(lib).numpy()


@case
def numpy_under_no_grad(lib):
    x = leaf(lib)
    with lib.no_grad():
        return x.numpy().tolist()


@case
def detach_numpy(lib):
    return leaf(lib).detach().numpy().tolist()


@case
def requires_grad_in_no_grad_creation(lib):
    with lib.no_grad():
        x = leaf(lib)
    return x.requires_grad


# ---------------------------------------------------------------- detach, data, versions
@case
def detach_flags(lib):
    d = (leaf(lib) * 2).detach()
    return d, d.requires_grad, d.is_leaf


@case
def detach_shares_memory(lib):
    x = leaf(lib)
    d = x.detach()
    d.add_(1)
    return x


@case
def detach_shares_version(lib):
    x = leaf(lib)
    y = x.exp()
    x.detach().add_(1)
    y.sum().backward()


@case
def data_is_tensor_outside_graph(lib):
    x = leaf(lib)
    d = x.data
    return d, d.requires_grad, d.is_leaf


@case
def data_shares_memory(lib):
    x = leaf(lib)
    x.data.mul_(2)
    return x


@case
def data_does_not_bump_version(lib):
    x = leaf(lib)
    y = x.exp()
    x.data.add_(1)
    y.sum().backward()
    return x.grad


@case
def data_norm_seed(lib):
    y = leaf(lib) * 2
    return y.data.sum()


@case
def detach_in_place(lib):
    y = leaf(lib) * 2
    y.detach_()
    return y, y.requires_grad, y.is_leaf


@case
def version_counter_starts_at_zero(lib):
    x = lib.ones(2)
    x.add_(1)
    x.mul_(2)
    return x


@case
def saved_tensor_modified_raises(lib):
    x = leaf(lib)
    a = x * 1
    y = a * a
    a.add_(1)
    y.sum().backward()


@case
def saved_output_modified_raises(lib):
    x = leaf(lib)
    y = x.exp()
    y.add_(1)
    y.sum().backward()


@case
def unsaved_tensor_modified_is_fine(lib):
    x = leaf(lib)
    a = x * 1
    y = a + 2
    a.add_(1)
    y.sum().backward()
    return x.grad


# ---------------------------------------------------------------- in-place operations
@case
def in_place_on_leaf_raises(lib):
    leaf(lib).add_(1)


@case
def in_place_on_leaf_under_no_grad(lib):
    x = leaf(lib)
    with lib.no_grad():
        x.mul_(2)
    return x, x.is_leaf


@case
def in_place_on_non_leaf_records(lib):
    x = leaf(lib)
    a = x * 1
    a.mul_(3)
    a.sum().backward()
    return a, x.grad


@case
def in_place_makes_leaf_a_node(lib):
    a = lib.zeros(3)
    a.add_(leaf(lib))
    a.sum().backward()
    return a, a.is_leaf


@case
def in_place_add_alpha(lib):
    a = lib.ones(3)
    a.add_(lib.ones(3), alpha=2)
    return a


@case
def in_place_sub_div(lib):
    a = lib.ones(3)
    a.sub_(0.5)
    a.div_(2)
    return a


@case
def in_place_shape_mismatch(lib):
    lib.ones(3).add_(lib.ones(2, 3))


@case
def in_place_dtype_cannot_cast(lib):
    lib.ones(3, dtype=lib.int64).add_(1.5)


@case
def in_place_float64_into_float32(lib):
    a = lib.ones(3)
    a.add_(lib.ones(3, dtype=lib.float64))
    return a


@case
def fill_and_zero(lib):
    a = lib.ones(3)
    a.fill_(2.5)
    b = lib.ones(2)
    b.zero_()
    return a, b


@case
def copy_records_source(lib):
    x = leaf(lib)
    a = lib.zeros(3)
    a.copy_(x * 2)
    a.sum().backward()
    return a, x.grad


@case
def iadd_operator_non_leaf(lib):
    x = leaf(lib)
    a = x * 1
    a += 2
    a.sum().backward()
    return a, x.grad


@case
def retain_grad_then_in_place(lib):
    x = leaf(lib, (1.0, 2.0))
    a = x * 1
    a.retain_grad()
    a.mul_(2)
    a.sum().backward()
    return a.grad, x.grad


@case
def setitem_outside_graph(lib):
    a = lib.zeros(3)
    a[1] = 5.0
    return a


@case
def setitem_on_leaf_requiring_grad(lib):
    x = leaf(lib)
    x[0] = 1.0


# ---------------------------------------------------------------- views
@case
def slice_is_view(lib):
    a = lib.zeros(4)
    v = a[1:3]
    v.add_(1)
    return a


@case
def element_of_vector_is_view(lib):
    a = lib.zeros(3)
    a[1].add_(5)
    m = lib.zeros(2, 2)
    m[0, 1].fill_(2)
    return a, m


@case
def rows_of_iteration_are_views(lib):
    m = lib.zeros(2, 2)
    for row in m:
        row.add_(1)
    return m


@case
def base_change_seen_by_view(lib):
    a = lib.zeros(4)
    v = a[1:3]
    a.add_(1)
    return v


@case
def view_shares_version(lib):
    x = leaf(lib)
    a = x * 1
    y = a.exp()
    with lib.no_grad():
        a[0:1].mul_(2)
    y.sum().backward()


@case
def reshape_view_shares_memory(lib):
    a = lib.zeros(2, 2)
    a.reshape(4).add_(1)
    return a


@case
def transpose_view_shares_memory(lib):
    a = lib.zeros(2, 3)
    a.t().add_(1)
    return a


@case
def unsqueeze_view_shares_memory(lib):
    a = lib.zeros(3)
    a.unsqueeze(0).add_(1)
    return a


@case
def expand_sees_base_changes(lib):
    a = lib.ones(4)
    b = a.expand(2, 4)
    a.add_(1)
    return b


@case
def expand_then_in_place_raises(lib):
    lib.zeros(1).expand(3).add_(1)


@case
def expand_big_then_in_place_raises(lib):
    lib.zeros(1).expand(70000).add_(1)


@case
def view_of_leaf_in_place_raises(lib):
    x = leaf(lib)
    x[0:2].mul_(2)


@case
def view_made_before_requires_grad(lib):
    x = lib.zeros(3)
    v = x[:2]
    x.requires_grad_()
    v.add_(1)


@case
def view_of_leaf_under_no_grad(lib):
    x = leaf(lib)
    with lib.no_grad():
        x[0:2].mul_(2)
    return x


@case
def view_grad_flows_to_base(lib):
    x = leaf(lib)
    (x[1:] * 2).sum().backward()
    return x.grad


@case
def index_with_list_copies(lib):
    a = lib.zeros(3)
    b = a[[0, 1]]
    b.add_(1)
    return a, b


@case
def repeated_index_grad_adds(lib):
    x = leaf(lib)
    x[[0, 0, 2]].sum().backward()
    return x.grad


@case
def boolean_mask_grad(lib):
    x = leaf(lib)
    x[x > 1].sum().backward()
    return x.grad


# ---------------------------------------------------------------- hooks
@case
def hook_sees_gradient(lib):
    x = leaf(lib)
    seen = []
    x.register_hook(lambda g: seen.append(g.clone()))
    (x * 2).sum().backward()
    return seen


@case
def hook_replaces_leaf_gradient(lib):
    x = leaf(lib)
    x.register_hook(lambda g: g * 3)
    (x * 1).sum().backward()
    return x.grad


@case
def hook_on_non_leaf_changes_upstream(lib):
    x = leaf(lib)
    a = x * 2
    a.register_hook(lambda g: g * 10)
    a.sum().backward()
    return x.grad


@case
def hook_remove(lib):
    x = leaf(lib)
    h = x.register_hook(lambda g: g * 3)
    h.remove()
    (x * 1).sum().backward()
    return x.grad


@case
def hook_on_tensor_without_grad(lib):
    lib.ones(2).register_hook(lambda g: g)


@case
def hooks_run_in_order(lib):
    x = leaf(lib)
    x.register_hook(lambda g: g + 1)
    x.register_hook(lambda g: g * 2)
    (x * 1).sum().backward()
    return x.grad


@case
def retain_grad_after_hooks(lib):
    x = leaf(lib, (1.0, 2.0))
    a = x * 2
    a.retain_grad()
    a.register_hook(lambda g: g * 10)
    a.sum().backward()
    return a.grad, x.grad


@case
def hook_with_autograd_grad(lib):
    x = leaf(lib)
    x.register_hook(lambda g: g * 10)
    return lib.autograd.grad((x * 2).sum(), x)


@case
def hook_on_non_leaf_with_autograd_grad(lib):
    x = leaf(lib)
    a = x * 2
    a.register_hook(lambda g: g * 10)
    return lib.autograd.grad((a * 2).sum(), a)


@case
def hook_stays_with_old_value_after_in_place(lib):
    x = leaf(lib, (1.0, 2.0))
    a = x * 2
    seen = []
    a.register_hook(lambda g: seen.append(g.clone()))
    a.mul_(3)
    a.sum().backward()
    return seen, x.grad


@case
def retain_grad_flag(lib):
    x = leaf(lib)
    a = x * 2
    before = a.retains_grad
    a.retain_grad()
    return before, a.retains_grad, x.retains_grad


@case
def retain_grad_value(lib):
    x = leaf(lib)
    a = x * 3
    a.retain_grad()
    (a * a).sum().backward()
    return a.grad


@case
def retain_grad_without_grad(lib):
    lib.ones(2).retain_grad()


# ---------------------------------------------------------------- custom Functions
def _square(lib):
    class Square(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    return Square


@case
def function_forward_backward(lib):
    x = leaf(lib)
    y = _square(lib).apply(x)
    y.sum().backward()
    return y.requires_grad, y.is_leaf, x.grad


@case
def function_double_backward(lib):
    x = leaf(lib)
    (g,) = lib.autograd.grad(_square(lib).apply(x).sum(), x, create_graph=True)
    g.sum().backward()
    return x.grad


@case
def function_no_grad_input(lib):
    y = _square(lib).apply(lib.ones(2))
    return y, y.requires_grad


@case
def function_needs_input_grad(lib):
    seen = []

    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):
            return x * w

        @staticmethod
        def backward(ctx, g):
            seen.append(tuple(ctx.needs_input_grad))
            return g, g

    F.apply(leaf(lib), lib.ones(3)).sum().backward()
    return seen


@case
def function_trailing_nones(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2, None, None

    x = leaf(lib)
    F.apply(x).sum().backward()
    return x.grad


@case
def function_too_many_gradients(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2, g

    F.apply(leaf(lib)).sum().backward()


@case
def function_non_tensor_argument(lib):
    class Scale(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.k = k
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    x = leaf(lib)
    Scale.apply(x, 3.0).sum().backward()
    return x.grad


def _split(lib, mark=False, materialize=True):
    class Split(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(materialize)
            lo, hi = x * 2, x * 3
            if mark:
                ctx.mark_non_differentiable(hi)
            return lo, hi

        @staticmethod
        def backward(ctx, g_lo, g_hi):
            if g_hi is None:
                return g_lo * 2
            return g_lo * 2 + g_hi * 3

    return Split


@case
def function_two_outputs(lib):
    x = leaf(lib)
    lo, hi = _split(lib).apply(x)
    (lo.sum() + hi.sum()).backward()
    return lo, hi, x.grad


@case
def function_two_outputs_one_used(lib):
    x = leaf(lib)
    lo, hi = _split(lib).apply(x)
    hi.sum().backward()
    return x.grad


@case
def function_two_outputs_no_materialize(lib):
    x = leaf(lib)
    lo, hi = _split(lib, materialize=False).apply(x)
    lo.sum().backward()
    return x.grad


@case
def function_mark_non_differentiable(lib):
    x = leaf(lib)
    lo, hi = _split(lib, mark=True).apply(x)
    lo.sum().backward()
    return hi.requires_grad, hi.grad_fn is None, x.grad


@case
def function_outputs_feed_each_other(lib):
    x = leaf(lib)
    lo, hi = _split(lib).apply(x)
    (lo * hi).sum().backward()
    return x.grad


@case
def function_saved_output(lib):
    class Exp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    x = leaf(lib)
    (g,) = lib.autograd.grad(Exp.apply(x).sum(), x, create_graph=True)
    g.sum().backward()
    return x.grad


@case
def function_saved_modified_raises(lib):
    x = leaf(lib)
    a = x * 1
    y = _square(lib).apply(a)
    a.add_(1)
    y.sum().backward()


@case
def once_differentiable_first_order(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @lib.autograd.function.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = leaf(lib)
    F.apply(x).sum().backward()
    return x.grad


@case
def once_differentiable_twice_raises(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @lib.autograd.function.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = leaf(lib)
    (g,) = lib.autograd.grad(F.apply(x).sum(), x, create_graph=True)
    g.sum().backward()


@case
def once_differentiable_twice_through_product(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @lib.autograd.function.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = leaf(lib)
    (g,) = lib.autograd.grad((F.apply(x) * x).sum(), x, create_graph=True)
    first = g.detach().clone()
    g.sum().backward()
    return first


@case
def function_forward_runs_without_recording(lib):
    seen = []

    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            seen.append(lib.is_grad_enabled())
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g

    F.apply(leaf(lib))
    return seen


@case
def function_saved_after_backward_freed(lib):
    x = leaf(lib)
    y = _square(lib).apply(x)
    s = y.sum()
    s.backward()
    s.backward()


# ---------------------------------------------------------------- op gradients at edge points
@case
def relu_grad_at_zero(lib):
    x = leaf(lib, (-1.0, 0.0, 2.0))
    x.relu().sum().backward()
    return x.grad


@case
def abs_grad_at_zero(lib):
    x = leaf(lib, (-1.0, 0.0, 2.0))
    x.abs().sum().backward()
    return x.grad


@case
def sign_grad_is_zero(lib):
    x = leaf(lib, (-1.0, 0.0, 2.0))
    s = x.sign()
    s.sum().backward()
    return s, x.grad


@case
def clamp_grad_at_bounds(lib):
    x = leaf(lib, (0.0, 0.5, 1.0, 2.0))
    x.clamp(0.0, 1.0).sum().backward()
    return x.grad


@case
def clamp_tensor_bounds_grad(lib):
    x = leaf(lib, (1.0, 2.0, 3.0))
    lo = lib.tensor([2.0, 2.0, 2.0], requires_grad=True)
    hi = lib.tensor([2.5, 2.5, 2.5], requires_grad=True)
    y = lib.clamp(x, lo, hi)
    y.sum().backward()
    return y, x.grad, lo.grad, hi.grad


@case
def clamp_tensor_min_above_max(lib):
    x = leaf(lib, (1.0, 2.0, 3.0))
    lo = lib.tensor([2.0, 2.0, 2.0], requires_grad=True)
    hi = lib.tensor([1.5, 1.5, 1.5], requires_grad=True)
    y = lib.clamp(x, lo, hi)
    y.sum().backward()
    return y, x.grad, lo.grad, hi.grad


@case
def clamp_tensor_min_only(lib):
    x = leaf(lib, (1.0, 2.0, 3.0))
    y = lib.clamp(x, min=lib.tensor([2.0, 2.0, 2.0]))
    y.sum().backward()
    return y, x.grad


@case
def clamp_needs_a_bound(lib):
    lib.clamp(leaf(lib))


@case
def pow_tensor_exponent_zero_at_zero(lib):
    x = leaf(lib, (0.0, 1.0))
    (x ** lib.tensor([0.0, 0.0])).sum().backward()
    return x.grad


@case
def pow_scalar_base_zero(lib):
    x = leaf(lib, (0.0, 1.0))
    (0.0 ** x).sum().backward()
    return x.grad


@case
def pow_scalar_base_zero_negative_exponent(lib):
    x = leaf(lib, (0.0, 1.0))
    (0.0 ** (x - 1)).sum().backward()
    return x.grad


@case
def pow_zero_exponent(lib):
    x = leaf(lib, (0.0, 1.0))
    (x ** 0.0).sum().backward()
    return x.grad


@case
def pow_half_at_zero(lib):
    x = leaf(lib, (0.0, 1.0))
    (x ** 0.5).sum().backward()
    return x.grad


@case
def pow_tensor_base_zero_exponent_grad(lib):
    x = leaf(lib, (0.0, 2.0))
    e = lib.tensor([2.0, 2.0], requires_grad=True)
    (x ** e).sum().backward()
    return x.grad, e.grad


@case
def max_ties_share_gradient(lib):
    x = leaf(lib, (1.0, 3.0, 3.0))
    x.max().backward()
    return x.grad


@case
def max_dim_gradient_to_index(lib):
    x = lib.tensor([[1.0, 3.0], [4.0, 2.0]], requires_grad=True)
    v, i = x.max(dim=1)
    v.sum().backward()
    return v, i, x.grad


@case
def maximum_ties_split(lib):
    a = leaf(lib, (1.0, 2.0))
    b = leaf(lib, (1.0, 3.0))
    lib.maximum(a, b).sum().backward()
    return a.grad, b.grad


@case
def where_routes_gradient(lib):
    x = leaf(lib, (-1.0, 2.0, -3.0))
    lib.where(x > 0, x, x * 0.1).sum().backward()
    return x.grad


@case
def sqrt_at_zero_is_inf(lib):
    x = leaf(lib, (0.0, 4.0))
    x.sqrt().sum().backward()
    return x.grad


@case
def log_at_zero(lib):
    x = leaf(lib, (0.0, 1.0))
    y = x.log()
    y.sum().backward()
    return y, x.grad


@case
def div_by_zero_grad(lib):
    x = leaf(lib, (1.0, 0.0))
    (1.0 / x).sum().backward()
    return x.grad


@case
def remainder_grad(lib):
    x = leaf(lib, (-7.0, 7.0))
    y = x % 3
    y.sum().backward()
    return y, x.grad


@case
def floor_divide_backward_raises(lib):
    x = leaf(lib, (-7.0, 7.0))
    (x // 2).sum().backward()


@case
def div_rounding_mode_grad(lib):
    x = leaf(lib, (-7.0, 7.0))
    y = lib.div(x, 2, rounding_mode="floor")
    y.sum().backward()
    return y, x.grad


@case
def softmax_grad(lib):
    x = leaf(lib)
    (x.softmax(0) * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
    return x.grad


@case
def log_softmax_grad(lib):
    x = leaf(lib)
    x.log_softmax(0)[0].backward()
    return x.grad


@case
def logsumexp_grad(lib):
    x = leaf(lib)
    x.logsumexp(0).backward()
    return x.grad


@case
def mean_grad(lib):
    x = lib.ones(2, 3, requires_grad=True)
    x.mean(dim=1).sum().backward()
    return x.grad


@case
def matmul_grads(lib):
    a = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = lib.tensor([[0.5, -1.0], [2.0, 1.0]], requires_grad=True)
    (a @ b).sum().backward()
    return a.grad, b.grad


@case
def dot_grads(lib):
    a, b = leaf(lib), leaf(lib, (3.0, 2.0, 1.0))
    (a @ b).backward()
    return a.grad, b.grad


@case
def cast_grad_dtype(lib):
    x = leaf(lib)
    x.double().sum().backward()
    return x.grad


@case
def cat_grad(lib):
    a, b = leaf(lib), leaf(lib, (4.0,))
    (lib.cat([a, b]) * lib.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    return a.grad, b.grad


@case
def stack_grad(lib):
    a, b = leaf(lib), leaf(lib)
    (lib.stack([a, b]) * lib.tensor([[1.0], [2.0]])).sum().backward()
    return a.grad, b.grad


# ---------------------------------------------------------------- reductions and shapes
@case
def sum_empty_dims_reduces_all(lib):
    return lib.ones(2, 3).sum(dim=())


@case
def mean_empty_dim_list(lib):
    return lib.ones(2, 3).mean(dim=[])


@case
def sum_repeated_dims(lib):
    lib.ones(2, 3).sum(dim=(0, 0))


@case
def sum_repeated_negative_dims(lib):
    lib.ones(2).sum(dim=(0, -1))


@case
def sum_of_empty(lib):
    return lib.ones(0, 3).sum(0)


@case
def mean_of_empty(lib):
    return lib.ones(0, 3).mean(0)


@case
def amax_over_empty_dim(lib):
    lib.ones(0, 3).amax(0)


@case
def amax_over_non_empty_dim_of_empty(lib):
    return lib.ones(0, 3).amax(1)


@case
def max_of_empty(lib):
    lib.ones(0, 3).max()


@case
def max_dim_of_empty(lib):
    lib.ones(0, 3).max(0)


@case
def sum_int_is_int64(lib):
    return lib.tensor([1, 2, 3]).sum()


@case
def mean_of_int_raises(lib):
    lib.tensor([1, 2]).mean()


@case
def sum_keepdim(lib):
    return lib.ones(2, 3).sum(1, keepdim=True)


@case
def dim_out_of_range(lib):
    lib.ones(2).sum(2)


@case
def reshape_invalid(lib):
    lib.ones(6).reshape(4, 2)


@case
def expand_bad_size(lib):
    lib.ones(2).expand(3, 3)


@case
def all_and_any(lib):
    t = lib.tensor([[1, 0], [1, 1]])
    return t.all(), t.any(), t.all(dim=1), lib.tensor([0.0, 0.0]).any()


@case
def all_any_of_empty(lib):
    e = lib.ones(0)
    return e.all(), e.any()


# ---------------------------------------------------------------- arithmetic and dtypes
@case
def floor_divide_values(lib):
    return lib.tensor([-7, 7]) // 2, lib.tensor([-7.0, 7.0]) // 2


@case
def remainder_values(lib):
    return lib.tensor([-7, 7]) % 3, lib.tensor([-7.0, 7.0]) % 3, 10 % lib.tensor([3, -3])


@case
def div_rounding_modes(lib):
    a = lib.tensor([-7, 7])
    return lib.div(a, 2, rounding_mode="trunc"), lib.div(a, 2, rounding_mode="floor"), \
        lib.div(lib.tensor([-7.0, 7.0]), 2, rounding_mode="trunc")


@case
def div_bad_rounding_mode(lib):
    lib.div(lib.tensor([1.0]), 2, rounding_mode="round")


@case
def int_true_division_is_float(lib):
    return lib.tensor([1, 2]) / 2


@case
def bool_add_is_bool(lib):
    return lib.tensor([True, False]) + lib.tensor([True, True])


@case
def bool_subtraction_raises(lib):
    return lib.tensor([True]) - lib.tensor([True])


@case
def bool_negation_raises(lib):
    return -lib.tensor([True])


@case
def int_plus_float_scalar(lib):
    return lib.tensor([1, 2]) + 1.5


@case
def float32_plus_float64_tensor(lib):
    return lib.ones(2) + lib.ones(2, dtype=lib.float64)


@case
def float_plus_python_int_keeps_dtype(lib):
    return lib.ones(2, dtype=lib.float64) + 1


@case
def randint_high_size(lib):
    r = lib.randint(5, (2, 3))
    return r.shape == (2, 3), r.dtype, bool(((r >= 0) & (r < 5)).all())


@case
def randint_low_high_size(lib):
    r = lib.randint(2, 4, (50,))
    return r.dtype, bool(((r >= 2) & (r < 4)).all())


@case
def format_scalar(lib):
    return f"{lib.tensor(3.14159):.2f}", f"{lib.tensor(2):d}", f"{lib.tensor(2.5)}"


@case
def format_vector_with_spec(lib):
    return f"{lib.tensor([1.0, 2.0]):.2f}"


@case
def format_vector_plain(lib):
    return f"{lib.tensor([1.0, 2.0])}"


@case
def item_of_many(lib):
    return lib.ones(2).item()


@case
def bool_of_many(lib):
    return bool(lib.ones(2))


@case
def float_of_one(lib):
    return float(lib.tensor([2.5])), int(lib.tensor(3)), bool(lib.tensor([0.0]))


@case
def len_of_scalar(lib):
    return len(lib.tensor(1.0))


# ---------------------------------------------------------------- pickling
@pytest.fixture(params=range(pickle.HIGHEST_PROTOCOL + 1))
def protocol(request):
    return request.param


def test_pickle_every_protocol(protocol):
    def roundtrip(lib):
        x = leaf(lib)
        x.grad = lib.ones(3)
        y = pickle.loads(pickle.dumps(x, protocol=protocol))
        z = pickle.loads(pickle.dumps(lib.tensor([1, 2]), protocol=protocol))
        return y, y.grad, z

    check(roundtrip)


@case
def pickle_non_leaf(lib):
    y = pickle.loads(pickle.dumps(leaf(lib) * 2))
    return y.requires_grad, y.is_leaf


# ---------------------------------------------------------------- grad_fn names
@case
def grad_fn_names_arithmetic(lib):
    x = leaf(lib)
    return [grad_fn(t) for t in (x + 1, x - 1, x * 2, x / 2, -x, x ** 2, 2 ** x, x ** x, x % 3)]


@case
def grad_fn_names_unary(lib):
    x = leaf(lib)
    return [grad_fn(t) for t in (x.exp(), x.log(), x.sin(), x.cos(), x.tanh(), x.sigmoid(),
                                 x.sqrt(), x.relu(), x.abs(), x.sign(), x.clamp(0, 1), x.clone(),
                                 x.double())]


@case
def grad_fn_names_reductions(lib):
    x = lib.ones(2, 3, requires_grad=True)
    return [grad_fn(t) for t in (x.sum(), x.sum(0), x.mean(), x.mean(1), x.max(), x.max(0)[0],
                                 x.min(), x.amax(0), x.amin(), x.logsumexp(0), x.softmax(0),
                                 x.log_softmax(1))]


@case
def grad_fn_names_shapes(lib):
    x = lib.ones(2, 3, requires_grad=True)
    return [grad_fn(t) for t in (x[0], x[0:1], x[[0, 1]], x.reshape(6), x.view(3, 2),
                                 x.unsqueeze(0), x.unsqueeze(0).squeeze(), x.t(), x.T, x.mT,
                                 x.permute(1, 0), x.transpose(0, 1), x[:, :1].expand(2, 4),
                                 lib.cat([x, x]), x.flatten())]


@case
def grad_fn_names_matmul(lib):
    m = lib.ones(2, 2, requires_grad=True)
    v = lib.ones(2, requires_grad=True)
    return [grad_fn(t) for t in (v @ v, m @ v, m @ m, v @ m, lib.maximum(v, v), lib.minimum(v, v),
                                 lib.where(v > 0, v, v))]


@case
def grad_fn_in_place_names(lib):
    x = leaf(lib)
    a = x * 1
    a.add_(1)
    b = x * 1
    b.mul_(2)
    return grad_fn(a), grad_fn(b)


def grad_fn(t):
    from conformance import grad_fn_name

    return grad_fn_name(t)


@case
def next_functions_of_leaf_op(lib):
    x = leaf(lib)
    y = x * 2
    return len(y.grad_fn.next_functions), y.grad_fn.next_functions[1][0] is None


# ---------------------------------------------------------------- autograd.functional
def F(lib):
    return lib.autograd.functional


def _f(x):
    return x ** 2 + x.exp()


@case
def vjp_basic(lib):
    return F(lib).vjp(_f, leaf(lib), lib.ones(3))


@case
def vjp_v_none_for_scalar(lib):
    return F(lib).vjp(lambda x: (x * x).sum(), leaf(lib))


@case
def vjp_v_none_non_scalar(lib):
    F(lib).vjp(_f, leaf(lib))


@case
def vjp_v_wrong_size(lib):
    F(lib).vjp(_f, leaf(lib), lib.ones(2))


@case
def vjp_v_wrong_count(lib):
    F(lib).vjp(_f, leaf(lib), (lib.ones(3), lib.ones(3)))


@case
def vjp_tuple_v_wrong_length(lib):
    F(lib).vjp(lambda a, b: (a * b, a + b), (leaf(lib), leaf(lib)), (lib.ones(3),))


@case
def vjp_strict_independent_output(lib):
    F(lib).vjp(lambda x: lib.ones(3), leaf(lib), lib.ones(3), strict=True)


@case
def vjp_strict_unused_input(lib):
    F(lib).vjp(lambda a, b: a * 2, (leaf(lib), leaf(lib)), lib.ones(3), strict=True)


@case
def vjp_non_strict_unused_input(lib):
    return F(lib).vjp(lambda a, b: a * 2, (leaf(lib), leaf(lib)), lib.ones(3))


@case
def vjp_inputs_list_rejected(lib):
    F(lib).vjp(_f, [leaf(lib)], lib.ones(3))


@case
def vjp_create_graph(lib):
    out, g = F(lib).vjp(_f, leaf(lib), lib.ones(3), create_graph=True)
    return out.requires_grad, g.requires_grad


@case
def jvp_basic(lib):
    return F(lib).jvp(_f, leaf(lib), lib.tensor([1.0, 0.0, 2.0]))


@case
def jvp_v_wrong_size(lib):
    F(lib).jvp(_f, leaf(lib), lib.ones(2))


@case
def jvp_strict_independent(lib):
    F(lib).jvp(lambda x: lib.ones(2), leaf(lib), lib.ones(3), strict=True)


@case
def jacobian_single(lib):
    return F(lib).jacobian(_f, leaf(lib))


@case
def jacobian_tuple_structure(lib):
    return F(lib).jacobian(lambda a, b: (a * b, a.sum()), (leaf(lib), leaf(lib, (4.0, 5.0, 6.0))))


@case
def jacobian_int_input_raises(lib):
    F(lib).jacobian(lambda x: x * 2, lib.ones(2, dtype=lib.int64))


@case
def jacobian_int_output(lib):
    return F(lib).jacobian(lambda x: x.long(), lib.ones(2))


@case
def jacobian_independent_output_zeros(lib):
    return F(lib).jacobian(lambda x: lib.ones(2), leaf(lib))


@case
def jacobian_strict_independent(lib):
    F(lib).jacobian(lambda x: lib.ones(2), leaf(lib), strict=True)


@case
def jacobian_strict_unused_input(lib):
    F(lib).jacobian(lambda a, b: a * 2, (leaf(lib), leaf(lib)), strict=True)


@case
def jacobian_vectorize(lib):
    return F(lib).jacobian(_f, leaf(lib), vectorize=True)


@case
def jacobian_vectorize_strict(lib):
    F(lib).jacobian(_f, leaf(lib), vectorize=True, strict=True)


def _detached(blocks):
    """torch's forward-mode results keep a graph back to inputs that require grad; minigrad's
    are detached (a documented difference): compare the values."""
    if isinstance(blocks, (tuple, list)):
        return tuple(_detached(b) for b in blocks)
    return blocks.detach()


@case
def jacobian_forward_mode(lib):
    return _detached(F(lib).jacobian(lambda a, b: (a * b, a.sum()), (leaf(lib), leaf(lib)),
                                     vectorize=True, strategy="forward-mode"))


@case
def jacobian_forward_mode_needs_vectorize(lib):
    F(lib).jacobian(_f, leaf(lib), strategy="forward-mode")


@case
def jacobian_forward_mode_create_graph(lib):
    F(lib).jacobian(_f, leaf(lib), vectorize=True, strategy="forward-mode", create_graph=True)


@case
def jacobian_bad_strategy(lib):
    F(lib).jacobian(_f, leaf(lib), strategy="sideways")


@case
def jacobian_create_graph(lib):
    j = F(lib).jacobian(_f, leaf(lib), create_graph=True)
    return j.requires_grad


@case
def hessian_basic(lib):
    return F(lib).hessian(lambda x: (x ** 3).sum(), leaf(lib))


@case
def hessian_tuple(lib):
    return F(lib).hessian(lambda a, b: (a * a * b).sum(), (leaf(lib), leaf(lib)))


@case
def hessian_strict_linear(lib):
    F(lib).hessian(lambda x: (x * 2).sum(), leaf(lib), strict=True)


@case
def hessian_non_scalar(lib):
    F(lib).hessian(lambda x: x * x, leaf(lib))


@case
def hessian_forward_outer(lib):
    return _detached(F(lib).hessian(lambda x: (x ** 3).sum(), leaf(lib), vectorize=True,
                                    outer_jacobian_strategy="forward-mode"))


@case
def hvp_basic(lib):
    return F(lib).hvp(lambda x: (x ** 3).sum(), leaf(lib), lib.ones(3))


@case
def vhp_basic(lib):
    return F(lib).vhp(lambda x: (x ** 3).sum(), leaf(lib), lib.tensor([1.0, 2.0, 0.0]))


@case
def hvp_v_wrong_size(lib):
    F(lib).hvp(lambda x: (x * x).sum(), leaf(lib), lib.ones(2))


@case
def hvp_non_scalar(lib):
    F(lib).hvp(lambda x: x * x, leaf(lib), lib.ones(3))


@case
def hvp_strict_linear(lib):
    F(lib).hvp(lambda x: (x * 2).sum(), leaf(lib), lib.ones(3), strict=True)


# ---------------------------------------------------------------- the seeds' snippets
@case
def seed_requires_grad_and_simple_gradient(lib):
    x = lib.tensor(3.0, requires_grad=True)
    y = x ** 2
    y.backward()
    return x, y, x.grad


@case
def seed_chain_sin_of_square(lib):
    x = lib.tensor(4.0, requires_grad=True)
    y = x ** 2
    z = lib.sin(y)
    z.backward()
    return y, z, x.grad


@case
def seed_non_leaf_grad_is_none(lib):
    x = lib.tensor(4.0, requires_grad=True)
    y = x ** 2
    lib.sin(y).backward()
    return y.grad


@case
def seed_perceptron(lib):
    x, target = lib.tensor(6.7), lib.tensor(0.0)
    w = lib.tensor(1.0, requires_grad=True)
    b = lib.tensor(0.0, requires_grad=True)
    z = w * x + b
    y_pred = lib.sigmoid(z)
    p = lib.clamp(y_pred, 1e-8, 1 - 1e-8)
    loss = -(target * lib.log(p) + (1 - target) * lib.log(1 - p))
    loss.backward()
    return z, y_pred, loss, w.grad, b.grad


@case
def seed_mean_of_squares(lib):
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x ** 2).mean()
    y.backward()
    return y, x.grad


@case
def seed_clearing_grad(lib):
    x = lib.tensor(2.0, requires_grad=True)
    (x ** 2).backward()
    first = x.grad.clone()
    x.grad.zero_()
    return first, x.grad


@case
def seed_three_ways_to_stop_tracking(lib):
    x = lib.tensor(2.0, requires_grad=True)
    (x ** 2).backward()
    x.requires_grad_(False)
    a = x
    x = lib.tensor(2.0, requires_grad=True)
    z = x.detach()
    x2 = lib.randn(3, 3, requires_grad=True)
    with lib.no_grad():
        y = x2 * 2
    return a, z, y.requires_grad


@case
def seed_mean_backward(lib):
    x = lib.tensor([-0.2457, 0.7481, 0.1907, -1.7052], requires_grad=True)
    y = x + 2
    z = y.mean()
    z.backward()
    return y, z, x.grad


@case
def seed_vector_backward(lib):
    x = lib.tensor([1.5, -0.7, 0.3, 1.2], requires_grad=True)
    y = x ** 2
    y.backward(lib.tensor([0.1, 0.5, 0.9, 0.3]))
    return y, x.grad


@case
def seed_matrix_backward(lib):
    x = lib.tensor([[0.8, 1.1, 0.4, -0.7, 0.2], [1.6, -1.8, -2.8, -0.9, 2.1]], requires_grad=True)
    y = x + 8
    y.backward(lib.full((2, 5), 0.5))
    return y, x.grad


@case
def seed_stop_tracking_methods(lib):
    a, b, c = (lib.tensor([0.8, -0.6], requires_grad=True) for _ in range(3))
    a.requires_grad_(False)
    with lib.no_grad():
        c = c + 0
    return a, b.detach(), c


@case
def seed_linear_layer_gradients(lib):
    x = lib.ones(5)
    y = lib.zeros(3)
    w = lib.full((5, 3), 0.1, requires_grad=True)
    b = lib.full((3,), -0.2, requires_grad=True)
    z = lib.matmul(x, w) + b
    loss = ((z.sigmoid() - y) ** 2).mean()
    loss.backward()
    with lib.no_grad():
        z2 = lib.matmul(x, w) + b
    return z, loss, w.grad, b.grad, z2.requires_grad, z.detach().requires_grad


@case
def seed_tensor_from_data(lib):
    data = [[1, 2], [3, 4]]
    t = lib.tensor(data)
    return t, lib.ones_like(t), lib.zeros(4, 3, dtype=lib.long), lib.tensor([7.8, 5])


@case
def seed_attributes(lib):
    t = lib.ones(3, 4)
    return tuple(t.shape), t.dtype, t.size(), t.size(1)


# ---------------------------------------------------------------- copies, modules, optimizers
@case
def deepcopy_leaf_keeps_grad(lib):
    x = leaf(lib)
    x.grad = lib.ones(3)
    y = copy.deepcopy(x)
    y.grad.add_(1)
    return y, y.grad, x.grad


@case
def deepcopy_non_leaf_raises(lib):
    copy.deepcopy(leaf(lib) * 2)


@case
def parameter_survives_pickle(lib):
    p = lib.nn.Parameter(lib.ones(2))
    q = pickle.loads(pickle.dumps(p))
    return type(q).__name__, q.requires_grad


@case
def zero_grad_to_zeros_after_create_graph(lib):
    lin = lib.nn.Linear(2, 1)
    with lib.no_grad():
        lin.weight.fill_(0.5)
        lin.bias.fill_(0.1)
    (g,) = lib.autograd.grad(lin(lib.ones(1, 2)).sum(), lin.weight, create_graph=True)
    lin.weight.grad = g
    lin.zero_grad(set_to_none=False)
    return lin.weight.grad


@case
def optimizer_zero_grad_none(lib):
    p = lib.nn.Parameter(lib.ones(2))
    (p * 2).sum().backward()
    opt = lib.optim.SGD([p], lr=0.1)
    opt.step()
    opt.zero_grad()
    return p, p.grad


@case
def sgd_step_bumps_version(lib):
    p = lib.nn.Parameter(lib.ones(2))
    y = p.exp()
    (p * 2).sum().backward()
    lib.optim.SGD([p], lr=0.1).step()
    y.sum().backward()


@case
def clone_is_a_node(lib):
    x = leaf(lib)
    c = x.clone()
    c.sum().backward()
    return c, x.grad


@case
def clone_without_grad_is_copy(lib):
    a = lib.ones(2)
    c = a.clone()
    c.add_(1)
    return a, c


@pytest.mark.parametrize("name", sorted(CASES))
def test_conformance(name):
    check(CASES[name])


def test_the_suite_is_large_enough():
    assert len(CASES) >= 150, len(CASES)


@pytest.mark.parametrize("differs", [
    lambda lib: lib.tensor([1.0]) if lib is torch else lib.tensor([1.5]),           # values
    lambda lib: lib.ones(2) if lib is torch else lib.ones(1, 2),                    # shape
    lambda lib: lib.ones(2) if lib is torch else lib.ones(2, dtype=lib.float64),    # dtype
    lambda lib: lib.ones(2, requires_grad=lib is torch),                            # flag
    lambda lib: lib.ones(2, requires_grad=True) * 2 + 0,                             # no difference
    lambda lib: (lib.ones(1, requires_grad=True) * 2) if lib is torch else (lib.ones(1, requires_grad=True) + 1),
    lambda lib: lib.ones(2).sum(5) if lib is torch else lib.tensor([1, 2]).mean(),  # IndexError vs RuntimeError
    lambda lib: lib.ones(2).item() if lib is torch else 1.0,                        # raised vs value
], ids=["values", "shape", "dtype", "requires_grad", "same", "grad_fn", "error type", "raised"])
def test_the_helper_catches_differences(differs, request):
    if request.node.callspec.id == "same":
        check(differs)  # the control: equal results pass
        return
    with pytest.raises(AssertionError):
        check(differs)
