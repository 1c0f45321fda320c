"""Automatic differentiation: `Function`, `backward`, `grad`, grad modes and `functional`."""
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .function import Function
from .engine import backward, grad
from . import functional

__all__ = ["Function", "backward", "grad", "functional", "no_grad", "enable_grad",
           "set_grad_enabled", "is_grad_enabled"]
