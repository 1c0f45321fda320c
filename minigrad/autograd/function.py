"""`Function`: an operation's forward and backward side by side, as in torch.autograd.Function.

Calling `MyOp.apply(*args)` runs `forward(ctx, *args)` and, when some input requires grad
(and grad mode is on), keeps `ctx` as the output's `grad_fn`: a node of the graph whose edges
point at the inputs' own nodes (or at leaf tensors). The engine later calls
`backward(ctx, grad_output)` on it.

Built-in ops (`minigrad.ops`) set `_builtin = True`: their forward computes on the inputs'
arrays (`x.data`) and returns an array; user Functions compute with minigrad Tensors (with
grad recording off, as in torch) and return a Tensor. Backward rules always use minigrad
Tensors, so with `create_graph=True` the backward pass is itself recorded.
"""
from . import grad_mode as _gm

_FREED = object()  # marks saved tensors released after a backward without retain_graph

_FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


class Function:
    """Subclass with `@staticmethod forward(ctx, ...)` and `@staticmethod backward(ctx, grad)`;
    call with `YourFunction.apply(...)`. `backward` returns one gradient per forward argument
    (None for arguments that are not tensors or need no gradient), each of that input's shape."""

    __slots__ = ("_edges", "_saved", "_epoch", "_shape", "_dtype", "needs_input_grad",
                 "_retained", "__dict__", "__weakref__")
    _builtin = False       # forward works on arrays and returns an array
    _broadcasts = False    # the engine sums gradients back to each input's shape
    _saves_output = False  # built-ins: the output is appended to ctx.saved_tensors

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a Function subclass must define forward(ctx, ...)")

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError("a Function subclass must define backward(ctx, grad_output)")

    # -- ctx API ---------------------------------------------------------------------------
    def save_for_backward(self, *tensors):
        """Keep tensors for backward; an in-place change to one of them is detected later."""
        self._saved = tensors
        self._epoch = _EPOCH[0]

    @property
    def saved_tensors(self):
        saved = self._saved
        if saved is _FREED:
            raise RuntimeError(_FREED_MESSAGE)
        epoch = self._epoch
        for t in saved:
            if t is not None and t._version[0] > epoch:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: [{t.dtype.name} {list(t.shape)}] is at version "
                    f"{t._version[1]}, changed after {type(self).__name__} saved it for "
                    "backward. Use an out-of-place operation (x = x * 2, not x.mul_(2)) on "
                    "tensors the graph still needs."
                )
        return saved

    def mark_non_differentiable(self, *tensors):  # accepted for torch compatibility
        pass

    def set_materialize_grads(self, value):  # accepted for torch compatibility
        pass

    # -- graph node API ----------------------------------------------------------------------
    @property
    def next_functions(self):
        """(node, 0) pairs like torch: the input's grad_fn, the leaf tensor, or None."""
        return tuple((e, 0) for e in self._edges)

    def name(self):
        return type(self).__name__ + "Backward"

    def __repr__(self):
        return f"<{self.name()}>"

    @classmethod
    def apply(cls, *args):
        """Run forward; record a graph node when grad mode is on and an input requires grad."""
        needs = tuple([isinstance(a, Tensor) and a.requires_grad for a in args])
        track = _gm.state.enabled and True in needs
        if cls._builtin and not track:
            return _make(cls.forward(_NO_GRAPH, *args))
        ctx = _new(cls)
        ctx._saved, ctx._epoch = (), _EPOCH[0]
        ctx.needs_input_grad = needs
        if cls._builtin:
            out = _make(cls.forward(ctx, *args), True, ctx)
        else:
            prev, _gm.state.enabled = _gm.state.enabled, False
            try:
                result = cls.forward(ctx, *args)
            finally:
                _gm.state.enabled = prev
            if not isinstance(result, Tensor):
                raise TypeError(
                    f"{cls.__name__}.forward must return a minigrad Tensor, got "
                    f"{type(result).__name__}; wrap arrays with minigrad.tensor(...)."
                )
            out = _make(result.data, track, ctx if track else None)
            if track and any(s is result for s in ctx._saved):
                # As in torch: a saved output comes back in backward as the output itself,
                # grad_fn included, so double backward flows through it.
                ctx._saved = tuple(out if s is result else s for s in ctx._saved)
        if track:
            ctx._edges = tuple((a.grad_fn or a) if n else None for a, n in zip(args, needs))
            _finish_node(cls, ctx, out)
        return out

    # The same as apply, for built-ins with one or two tensor arguments: the hot path of
    # every arithmetic operator, written out so that it costs as few Python steps as possible.
    @classmethod
    def _apply1(cls, a, *params):
        """One tensor `a`, then non-tensor parameters (dim, shape, ...)."""
        if a.requires_grad and _gm.state.enabled:
            ctx = _new(cls)
            ctx._saved, ctx._epoch = (), _EPOCH[0]
            ctx.needs_input_grad = (True,) + (False,) * len(params)
            out = _make(cls.forward(ctx, a, *params), True, ctx)
            ctx._edges = (a.grad_fn or a,) + (None,) * len(params)
            data = out.data
            ctx._shape, ctx._dtype, ctx._retained = data.shape, data.dtype, None
            if cls._saves_output:
                ctx._saved += (out,)
            return out
        return _make(cls.forward(_NO_GRAPH, a, *params))

    @classmethod
    def _apply2(cls, a, b):
        ra, rb = a.requires_grad, b.requires_grad
        if (ra or rb) and _gm.state.enabled:
            ctx = _new(cls)
            ctx._saved, ctx._epoch = (), _EPOCH[0]
            ctx.needs_input_grad = (ra, rb)
            out = _make(cls.forward(ctx, a, b), True, ctx)
            ctx._edges = ((a.grad_fn or a) if ra else None, (b.grad_fn or b) if rb else None)
            data = out.data
            ctx._shape, ctx._dtype, ctx._retained = data.shape, data.dtype, None
            if cls._saves_output:
                ctx._saved += (out,)
            return out
        return _make(cls.forward(_NO_GRAPH, a, b))


def _finish_node(cls, ctx, out):
    data = out.data
    ctx._shape, ctx._dtype, ctx._retained = data.shape, data.dtype, None
    if cls._saves_output:
        ctx._saved += (out,)
    return out


class _NoGraph:
    """The ctx built-in forwards get when nothing is recorded: saving is a no-op."""

    def save_for_backward(self, *tensors):
        pass


_NO_GRAPH = _NoGraph()
_new = object.__new__


from ..tensor import _EPOCH, Tensor, _make  # noqa: E402  (Tensor imports ops, which import Function)
