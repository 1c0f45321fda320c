"""The course's own tooling: the notebooks' helper module, the nbval sanitize file and the
script that re-executes the notebooks."""
import configparser
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

COURSE_DIR = Path(__file__).resolve().parent.parent / "course"
sys.path.insert(0, str(COURSE_DIR))
import _course_catalog  # noqa: E402
import _course_utils  # noqa: E402


def test_best_device_matches_what_torch_reports():
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert _course_utils.best_device() == torch.device(expected)


def test_show_error_prints_type_and_first_line(capsys):
    _course_utils.show_error(lambda: torch.ones(2, 3) + torch.ones(3, 2))
    _course_utils.show_error(lambda: None)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["RuntimeError: The size of tensor a (3) must match the size of tensor b (2) "
                     "at non-singleton dimension 1", "no error"]


def test_autograd_graph_finds_every_node_once_and_layers_them():
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(2, requires_grad=True)
    out = (a * a + b).sum()                    # a feeds MulBackward0 twice: one node, two edges
    nodes, edges = _course_utils.autograd_graph(out, {"a": a, "b": b, "out": out})
    labels = sorted(label.split("\n")[0] for label, _ in nodes.values())
    assert labels == ["AddBackward0", "MulBackward0", "leaf a", "leaf b", "out"]
    depth = {label.split("\n")[0]: d for label, d in nodes.values()}
    assert depth["out"] == 0 and depth["AddBackward0"] == 1 and depth["MulBackward0"] == 2
    assert depth["leaf a"] == 3                # below MulBackward0, the longest path
    assert len(edges) == 5                     # sum->add, add->mul, add->b, mul->a twice


def test_plots_render_without_error():
    plt = _course_utils.setup_plots()
    plt.switch_backend("Agg")
    x = torch.linspace(-1, 1, 5, requires_grad=True)
    _course_utils.plot_function_and_derivative(x, x ** 2, 2 * x, "f", "f'")
    _course_utils.plot_unit_square_map([[2.0, -1.0], [1.0, 2.0]])
    _course_utils.plot_loss([1.0, 0.5, 0.25])
    _course_utils.plot_loss({"a": [1.0, 0.5], "b": [1.0, 0.7]})
    _course_utils.plot_autograd_graph((x * 2).sum(), {"x": x})
    assert len(plt.get_fignums()) == 5
    plt.close("all")


def test_autograd_graph_arrows_point_the_way_the_forward_pass_went():
    plt = _course_utils.setup_plots()
    plt.switch_backend("Agg")
    w = torch.tensor(2.0, requires_grad=True)
    out = torch.sigmoid(w * 3.0)
    _course_utils.plot_autograd_graph(out, {"w": w, "out": out})
    ax = plt.gcf().axes[0]
    arrows = [a for a in ax.texts if getattr(a, "arrow_patch", None) is not None]
    assert len(arrows) == 2  # leaf w -> MulBackward0 -> SigmoidBackward0
    for arrow in arrows:
        head_y, tail_y = arrow.xy[1], arrow.xyann[1]
        assert head_y > tail_y, "an arrow points down, from the output towards the leaves"
    assert "forward pass" in ax.get_title() and "reverse" in ax.get_title()
    plt.close("all")


def test_jittered_range_dataset_draws_from_torch_and_numpy_generators():
    import numpy as np

    data = _course_utils.JitteredRange(3)
    torch.manual_seed(0)
    np.random.seed(0)
    first = torch.stack([data[i] for i in range(3)])
    torch.manual_seed(0)
    np.random.seed(0)
    assert torch.equal(first, torch.stack([data[i] for i in range(3)]))
    assert first[:, 0].tolist() == [0.0, 1.0, 2.0] and len(data) == 3


def sanitize_rules():
    """The (regex, replacement) pairs of course/sanitize.cfg, read the way nbval reads them."""
    parser = configparser.ConfigParser()
    parser.read(COURSE_DIR / "sanitize.cfg")
    return [(re.compile(parser.get(s, "regex")), parser.get(s, "replace")) for s in parser.sections()]


def sanitize(text):
    for pattern, replacement in sanitize_rules():
        text = pattern.sub(replacement, text)
    return text


def test_sanitize_masks_memory_addresses():
    one = "<AddBackward0 object at 0x7f3a12bc4e80>"
    other = "<AddBackward0 object at 0x7f00deadbeef>"
    assert sanitize(one) == sanitize(other) == "<AddBackward0 object at 0xADDRESS>"


def test_sanitize_masks_the_kernels_cell_file_names():
    warning = "/tmp/ipykernel_4242/1234567.py:3: UserWarning: careful"
    assert sanitize(warning) == "<cell>:3: UserWarning: careful"


def test_sanitize_leaves_ordinary_output_alone():
    text = "tensor([[10., 13.],\n        [28., 40.]]) cpu 1.0"
    assert sanitize(text) == text


def test_catalog_rejects_an_unknown_notebook_with_the_known_ones():
    with pytest.raises(ValueError, match="Unknown course notebook '99_nope'.*00_welcome"):
        _course_catalog.notebook_path("99_nope")


def test_execute_script_reports_an_unknown_notebook():
    result = subprocess.run([sys.executable, str(COURSE_DIR / "execute.py"), "99_nope"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "Unknown course notebook '99_nope'" in result.stderr


def test_execute_runs_a_notebook_in_course_dir_with_a_fixed_hash_seed(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONHASHSEED", "random")
    import execute

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import os, pathlib; print(pathlib.Path.cwd().name, os.environ['PYTHONHASHSEED'])"),
        nbformat.v4.new_code_cell("hash('course') == hash('course')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    seconds = execute.execute(path)
    done = nbformat.read(path, as_version=4)
    assert seconds > 0
    assert done.cells[0].outputs[0].text == f"course {execute.HASH_SEED}\n"
    assert done.cells[1].outputs[0].data["text/plain"] == "True"
    assert all("execution" not in cell.metadata for cell in done.cells)


def test_coalesce_streams_merges_consecutive_chunks_of_the_same_stream_only():
    import execute

    out = nbformat.v4.new_output
    cell = nbformat.v4.new_code_cell("print('a'); print('b')")
    cell.outputs = [out("stream", name="stdout", text="abs'  : "), out("stream", name="stdout", text="x\n"),
                    out("stream", name="stderr", text="warn\n"),
                    out("execute_result", data={"text/plain": "1"}, execution_count=1),
                    out("stream", name="stdout", text="after\n")]
    nb = nbformat.v4.new_notebook(cells=[cell, nbformat.v4.new_markdown_cell("text")])
    execute.coalesce_streams(nb)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in nb.cells[0].outputs] == [
        ("stream", "stdout", "abs'  : x\n"), ("stream", "stderr", "warn\n"),
        ("execute_result", None, None), ("stream", "stdout", "after\n")]
