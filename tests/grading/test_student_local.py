"""grading.student, local side: hidden-test vocabulary run against a namespace in this process, through plain data."""
import textwrap

import numpy as np
import pytest
import torch

import minigrad as mg
from grading.checks import CheckFailed
from grading.student import Student, StudentError, serve

STUDENT_CODE = textwrap.dedent("""\
    import numpy as np
    import torch
    import minigrad as mg

    def add_rows(a):
        if a.dim() != 2:
            raise RuntimeError("add_rows needs a 2-d tensor")
        return a.sum(0)

    def scale_in_place(a):
        a.mul_(10)
        return a

    def square_sum(x):
        return (x * x).sum()

    def mul(a, b):
        return a * b

    def cube(x):
        return x ** 3

    def mg_square(x):
        return x * x

    def not_a_tensor(x):
        return [1, 2]

    def shout(text):
        raise ValueError(text * 1000)

    def lookup(i):
        return [1][i]

    def huge():
        return np.zeros(10_000_000)

    def opaque():
        return iter([1])

    class Net:
        def forward(self, x):
            return x + 1
    model = Net()

    arr = np.arange(3.0)
    shared = torch.from_numpy(arr)
    copied = torch.tensor(arr)
    alias = arr
    counter = torch.zeros(2)
    counter.add_(1)
    counter.add_(1)
    mg_counter = mg.zeros(2)
    mg_counter.add_(1)
""")


@pytest.fixture
def ns():
    namespace = {}
    exec(compile(STUDENT_CODE, "<student>", "exec"), namespace)
    return namespace


def make_student(ns, sources=()):
    return Student(lambda text: serve(text, ns), lambda: list(sources))


def test_call_returns_the_students_result_as_plain_data(ns):
    student = make_student(ns)
    x = torch.arange(12.).reshape(3, 4)
    got = student.call("add_rows", x)
    assert type(got) is torch.Tensor and torch.equal(got, x.sum(0))
    assert student.call("model.forward", 1) == 2
    assert student.call("lookup", i=0) == 1
    assert repr(student.call("opaque")).startswith("Opaque(list_iterator")


def test_the_student_gets_copies_so_the_graders_values_never_change(ns):
    student = make_student(ns)
    x = torch.ones(3)
    got = student.call("scale_in_place", x)
    assert torch.equal(x, torch.ones(3)) and torch.equal(got, torch.full((3,), 10.))


def test_an_error_in_the_students_code_is_a_student_error_with_type_and_capped_message(ns):
    student = make_student(ns)
    with pytest.raises(StudentError) as info:
        student.call("add_rows", torch.ones(2, 3, 4))
    err = info.value
    assert err.type_name == "RuntimeError" and err.message == "add_rows needs a 2-d tensor"
    assert str(err) == "RuntimeError: add_rows needs a 2-d tensor"
    assert err.where == "add_rows(a float32 tensor of shape (2, 3, 4))"
    with pytest.raises(StudentError) as info:
        student.call("shout", "ab")
    assert len(str(info.value)) == 500 and str(info.value).startswith("ValueError: abab")


def test_missing_names_are_name_and_attribute_errors_and_has_says_whether_they_exist(ns):
    student = make_student(ns)
    with pytest.raises(StudentError, match="NameError: name 'nope' is not defined"):
        student.call("nope")
    with pytest.raises(StudentError, match="AttributeError"):
        student.value("model.missing")
    assert student.has("add_rows") and student.has("model.forward")
    assert not student.has("nope") and not student.has("model.missing")
    with pytest.raises(ValueError, match="not a name or a dotted path"):
        student.call("add_rows(1)")


def test_raises_accepts_the_named_error_or_a_subclass_and_explains_anything_else(ns):
    student = make_student(ns)
    with student.raises("RuntimeError") as seen:
        student.call("add_rows", torch.ones(2, 3, 4))
    assert seen.error.type_name == "RuntimeError"
    with student.raises("LookupError"):            # IndexError is a LookupError
        student.call("lookup", 5)
    with pytest.raises(CheckFailed, match=r"add_rows\(a float32 tensor of shape \(2, 3\)\) should raise "
                                          r"RuntimeError, but it returned a float32 tensor of shape \(3,\)"):
        with student.raises("RuntimeError"):
            student.call("add_rows", torch.ones(2, 3))
    with pytest.raises(CheckFailed, match=r"lookup\(5\) should raise ValueError or TypeError, but it raised "
                                          r"IndexError: list index out of range"):
        with student.raises("ValueError", "TypeError"):
            student.call("lookup", 5)


