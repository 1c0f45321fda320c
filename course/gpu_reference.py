"""Record the GPU reference that notebooks 01 and 04 plot beside the reader's own measurement.

    make gpu-reference                          # on a machine with an NVIDIA GPU
    .venv/bin/python course/gpu_reference.py    # the same; --output PATH to write elsewhere

Measures, on this machine: n x n matrix products on the CPU (torch.utils.benchmark) and on the GPU
(CUDA events); one large product timed wrongly (CPU clock, no synchronize) and rightly (CUDA events);
and a host-to-GPU copy from pageable and from pinned memory. Writes them, dated and with the device's
name, to course/data/gpu_reference.json. Refuses to run without CUDA: the course ships no invented numbers.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _gpu_reference import REFERENCE_PATH, SCHEMA, validate  # noqa: E402
from _timing import (copy_ms, cuda_event_ms, machine_description, matmul_measurements,  # noqa: E402
                     unsynchronized_ms)

SIZES = [32, 64, 128, 256, 512, 1024, 2048, 4096]
MISTAKE_N = 4096
COPY_MB = 256


def require_cuda() -> None:
    if not torch.cuda.is_available():
        raise SystemExit(
            "No CUDA device found (torch.cuda.is_available() is False). The GPU reference must be measured "
            "on a real NVIDIA GPU: run `make gpu-reference` on such a machine, with a CUDA build of torch."
        )


def measure() -> dict:
    """Every number of the reference, measured now on this machine's CPU and first GPU."""
    require_cuda()
    gpu = torch.device("cuda")
    cpu_ms = [m.median * 1e3 for m in matmul_measurements(SIZES, "cpu")]
    gpu_ms = []
    generator = torch.Generator().manual_seed(0)
    for n in SIZES:
        a = torch.randn(n, n, generator=generator).to(gpu)
        b = torch.randn(n, n, generator=generator).to(gpu)
        gpu_ms.append(cuda_event_ms(lambda: a @ b))
    a = torch.randn(MISTAKE_N, MISTAKE_N, device=gpu)
    b = torch.randn(MISTAKE_N, MISTAKE_N, device=gpu)
    return {
        "schema": SCHEMA,
        "recorded": datetime.date.today().isoformat(),
        "device": torch.cuda.get_device_name(gpu),
        "cpu": machine_description("cpu"),
        "torch": torch.__version__,
        "cuda": torch.version.cuda or "",
        "matmul": {"sizes": SIZES, "cpu_ms": cpu_ms, "gpu_ms": gpu_ms, "gpu_timer": "CUDA events",
                   "cpu_timer": "torch.utils.benchmark, median"},
        "timer_mistake": {"n": MISTAKE_N, "unsynchronized_ms": unsynchronized_ms(lambda: a @ b),
                          "cuda_events_ms": cuda_event_ms(lambda: a @ b)},
        "copies": {"megabytes": COPY_MB, "pageable_ms": copy_ms(COPY_MB, pinned=False),
                   "pinned_ms": copy_ms(COPY_MB, pinned=True)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REFERENCE_PATH, help="where to write the JSON")
    args = parser.parse_args(argv)
    reference = validate(measure())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(reference, indent=2) + "\n")
    print(f"wrote {args.output}: {reference['device']}, {reference['recorded']}")
    print("Now re-execute 01 and 04 (`make notebooks`) and commit the JSON with the notebooks.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
