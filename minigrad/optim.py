"""`SGD`, with momentum and weight decay as in torch.optim.SGD."""
from .tensor import _bump_version, zero_grads


class SGD:
    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self._velocity = [None] * len(self.params)

    def zero_grad(self, set_to_none=True):
        """Forget the gradients: set to None (frees them; the default) or fill with zeros."""
        zero_grads(self.params, set_to_none)

    def step(self):
        """p <- p - lr * (grad + weight_decay * p), with momentum buffers when momentum > 0.
        It updates the parameters' arrays in place, so it records nothing in any grad mode
        (torch runs its step under no_grad for the same effect)."""
        lr, wd, momentum = self.lr, self.weight_decay, self.momentum
        for i, p in enumerate(self.params):
            grad = p.grad
            if grad is None:
                continue
            d = grad.array
            if wd:
                d = d + wd * p.array
            if momentum:
                v = self._velocity[i]
                v = d.copy() if v is None else momentum * v + d
                self._velocity[i] = d = v
            p.array -= lr * d
            _bump_version(p)
