"""The GPU reference: the command that records it, the checks on the stored data, and what notebooks 01 and 04
show with and without it. No test invents numbers for the course: synthetic references live in tmp_path only."""
import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

COURSE_DIR = Path(__file__).resolve().parent.parent / "course"
sys.path.insert(0, str(COURSE_DIR))
import _gpu_reference  # noqa: E402
import _timing  # noqa: E402
from _course_catalog import output_text, read_notebook  # noqa: E402

# the shape of a real reference; the numbers are placeholders that never leave tmp_path
SAMPLE = {
    "schema": 1, "recorded": "2026-01-31", "device": "Some GPU", "cpu": "CPU x86_64, 16 threads",
    "torch": "2.13.0", "cuda": "12.6",
    "matmul": {"sizes": [32, 64], "cpu_ms": [0.01, 0.05], "gpu_ms": [0.02, 0.02]},
    "timer_mistake": {"n": 4096, "unsynchronized_ms": 0.01, "cuda_events_ms": 1.5},
    "copies": {"megabytes": 256, "pageable_ms": 20.0, "pinned_ms": 10.0},
}


def written(tmp_path, reference) -> Path:
    path = tmp_path / "gpu_reference.json"
    path.write_text(json.dumps(reference))
    return path


def test_an_absent_reference_loads_as_none_and_says_how_to_record_it(tmp_path):
    assert _gpu_reference.load_reference(tmp_path / "none.json") is None
    message = _gpu_reference.describe(None)
    assert "not recorded yet" in message and "make gpu-reference" in message


def test_a_complete_reference_loads_and_is_described_by_device_and_date(tmp_path):
    reference = _gpu_reference.load_reference(written(tmp_path, SAMPLE))
    assert reference == SAMPLE
    assert _gpu_reference.describe(reference).startswith("GPU reference: Some GPU, recorded 2026-01-31")


@pytest.mark.parametrize("mutate,message", [
    (lambda r: r["copies"].pop("pinned_ms"), "lacks 'copies.pinned_ms'"),
    (lambda r: r.update(device=None), "'device' should be str, found NoneType"),
    (lambda r: r.update(recorded="31/01/2026"), "should be a date YYYY-MM-DD"),
    (lambda r: r.update(schema=99), "schema 99"),
    (lambda r: r["matmul"]["gpu_ms"].pop(), "one CPU and one GPU time per size"),
])
def test_a_broken_reference_is_refused_naming_the_problem_and_the_fix(tmp_path, mutate, message):
    broken = copy.deepcopy(SAMPLE)
    mutate(broken)
    with pytest.raises(ValueError, match="Re-record|YYYY") as error:
        _gpu_reference.load_reference(written(tmp_path, broken))
    assert message in str(error.value)


def test_the_charts_render_with_and_without_a_reference():
    import matplotlib.pyplot as plt

    plt.switch_backend("Agg")
    _gpu_reference.plot_matmul_with_reference([32, 64], {"cpu": [0.01, 0.04]}, None, "CPU x86_64")
    texts = [t.get_text() for t in plt.gcf().axes[0].texts]
    assert any("not recorded yet" in t for t in texts)
    _gpu_reference.plot_matmul_with_reference([32, 64], {"cpu": [0.01, 0.04]}, SAMPLE, "CPU x86_64")
    labels = plt.gcf().axes[0].get_legend_handles_labels()[1]
    assert "reference Some GPU" in labels and "reference CPU" in labels
    _gpu_reference.plot_gpu_timing_reference(None)
    assert all("not recorded yet" in ax.texts[0].get_text() for ax in plt.gcf().axes)
    _gpu_reference.plot_gpu_timing_reference(SAMPLE, own={k: SAMPLE[k] for k in ("timer_mistake", "copies")})
    assert [len(ax.patches) for ax in plt.gcf().axes] == [4, 4]   # reference and own bars, two each
    plt.close("all")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_the_record_command_refuses_without_cuda_and_writes_nothing(tmp_path):
    target = tmp_path / "out.json"
    result = subprocess.run([sys.executable, str(COURSE_DIR / "gpu_reference.py"), "--output", str(target)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "No CUDA device found" in result.stderr and "make gpu-reference" in result.stderr
    assert not target.exists()


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_record_command_writes_a_valid_reference_on_a_gpu(tmp_path):
    target = tmp_path / "out.json"
    subprocess.run([sys.executable, str(COURSE_DIR / "gpu_reference.py"), "--output", str(target)],
                   check=True, timeout=600)
    reference = _gpu_reference.load_reference(target)
    assert reference["device"] == torch.cuda.get_device_name(0)
    assert reference["timer_mistake"]["unsynchronized_ms"] < reference["timer_mistake"]["cuda_events_ms"]


def test_matmul_measurements_use_torch_utils_benchmark():
    measurements = _timing.matmul_measurements([8, 16], "cpu", min_run_time=0.01)
    assert [m.task_spec.sub_label for m in measurements] == ["n = 8", "n = 16"]
    assert all(m.median > 0 for m in measurements)
    assert _timing.ratios_per_doubling([1.0, 3.0, 12.0]) == [3.0, 4.0]


def notebook_outputs(stem: str) -> str:
    return "\n".join(output_text(o) for c in read_notebook(stem).cells for o in c.get("outputs", []))


@pytest.mark.parametrize("stem", ["01_what_is_pytorch", "04_devices"])
def test_stored_notebooks_show_the_reference_state_of_this_checkout(stem):
    reference = _gpu_reference.load_reference()
    outputs = notebook_outputs(stem)
    if reference is None:
        assert _gpu_reference.not_recorded_message() in outputs
    else:
        assert "cpu" not in reference["device"].lower()
        assert _gpu_reference.describe(reference) in outputs
