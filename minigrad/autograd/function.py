"""`Function`: an operation's forward and backward side by side, as in torch.autograd.Function.

Calling `MyOp.apply(*args)` runs `forward(ctx, *args)` and, when some input requires grad
(and grad mode is on), keeps `ctx` as the output's `grad_fn`: a node of the graph whose edges
point at the inputs' own nodes (or at leaf tensors). The engine later calls
`backward(ctx, grad_output)` on it.

Built-in ops (`minigrad.ops`) set `_builtin = True`: their forward computes on the inputs'
arrays (`x.array`) and returns an array; user Functions compute with minigrad Tensors (with
grad recording off, as in torch) and return a Tensor. Backward rules always use minigrad
Tensors, so with `create_graph=True` the backward pass is itself recorded.
"""
import functools

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

    __slots__ = ("_edges", "_saved", "_epoch", "_shape", "_dtype", "_needs",
                 "_hooks", "__dict__", "__weakref__")
    _builtin = False       # forward works on arrays and returns an array
    _broadcasts = False    # the engine sums gradients back to each input's shape
    _saves_output = False  # built-ins: the output is appended to ctx.saved_tensors
    _materialize = True    # see set_materialize_grads
    _non_diff = ()         # see mark_non_differentiable

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

    @property
    def needs_input_grad(self):
        """One flag per forward argument: does it need a gradient? (Built-ins read it off their
        edges rather than keep a tuple per node.)"""
        try:
            return self._needs
        except AttributeError:
            return tuple([e is not None for e in self._edges])

    def mark_non_differentiable(self, *tensors):
        """Outputs that get no gradient (requires_grad=False); backward receives zeros for them."""
        self._non_diff = {id(t) for t in tensors}

    def set_materialize_grads(self, value):
        """With False, backward receives None (not zeros) for outputs that got no gradient."""
        self._materialize = bool(value)

    # -- graph node API ----------------------------------------------------------------------
    @property
    def next_functions(self):
        """(node, 0) pairs like torch: the input's grad_fn, the leaf tensor, or None."""
        return tuple((e, 0) for e in self._edges)

    _name = None  # the name torch prints for this node (AddBackward0, ...)

    def name(self):
        return self._name or type(self).__name__ + "Backward"

    def __repr__(self):
        return f"<{self.name()}>"

    @classmethod
    def apply(cls, *args):
        """Run forward; record a graph node when grad mode is on and an input requires grad."""
        needs = tuple([isinstance(a, Tensor) and a.requires_grad for a in args])
        track = _gm.state.enabled and True in needs
        builtin = cls._builtin
        if builtin and not track:
            return _make(cls.forward(_NO_GRAPH, *args))
        ctx = _new(cls)
        ctx._saved, ctx._epoch = (), _EPOCH[0]
        ctx._needs = needs
        if builtin:
            out = _make(cls.forward(ctx, *args), True, ctx)
            ctx._edges = tuple([(a.grad_fn or a) if n else None for a, n in zip(args, needs)])
            return _finish_node(cls, ctx, out)
        # a user Function: forward runs on Tensors with recording off, as in torch
        prev, _gm.state.enabled = _gm.state.enabled, False
        try:
            result = cls.forward(ctx, *args)
        finally:
            _gm.state.enabled = prev
        out = _wrap_outputs(cls, ctx, result, track)
        if track:
            ctx._edges = tuple([(a.grad_fn or a) if n else None for a, n in zip(args, needs)])
        return out

    # The same as apply, for built-ins with one or two tensor arguments: the hot path of
    # every arithmetic operator, written out so that it costs as few Python steps as possible.
    @classmethod
    def _apply1(cls, a, *params):
        """One tensor `a`, then non-tensor parameters (dim, shape, ...)."""
        if a.requires_grad and _gm.state.enabled:
            ctx = _new(cls)
            ctx._saved, ctx._epoch = (), _EPOCH[0]
            ctx._edges = (a.grad_fn or a,) + (None,) * len(params) if params else (a.grad_fn or a,)
            out = _make(cls.forward(ctx, a, *params), True, ctx)
            data = out.array
            ctx._shape, ctx._dtype, ctx._hooks = data.shape, data.dtype, None
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
            ctx._edges = ((a.grad_fn or a) if ra else None, (b.grad_fn or b) if rb else None)
            out = _make(cls.forward(ctx, a, b), True, ctx)
            data = out.array
            ctx._shape, ctx._dtype, ctx._hooks = data.shape, data.dtype, None
            if cls._saves_output:
                ctx._saved += (out,)
            return out
        return _make(cls.forward(_NO_GRAPH, a, b))


