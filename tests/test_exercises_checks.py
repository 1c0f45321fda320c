"""grading/checks.py: each check passes correct answers and fails wrong ones with a message a student can act on."""
import numpy as np
import pytest
import torch

from grading import checks
from grading.checks import (CheckFailed, check, check_array, check_device, check_equal, check_grad,
                            check_shares_memory, check_tensor, check_uniform)


def failure(fn, *args, **kwargs) -> str:
    """The message of the CheckFailed that fn(*args, **kwargs) raises."""
    with pytest.raises(CheckFailed) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert message.strip(), "a failing check must never have an empty message"
    return message


def test_check_failed_is_an_assertion_error_so_nbgrader_counts_it_as_a_failed_test():
    assert issubclass(CheckFailed, AssertionError)
    assert failure(check, False, "x is wrong") == "x is wrong"
    check(True, "unused")


def test_every_check_fails_through_the_one_raising_function():
    """Only `fail` raises, so a grader can hook evidence collection into a single place."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(checks))
    raisers = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
               and any(isinstance(n, ast.Raise) and n.exc is not None for n in ast.walk(node))}
    assert raisers == {"fail"}


def test_wrong_dtype_names_both_dtypes_and_the_fix():
    msg = failure(check_tensor, torch.Tensor([[10, 20]]), torch.tensor([[10, 20]]), "make()")
    assert "expected dtype torch.int64, got torch.float32" in msg and "dtype=torch.int64" in msg


def test_wrong_shape_names_both_shapes():
    msg = failure(check_tensor, torch.ones(2, 3), torch.ones(3, 2), "f()")
    assert "expected shape (3, 2), got (2, 3)" in msg


def test_wrong_values_give_first_index_expected_got_and_max_error():
    got = torch.tensor([[1.0, 2.0], [3.0, 5.0]])
    msg = failure(check_tensor, got, torch.tensor([[1.0, 2.0], [3.0, 4.0]]), "f()")
    assert "1 of 4 elements differ" in msg and "index [1, 1]" in msg
    assert "expected 4.0, got 5.0" in msg and "max abs error 1" in msg and "max rel error 0.25" in msg


def test_values_within_tolerance_pass_and_dtype_can_be_left_free():
    check_tensor(torch.tensor([1.0, 2.0]) + 1e-8, torch.tensor([1.0, 2.0]), "f()")
    check_tensor(torch.full((2,), 5), torch.full((2,), 5.0), "f()", dtype=False)


def test_non_tensors_are_named():
    assert "did you forget to `return`" in failure(check_tensor, None, torch.ones(1), "f()")
    assert "torch.from_numpy" in failure(check_tensor, np.ones(1), torch.ones(1), "f()")
    assert "should be a torch.Tensor, got list" in failure(check_tensor, [1.0], torch.ones(1), "f()")


def test_wrong_device_says_how_to_move():
    msg = failure(check_device, torch.ones(1), "cuda", "moved")
    assert "expected a tensor on device 'cuda', got one on 'cpu'" in msg and ".to(device)" in msg


def test_grad_that_is_a_multiple_of_the_expected_one_asks_about_zeroing():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for _ in range(3):
        (x ** 2).sum().backward()
    msg = failure(check_grad, x, 2 * torch.tensor([1.0, 2.0, 3.0]), "x")
    assert "3 times the expected gradient" in msg and "did you zero the gradients?" in msg.lower()


def test_missing_grad_and_plain_wrong_grad():
    assert "x.grad is None" in failure(check_grad, torch.ones(2, requires_grad=True), torch.ones(2), "x")
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x ** 3).sum().backward()
    msg = failure(check_grad, x, 2 * x.detach(), "x")
    assert "x.grad: wrong values" in msg and "zero the gradients" not in msg
    x.grad = None
    (x ** 2).sum().backward()
    check_grad(x, 2 * x.detach(), "x")


def test_shared_memory_is_required_and_copies_are_explained():
    arr = np.arange(3.0)
    check_shares_memory(torch.from_numpy(arr), arr, "t")
    msg = failure(check_shares_memory, torch.tensor(arr), arr, "t")
    assert "memory is not shared" in msg and "torch.tensor" in msg and "torch.from_numpy" in msg


def test_uniform_samples():
    torch.manual_seed(0)
    check_uniform(torch.rand(4, 4), "u()", shape=(4, 4), dtype=torch.float32)
    assert "torch.rand" in failure(check_uniform, torch.randn(4, 4), "u()", shape=(4, 4), dtype=torch.float32)
    assert "all 16 values equal" in failure(check_uniform, torch.full((4, 4), 0.5), "u()", shape=(4, 4),
                                            dtype=torch.float32)


def test_plain_values_and_arrays():
    check_equal((True, False), (True, False), "m()")
    assert "expected (True, False), got (True, True)" in failure(check_equal, (True, True), (True, False), "m()")
    assert "expected NumPy dtype float64, got float32" in failure(check_array, np.ones(2, np.float32), np.ones(2), "a")
    assert "convert it with .numpy()" in failure(check_array, torch.ones(2), np.ones(2), "a")


def test_checks_never_crash_on_surprising_answers():
    """A tensor where a bool belongs, or a tensor that requires grad, still gets a sentence, not a crash."""
    assert "expected True, got tensor" in failure(check_equal, torch.tensor([True, False]), True, "answer")
    arr = np.zeros(2)
    msg = failure(check_shares_memory, torch.zeros(2, requires_grad=True), arr, "t")
    assert "requires grad" in msg and "torch.from_numpy" in msg


def test_tensor_subclasses_that_could_lie_are_rejected():
    """A subclass may override __eq__ or __torch_function__ to fake equality: only exact tensors pass."""

    class Liar(torch.Tensor):
        def __eq__(self, other):
            return True

    liar = torch.zeros(2).as_subclass(Liar)
    msg = failure(check_tensor, liar, torch.ones(2), "answer()")
    assert "Liar, a subclass of torch.Tensor" in msg and "plain tensor" in msg
    check_tensor(torch.ones(2), torch.ones(2), "answer()")


def test_check_student_matches_torch_compares_output_and_every_gradient_through_plain_data():
    """The trusted-side check of a student's minigrad Function: right rules pass (without a warning); a wrong
    gradient and a missing one fail with a sentence that says which; the student's own error passes through."""
    import textwrap
    import warnings

    from grading.checks import check_student_matches_torch
    from grading.student import Student, StudentError, serve

    namespace = {}
    exec(textwrap.dedent("""\
        import minigrad as mg
        from minigrad.autograd import Function

        class Square(Function):
            @staticmethod
            def forward(ctx, x, scale):
                ctx.save_for_backward(x)
                ctx.scale = scale
                return x * x * scale

            @staticmethod
            def backward(ctx, grad_output):
                (x,) = ctx.saved_tensors
                return grad_output * 2 * x * ctx.scale, None

        class SquareHalfGrad(Square):
            @staticmethod
            def backward(ctx, grad_output):
                (x,) = ctx.saved_tensors
                return grad_output * x * ctx.scale, None

        def mul_no_grad_for_b(a, b):
            class Mul(Function):
                @staticmethod
                def forward(ctx, a, b):
                    ctx.save_for_backward(b)
                    return a * b

                @staticmethod
                def backward(ctx, grad_output):
                    (b,) = ctx.saved_tensors
                    return grad_output * b, None
            return Mul.apply(a, b)

        def broken(x, scale):
            raise ValueError("not yet")
    """), namespace)
    remote = Student(lambda text: serve(text, namespace), lambda: [])
    x = np.random.default_rng(0).standard_normal((2, 3))

    def torch_square(t, scale):
        return t * t * scale

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. reading a non-leaf result's .grad: nbgrader fails a cell that warns
        check_student_matches_torch(remote, "Square.apply", torch_square, x, args=[3.0], what="Square")
    check_student_matches_torch(remote, "Square.apply", torch_square, x.astype(np.float32), args=[3.0],
                                what="Square in float32")
    msg = failure(check_student_matches_torch, remote, "SquareHalfGrad.apply", torch_square, x, args=[3.0],
                  what="SquareHalfGrad")
    assert msg.startswith("SquareHalfGrad: the gradient: wrong values")
    msg = failure(check_student_matches_torch, remote, "mul_no_grad_for_b", torch.mul, x, x, what="Mul")
    assert msg.startswith("Mul: the gradient of input 1 is None: backward() did not reach this input")
    with pytest.raises(StudentError) as raised:  # the grader reports it as the student's error
        check_student_matches_torch(remote, "broken", torch_square, x, args=[3.0], what="broken")
    assert str(raised.value) == "ValueError: not yet"