def test_grad_backpropagates_from_the_students_result_on_fresh_leaves(ns):
    student = make_student(ns)
    x = torch.tensor([1., 2., 3.], requires_grad=True)
    result, (gx,) = student.grad("square_sum", x)
    assert result.item() == 14.0 and torch.equal(gx, 2 * x.detach())
    assert x.grad is None                                     # the grader's tensor is untouched
    result, (gx,) = student.grad("cube", x)                   # non-scalar: upstream defaults to ones
    assert torch.allclose(gx, 3 * x.detach() ** 2)
    _, (gx,) = student.grad("cube", x, upstream=torch.tensor([1., 0., 2.]))
    assert torch.allclose(gx, torch.tensor([3., 0., 54.]))
    _, grads = student.grad("add_rows", torch.ones(2, 2, requires_grad=True))
    assert torch.equal(grads[0], torch.ones(2, 2))
    _, grads = student.grad("mul", torch.ones(2, requires_grad=True), torch.full((2,), 3.))
    assert torch.equal(grads[0], torch.full((2,), 3.)) and grads[1] is None   # no requires_grad: no .grad


def test_grad_works_for_minigrad_and_explains_a_result_that_is_no_tensor(ns):
    student = make_student(ns)
    x = mg.tensor([1.0, -3.0], requires_grad=True)
    result, (gx,) = student.grad("mg_square", x, upstream=torch.tensor([1.0, 2.0]))
    assert type(result) is mg.Tensor and np.array_equal(gx.numpy(), [2.0, -12.0])
    with pytest.raises(CheckFailed, match=r"not_a_tensor\(a float32 tensor of shape \(1,\), requires_grad\) returned "
                                          r"a list \(1, 2\), not a torch or minigrad tensor"):
        student.grad("not_a_tensor", torch.ones(1, requires_grad=True))


def test_value_and_facts_read_the_students_namespace(ns):
    student = make_student(ns)
    assert np.array_equal(student.value("arr"), np.arange(3.0))
    assert student.fact("shares_memory", "shared", "arr") is True
    assert student.fact("shares_memory", "copied", "arr") is False
    assert student.fact("same_object", "alias", "arr") is True
    assert student.fact("same_object", "copied", "arr") is False
    assert student.fact("version", "counter") == 2 and student.fact("version", "mg_counter") == 1
    assert student.fact("version", "copied") == 0
    assert student.fact("type", "model") == "builtins.Net" or student.fact("type", "model").endswith(".Net")
    with pytest.raises(ValueError, match="unknown kind 'magic'; known: same_object, shares_memory, type, version"):
        student.fact("magic", "arr")
    with pytest.raises(ValueError, match="takes 2 name"):
        student.fact("shares_memory", "arr")


def test_a_result_too_large_to_send_fails_the_test_with_the_reason(ns):
    student = make_student(ns)
    with pytest.raises(CheckFailed, match=r"huge\(\) gave a value the grader cannot receive: .*more than 64 MiB"):
        student.call("huge")


ANSWERS = [
    "predicted_dtype = torch.int64\nshape = (2, 3)",
    "x = undefined_thing(",                                   # a cell with a syntax error is skipped
    "predicted_dtype = torch.float32\nsize = torch.Size([4])\nkinds = [np.float32, torch.int8]",
    "computed = torch.ones(2).dtype\nneg = -1.5\na, b = 1, 'two'\nannotated: int = 7",
    "def helper():\n    shape = (9, 9)\n",                   # inside a function: not the student's answer
]


def test_literal_reads_the_last_top_level_assignment_in_the_students_source(ns):
    student = make_student(ns, ANSWERS)
    assert student.literal("predicted_dtype") is torch.float32
    assert student.literal("shape") == (2, 3)
    assert student.literal("size") == torch.Size([4]) and type(student.literal("size")) is torch.Size
    assert student.literal("kinds") == [np.float32, torch.int8]
    assert student.literal("neg") == -1.5 and student.literal("b") == "two" and student.literal("annotated") == 7


def test_literal_refuses_computed_values_and_explains_a_missing_one(ns):
    student = make_student(ns, ANSWERS)
    with pytest.raises(CheckFailed, match="computed must be written as a literal, not computed"):
        student.literal("computed")
    with pytest.raises(CheckFailed, match="missing was not assigned: write your answer as `missing = ...`"):
        student.literal("missing")


def test_malformed_replies_fail_the_test_instead_of_passing_it():
    for reply in ("not json", "[1]", '{"ok": 1, "raised": 2}', '{"ok": {"%": "pickle"}}', '{"weird": 1}'):
        student = Student(lambda text, reply=reply: reply, list)
        with pytest.raises(CheckFailed):
            student.call("anything")


def test_inside_ipython_student_uses_the_notebook_namespace_and_input_history():
    """The real IPython shell: `from grading.checks import *` gives `student`, working on the cells run so far."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        for cell in ("from grading.checks import *\nimport torch",
                     "def double(t):\n    return t * 2",
                     "guess = torch.float64",
                     "guess = (1, 2)",
                     "got = student.call('double', torch.ones(2))\nlit = student.literal('guess')"):
            result = shell.run_cell(cell, store_history=True)
            assert result.success, result.error_in_exec
        assert torch.equal(shell.user_ns["got"], torch.full((2,), 2.))
        assert shell.user_ns["lit"] == (1, 2)
        assert shell.run_cell("assert student.has('double') and not student.has('triple')").success
    finally:
        InteractiveShell.clear_instance()
