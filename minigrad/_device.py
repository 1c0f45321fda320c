"""The one place where minigrad chooses between NumPy (cpu) and CuPy (cuda)."""
import numpy as np

_CUDA_MISSING = (
    "minigrad: device 'cuda' needs CuPy and an NVIDIA GPU; none found. Use device='cpu'."
)
_cupy = None


def cuda_is_available():
    """True when CuPy imports and sees at least one GPU."""
    global _cupy
    if _cupy is None:
        try:
            import cupy

            _cupy = cupy if cupy.cuda.runtime.getDeviceCount() > 0 else False
        except Exception:  # ImportError, or CUDA driver errors
            _cupy = False
    return bool(_cupy)


def normalize(device):
    """'cpu' or 'cuda' from a device string (or a Device); raises on anything else."""
    name = "cpu" if device is None else str(device)
    name = name.split(":")[0]
    if name not in ("cpu", "cuda"):
        raise RuntimeError(f"minigrad: unknown device {device!r}; use 'cpu' or 'cuda'.")
    if name == "cuda" and not cuda_is_available():
        raise RuntimeError(_CUDA_MISSING)
    return name


def array_module(device):
    """numpy for 'cpu', cupy for 'cuda'."""
    return _cupy if normalize(device) == "cuda" else np


def device_of(array):
    return "cpu" if isinstance(array, (np.ndarray, np.generic)) else "cuda"


def move(array, device):
    """Copy an array to a device (no copy when it is already there)."""
    target = normalize(device)
    if device_of(array) == target:
        return array
    return _cupy.asarray(array) if target == "cuda" else _cupy.asnumpy(array)


def to_numpy(array):
    return array if isinstance(array, np.ndarray) else _cupy.asnumpy(array)


class Device:
    """What `tensor.device` returns: compares equal to its name ('cpu' == tensor.device)."""

    __slots__ = ("type",)

    def __init__(self, type):
        self.type = type

    def __eq__(self, other):
        return str(other).split(":")[0] == self.type

    def __hash__(self):
        return hash(self.type)

    def __str__(self):
        return self.type

    def __repr__(self):
        return f"device(type='{self.type}')"


CPU, CUDA = Device("cpu"), Device("cuda")
