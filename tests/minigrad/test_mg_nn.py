"""minigrad.nn and minigrad.optim against torch.nn / torch.optim with the same weights."""
import numpy as np
import pytest
import torch

import minigrad as mg


def copy_weights(mg_model, torch_model):
    """Give the minigrad model the torch model's initial parameters."""
    for (mn, mp), (tn, tp) in zip(mg_model.named_parameters(), torch_model.named_parameters()):
        assert mn == tn
        mp.array[...] = tp.detach().numpy()


def build(lib, sizes, act):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(lib.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(getattr(lib.nn, act)())
    return lib.nn.Sequential(*layers)


@pytest.mark.parametrize("act", ["Tanh", "ReLU", "Sigmoid"])
@pytest.mark.parametrize("loss", ["mse_loss", "binary_cross_entropy_with_logits"])
def test_mlp_training_steps_match_torch(act, loss):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 2)).astype(np.float32)
    y = (X[:, :1] * X[:, 1:] > 0).astype(np.float32)
    torch.manual_seed(0)
    tm = build(torch, [2, 16, 16, 1], act)
    mm = build(mg, [2, 16, 16, 1], act)
    copy_weights(mm, tm)
    opts = {"torch": torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9),
            "minigrad": mg.optim.SGD(mm.parameters(), lr=0.1, momentum=0.9)}
    losses = {"torch": [], "minigrad": []}
    for _ in range(5):
        for lib, model in ((torch, tm), (mg, mm)):
            opt = opts[lib.__name__]
            opt.zero_grad()
            out = getattr(lib.nn.functional, loss)(model(lib.tensor(X)), lib.tensor(y))
            out.backward()
            opt.step()
            losses[lib.__name__].append(out.item())
    np.testing.assert_allclose(losses["minigrad"], losses["torch"], rtol=1e-4, atol=1e-6)
    for (_, mp), (_, tp) in zip(mm.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(mp.detach().numpy(), tp.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_logistic_neuron_learns():
    """The course's logistic neuron: sigmoid(w.x + b) trained with BCE-with-logits."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 2)).astype(np.float32)
    y = (X @ np.array([2.0, -1.0], np.float32) + 0.5 > 0).astype(np.float32)[:, None]
    model = mg.nn.Linear(2, 1)
    opt = mg.optim.SGD(model.parameters(), lr=0.5)
    Xt, yt = mg.tensor(X), mg.tensor(y)
    for _ in range(200):
        opt.zero_grad()
        loss = mg.nn.functional.binary_cross_entropy_with_logits(model(Xt), yt)
        loss.backward()
        opt.step()
    acc = ((model(Xt) > 0).float() == yt).float().mean().item()
    assert acc > 0.95 and loss.item() < 0.2


def test_losses_match_torch_including_extreme_logits():
    logits = np.array([[-120.0], [-3.0], [0.0], [2.5], [150.0]], np.float32)
    target = np.array([[0.0], [1.0], [0.5], [0.0], [1.0]], np.float32)
    from minigrad.testing import compare_with_torch

    for reduction in ("mean", "sum", "none"):
        compare_with_torch(lambda lib, x, t: lib.nn.functional.binary_cross_entropy_with_logits(
            x, t, reduction=reduction), logits, target)
        compare_with_torch(lambda lib, x, t: lib.nn.functional.mse_loss(x, t, reduction=reduction),
                           logits, target)
    compare_with_torch(lambda lib, x, t: lib.nn.functional.binary_cross_entropy_with_logits(
        x, t, pos_weight=lib.tensor([3.0])), logits, target)


def test_zero_grad_set_to_none_and_zeros():
    for lib in (mg, torch):
        p = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([p], lr=0.1)
        (p * 2).sum().backward()
        g = p.grad
        opt.zero_grad(set_to_none=False)
        assert p.grad is g and p.grad.tolist() == [0.0, 0.0]  # the buffer is kept, zeroed
        opt.zero_grad()  # default: set_to_none=True frees it
        assert p.grad is None


def test_module_parameters_and_repr():
    m = mg.nn.Sequential(mg.nn.Linear(2, 3), mg.nn.Tanh(), mg.nn.Linear(3, 1))
    names = [n for n, _ in m.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(isinstance(p, mg.nn.Parameter) and p.requires_grad for p in m.parameters())
    assert "Linear(in_features=2, out_features=3, bias=True)" in repr(m)
    with pytest.raises(ValueError, match="target size"):
        mg.nn.functional.mse_loss(mg.ones(3, 1), mg.ones(3))
