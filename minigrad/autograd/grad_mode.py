"""Whether operations record a graph: `no_grad`, `enable_grad`, `set_grad_enabled`."""
import functools
import inspect


class state:
    """Process-wide switch read by every operation (one attribute lookup)."""

    enabled = True


def is_grad_enabled():
    return state.enabled


class _GradMode:
    """Base of the three switches: a context manager that is also a decorator."""

    _mode = True

    def __enter__(self):
        self._prev = state.enabled
        state.enabled = self._mode

    def __exit__(self, *exc):
        state.enabled = self._prev

    def _same(self):
        return type(self)() if type(self) is not set_grad_enabled else set_grad_enabled(self._mode)

    def __call__(self, func):
        if inspect.isgeneratorfunction(func):
            return self._wrap_generator(func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self._same():
                return func(*args, **kwargs)

        return wrapper

    def _wrap_generator(self, func):
        """A generator runs in this mode each time it resumes, not only when it is created."""

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            gen = func(*args, **kwargs)
            sent, thrown = None, None
            while True:
                try:
                    with self._same():
                        item = gen.send(sent) if thrown is None else gen.throw(thrown)
                except StopIteration as stop:
                    return stop.value
                sent, thrown = None, None
                try:
                    sent = yield item
                except GeneratorExit:
                    with self._same():
                        gen.close()
                    raise
                except BaseException as e:  # noqa: BLE001 - handed to the wrapped generator
                    thrown = e

        return wrapper


class _NoParamGradMode(_GradMode):
    """Also usable as a bare decorator, `@no_grad` (as in torch 2)."""

    def __new__(cls, func=None):
        self = super().__new__(cls)
        return self if func is None else self(func)

    def __init__(self, func=None):
        pass


class no_grad(_NoParamGradMode):
    """Operations inside record no graph: `with minigrad.no_grad(): ...`, `@minigrad.no_grad()`
    or `@minigrad.no_grad`."""

    _mode = False


class enable_grad(_NoParamGradMode):
    """Turn recording back on inside a `no_grad` block."""

    _mode = True


class set_grad_enabled(_GradMode):
    """`set_grad_enabled(False)` switches at once (like torch); as a context manager it restores
    the previous mode on exit."""

    def __init__(self, mode):
        self._mode = bool(mode)
        self._prev = state.enabled
        state.enabled = self._mode

    def __enter__(self):
        pass

    def __call__(self, func):
        """As a decorator it only applies inside the function (it undoes the switch, as torch)."""
        state.enabled = self._prev
        return super().__call__(func)
