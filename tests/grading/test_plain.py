"""grading.plain: values cross as JSON + .npy only, come back equal and fresh, and bad or oversized text is refused."""
import base64
import io
import json

import numpy as np
import pytest
import torch

import minigrad as mg
from grading import plain
from grading.plain import Opaque, PlainError, describe, dumps, loads, meta


def roundtrip(value):
    text = dumps(value)
    assert "pickle" not in text
    return loads(text)


@pytest.mark.parametrize("value", [None, True, False, 0, -7, 2 ** 100, 1.5, -0.0, "", "héllo", 3 - 4j, b"\x00\xff",
                                   [1, [2, [3]]], (1, "a", (None,)), {"a": 1, "b": [2.0]}, {1, 2}, frozenset({"x"}),
                                   torch.Size([2, 3]), torch.float64, torch.bfloat16, torch.device("cpu"),
                                   np.dtype("float32"), np.dtype(">i2"), np.int64, np.float32, mg.float64, mg.bool])
def test_plain_values_come_back_equal_and_of_the_same_type(value):
    got = roundtrip(value)
    assert type(got) is type(value) and got == value


def test_special_floats_are_tagged_not_json_constants():
    text = dumps([float("nan"), float("inf"), -float("inf")])
    assert "NaN" not in text and "Infinity" not in text
    got = loads(text)
    assert np.isnan(got[0]) and got[1:] == [float("inf"), -float("inf")]
    with pytest.raises(PlainError, match="special floats are tagged"):
        loads("[NaN]")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32,
                                   torch.int8, torch.uint8, torch.bool, torch.complex64, torch.complex128])
def test_tensors_keep_dtype_shape_and_values(dtype):
    t = (torch.arange(12, dtype=torch.float64).reshape(3, 4) - 5).to(dtype)
    got = roundtrip(t)
    assert type(got) is torch.Tensor and got.dtype == dtype and got.shape == (3, 4)
    assert torch.equal(got, t)


def test_views_conjugates_and_negative_views_are_sent_as_their_values():
    base = torch.arange(12.).reshape(3, 4)
    for t in (base.t(), base[:, ::2], torch.tensor([1 + 2j, 3 - 1j]).conj(), base[1]):
        got = roundtrip(t)
        assert torch.equal(got, t.resolve_conj()) and got.is_contiguous()


def test_a_decoded_tensor_is_a_fresh_leaf_with_the_senders_flags_in_meta():
    x = torch.tensor([1., 2., 3.], requires_grad=True)
    y = x * 2
    y.sum().backward()
    got_x, got_y = roundtrip([x, y])
    assert got_x.requires_grad and got_x.is_leaf and torch.equal(got_x.grad, torch.tensor([2., 2., 2.]))
    assert meta(got_x) == {"is_leaf": True, "grad_fn": None, "device": "cpu", "requires_grad": True}
    assert meta(got_y) == {"is_leaf": False, "grad_fn": "MulBackward0", "device": "cpu", "requires_grad": True}
    assert got_y.grad is None and got_y.is_leaf     # on the receiving side it has no graph
    got_x.data.add_(100)
    assert x[0].item() == 1.0                       # nothing is shared with the sender


def test_meta_of_a_tensor_made_here_reads_its_live_flags():
    x = torch.ones(2, requires_grad=True)
    assert meta(x.exp()) == {"is_leaf": False, "grad_fn": "ExpBackward0", "device": "cpu", "requires_grad": True}
    with pytest.raises(TypeError, match="needs a torch or minigrad tensor"):
        meta([1, 2])


def test_numpy_arrays_and_scalars_keep_their_numpy_types():
    arr = np.arange(6, dtype=np.int16).reshape(2, 3)[:, ::-1]
    got = roundtrip(arr)
    assert type(got) is np.ndarray and got.dtype == np.int16 and np.array_equal(got, arr) and got.flags.writeable
    for scalar in (np.float32(1.5), np.int64(-3), np.bool_(True), np.complex128(1j)):
        back = roundtrip(scalar)
        assert type(back) is type(scalar) and back == scalar
    strings = np.array(["ab", "c"])
    assert np.array_equal(roundtrip(strings), strings)


