"""Functions of `torch.nn.functional` that the course needs."""
from .. import functions as ops
from ..ops import MseLoss


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction; use 'mean', 'sum' or 'none'")


def _same_shape(input, target, name):
    if input.shape != target.shape:
        raise ValueError(
            f"{name}: target size ({list(target.shape)}) must be the same as input size "
            f"({list(input.shape)}); reshape one of them (e.g. target.view(-1, 1))."
        )


def mse_loss(input, target, reduction="mean"):
    """Mean of squared differences."""
    _same_shape(input, target, "mse_loss")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction; use 'mean', 'sum' or 'none'")
    input, target = ops._operands(input, target)
    return MseLoss.apply(input, target, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """-[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))], computed stably from the logits x as
    max(x, 0) - x*y + log(1 + exp(-|x|)): no clamp, no overflow, exact gradients. (`maximum`
    splits its gradient at x = 0 and abs'(0) = 0, so the slope at 0 is sigmoid(0) = 1/2.)"""
    _same_shape(input, target, "binary_cross_entropy_with_logits")
    if pos_weight is not None:
        log_weight = (pos_weight - 1) * target + 1
        loss = (1 - target) * input + log_weight * (((-(input.abs())).exp() + 1).log() + ops.maximum(-input, 0.0))
    else:
        loss = ops.maximum(input, 0.0) - input * target + ((-(input.abs())).exp() + 1).log()
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """On probabilities; log is clamped at -100 as torch does. Prefer the _with_logits version."""
    _same_shape(input, target, "binary_cross_entropy")
    loss = -(target * ops.clamp(input.log(), min=-100) + (1 - target) * ops.clamp((1 - input).log(), min=-100))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


linear = ops.linear


relu = ops.relu
sigmoid = ops.sigmoid
tanh = ops.tanh
softmax = ops.softmax
log_softmax = ops.log_softmax