def _finish_node(cls, ctx, out):
    data = out.array
    ctx._shape, ctx._dtype, ctx._hooks = data.shape, data.dtype, None
    if cls._saves_output:
        ctx._saved += (out,)
    return out


def _wrap_outputs(cls, ctx, result, track):
    """The outputs of a user Function's forward as new tensors of the graph. One output gets
    `ctx` as grad_fn; with several, output i gets a FunctionOutput node that hands its gradient
    to slot i of ctx, whose backward then receives one gradient per output."""
    multi = isinstance(result, tuple)
    results = result if multi else (result,)
    for r in results:
        if not isinstance(r, Tensor) and not multi:
            raise TypeError(
                f"{cls.__name__}.forward must return a minigrad Tensor (or a tuple), got "
                f"{type(r).__name__}; wrap arrays with minigrad.tensor(...)."
            )
    if track and multi:
        ctx._shape = ctx._dtype = None
        ctx._hooks = None
        ctx._outputs = tuple((r.array.shape, r.array.dtype) if isinstance(r, Tensor) else None
                             for r in results)
        ctx.backward = _backward_of_several
    outs, by_id = [], {}
    for i, r in enumerate(results):
        if not isinstance(r, Tensor):
            outs.append(r)
            continue
        diff = track and id(r) not in ctx._non_diff and r.array.dtype.kind == "f"
        node = None
        if diff:
            node = FunctionOutput.of(ctx, i, r) if multi else ctx
        o = _make(r.array, diff, node)
        by_id[id(r)] = o
        outs.append(o)
        if node is ctx:
            ctx._shape, ctx._dtype, ctx._hooks = r.array.shape, r.array.dtype, None
    if track and ctx._saved:
        # As in torch: a saved output comes back in backward as the output itself, grad_fn
        # included, so double backward flows through it.
        ctx._saved = tuple(by_id.get(id(s), s) for s in ctx._saved)
    return tuple(outs) if multi else outs[0]


class OutputGrads:
    """The gradients of the outputs of a Function with several outputs (None: not reached)."""

    __slots__ = ("grads",)

    def __init__(self, grads):
        self.grads = grads

    def __add__(self, other):
        return OutputGrads([b if a is None else a if b is None else a + b
                            for a, b in zip(self.grads, other.grads)])


class FunctionOutput(Function):
    """Output `index` of a Function with several outputs: passes its gradient on to that
    Function's slot `index`. Named and printed as the Function itself."""

    @classmethod
    def of(cls, fn, index, out):
        node = _new(cls)
        node._saved, node._epoch = (), _EPOCH[0]
        node.fn, node.index, node._edges = fn, index, (fn,)
        node._shape, node._dtype, node._hooks = out.array.shape, out.array.dtype, None
        return node

    @staticmethod
    def backward(ctx, g):
        grads = [None] * len(ctx.fn._outputs)
        grads[ctx.index] = g
        return OutputGrads(grads)

    def name(self):
        return self.fn.name()


def _backward_of_several(ctx, received):
    """Call a several-output Function's backward with one gradient per output (zeros, or None
    after set_materialize_grads(False), for outputs that got none)."""
    grads = list(received.grads)
    for i, (g, meta) in enumerate(zip(grads, ctx._outputs)):
        if g is None and meta is not None and ctx._materialize:
            grads[i] = _make(_zeros(meta[0], meta[1]))
    return type(ctx).backward(ctx, *grads)


def once_differentiable(backward):
    """Decorate a Function's backward that is not itself differentiable: it runs without
    recording, and differentiating its result (create_graph=True) raises."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with _gm.no_grad():
            result = backward(ctx, *grads)
        if not _gm.state.enabled:
            return result
        watched = [g for g in grads if isinstance(g, Tensor) and g.requires_grad]
        if not watched:
            return result
        many = isinstance(result, tuple)
        wrapped = tuple(_DelayedError.apply(r, *watched) if isinstance(r, Tensor) else r
                        for r in (result if many else (result,)))
        return wrapped if many else wrapped[0]

    return wrapper


class _DelayedError(Function):
    """Stands for the result of a once_differentiable backward; differentiating it raises."""

    @staticmethod
    def forward(ctx, r, *watched):
        return _make(r.array)

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("trying to differentiate twice a function that was marked with "
                           "@once_differentiable")

    def name(self):
        return "DelayedError"


def _zeros(shape, dtype):
    import numpy as np

    return np.zeros(shape, dtype=dtype)


class _NoGraph:
    """The ctx built-in forwards get when nothing is recorded: saving is a no-op."""

    def save_for_backward(self, *tensors):
        pass


_NO_GRAPH = _NoGraph()
_new = object.__new__


from ..tensor import _EPOCH, Tensor, _make  # noqa: E402  (Tensor imports ops, which import Function)
