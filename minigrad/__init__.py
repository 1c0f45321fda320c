"""minigrad: a small autograd engine whose API mirrors PyTorch's.

    import minigrad as mg
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad  # tensor([2., 4.])
"""
from . import autograd  # first: the engine modules are imported in dependency order from here
from ._device import Device as device
from ._device import cuda_is_available
from ._dtype import bool_ as bool  # noqa: A001  (torch.bool)
from ._dtype import dtype, float32, float64, int64
from .autograd import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like,
                       linspace, manual_seed, ones, ones_like, rand, rand_like, randint, randn,
                       randn_like, tensor, zeros, zeros_like)
from .functions import (abs, add, all, any, floor_divide, remainder, allclose, amax, amin, argmax, argmin, cat, clamp, cos, div, eq,
                        equal, exp, flatten, ge, gt, isfinite, isnan, le, log, log_softmax,
                        logical_and, logical_not, logical_or, logsumexp, lt, matmul, max, maximum,
                        mean, min, minimum, mul, ne, neg, permute, pow, relu, reshape, sigmoid, sign,
                        sin, softmax, sqrt, squeeze, stack, sub, sum, t, tanh, transpose, unsqueeze,
                        where)
from .tensor import Tensor
from . import nn, optim, testing, viz  # noqa: E402

float = float32  # noqa: A001  (torch.float is float32)
double = float64
long = int64
clip = clamp
__version__ = "0.1.0"


class cuda:
    """`minigrad.cuda.is_available()`, as `torch.cuda.is_available()`."""

    is_available = staticmethod(cuda_is_available)