def test_minigrad_tensors_cross_with_grad_and_flags():
    x = mg.tensor([1.0, -2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    got_x, got_y = roundtrip((x, y))
    assert type(got_x) is mg.Tensor and got_x.requires_grad and got_x.dtype == mg.float32
    assert np.array_equal(got_x.detach().numpy(), [1.0, -2.0])
    assert np.array_equal(got_x.grad.numpy(), [2.0, -4.0])
    assert meta(got_x)["is_leaf"] and meta(got_x)["requires_grad"]
    assert not meta(got_y)["is_leaf"] and meta(got_y)["grad_fn"]


class _Sub(torch.Tensor):
    pass


@pytest.mark.parametrize("value, type_name", [
    (iter([1]), "list_iterator"), (object(), "object"), ({1: "a"}, "dict"), (np.array([None, 1]), "ndarray"),
    (torch.ones(2).as_subclass(_Sub), "_Sub"), (torch.ones(2).to_sparse(), "Tensor"), (len, "builtin_function_or_method"),
])
def test_anything_else_becomes_an_opaque_that_names_its_type_and_equals_nothing(value, type_name):
    got = roundtrip(value)
    assert type(got) is Opaque and got.type_name == type_name
    assert got != got and not (got == value) and type_name in repr(got)
    assert describe(got) == f"a {type_name}"


def test_an_opaques_repr_is_capped_and_a_failing_repr_is_survived():
    class Loud:
        def __repr__(self):
            return "x" * 10_000

    class Broken:
        def __repr__(self):
            raise RuntimeError("no")

    assert len(roundtrip(Loud()).text) <= plain.REPR_CAP
    assert "repr raised RuntimeError" in roundtrip(Broken()).text


def test_caps_refuse_deep_cyclic_large_and_long_values_with_the_reason():
    deep = []
    for _ in range(plain.MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(PlainError, match="nested more than 32 levels"):
        dumps(deep)
    loop = []
    loop.append(loop)
    with pytest.raises(PlainError, match="nested more than"):
        dumps(loop)
    with pytest.raises(PlainError, match="more than 64 MiB of array data"):
        dumps([np.zeros(plain.MAX_BYTES // 8), np.zeros(8)])
    with pytest.raises(PlainError, match="longer than"):
        dumps("x" * (plain.MAX_STR + 1))
    with pytest.raises(PlainError, match="more than 1000000 items"):
        dumps([0] * (plain.MAX_ITEMS + 1))
    with pytest.raises(PlainError, match="more than 4000 bits"):
        dumps(1 << 5000)


def _npy_text(header_shape, data: bytes, dtype="<f8") -> str:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": header_shape})
    return base64.b64encode(buf.getvalue() + data).decode()


def test_npy_headers_are_checked_against_the_data_before_anything_is_allocated():
    huge = json.dumps({"%": "ndarray", "npy": _npy_text((10 ** 6, 10 ** 6), b"\0" * 8)})
    with pytest.raises(PlainError, match=r"needs 8000000000000 bytes, got 8"):
        loads(huge)
    objects = json.dumps({"%": "ndarray", "npy": _npy_text((1,), b"\0" * 8, dtype="|O")})
    with pytest.raises(PlainError, match="not plain data"):
        loads(objects)
    with pytest.raises(PlainError, match="not base64"):
        loads(json.dumps({"%": "ndarray", "npy": "***"}))
    with pytest.raises(PlainError, match="not valid .npy"):
        loads(json.dumps({"%": "ndarray", "npy": base64.b64encode(b"garbage").decode()}))


@pytest.mark.parametrize("text, why", [
    ('{"a": 1}', "without a tag"), ('{"%": "pickle", "data": ""}', "unknown plain-data tag"),
    ('{"%": "torch.dtype", "name": "Tensor"}', "unknown torch dtype"), ('{"%": "np.type", "name": "load"}',
                                                                        "not a NumPy scalar type"),
    ('{"%": "np.dtype", "str": "O"}', "object dtype"), ('{"%": "dict", "items": [[1, 2]]}', "str key"),
    ('{"%": "float", "v": "1e999"}', "nan, inf or -inf"), ("[[[[", "not plain-data JSON"),
    (json.dumps({"%": "tensor", "dtype": "int64", "npy": _npy_text((1,), b"\0" * 8, "<i8"), "requires_grad": True}),
     "cannot require grad"),
    ('{"%": "set", "items": [[1]]}', "not hashable"),
])
def test_text_that_is_not_plain_data_is_refused_with_the_reason(text, why):
    with pytest.raises(PlainError, match=why):
        loads(text)


def test_describe_says_what_kind_of_value_it_is():
    assert describe(torch.zeros(3, 4)) == "a float32 tensor of shape (3, 4)"
    assert describe(torch.zeros(2, requires_grad=True)) == "a float32 tensor of shape (2,), requires_grad"
    assert describe(np.zeros((2,), np.int64)) == "a int64 NumPy array of shape (2,)"
    assert describe(mg.tensor([1.0])) == "a float32 minigrad Tensor of shape (1,)"
    assert describe([torch.ones(1), 2]) == "a list (a float32 tensor of shape (1,), 2)"
    assert describe(list(range(9))) == "a list of 9 items"
    assert describe(3) == "3" and describe(None) == "None" and describe("x" * 50) == "a str of 50 characters"
