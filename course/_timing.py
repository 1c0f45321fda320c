"""Measurements shared by notebooks 01 and 04 and by the GPU reference command (course/gpu_reference.py).

Each function measures one thing the course teaches about speed: a matrix product with
`torch.utils.benchmark` (which synchronizes CUDA for us), a CUDA call timed with events, the same call
timed wrongly with an unsynchronized clock, and host-to-GPU copies from pageable and pinned memory.
"""
from __future__ import annotations

import platform
import statistics
import time
from pathlib import Path

import torch
import torch.utils.benchmark as benchmark


def machine_description(device) -> str:
    """One line naming what was measured: the CPU (and its threads) or the GPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    return f"CPU {cpu_model()}, {torch.get_num_threads()} threads"


def cpu_model() -> str:
    """The processor's model name where the system says it (Linux, macOS), else its architecture."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def matmul_measurements(sizes, device, min_run_time: float = 0.2) -> list:
    """One `benchmark.Measurement` per n: an n x n @ n x n float32 product on `device`.

    blocked_autorange repeats the call until `min_run_time` seconds have passed, in blocks, and
    synchronizes CUDA around each block, so `.median` is the time of the work, not of queuing it.
    """
    device = torch.device(device)
    generator = torch.Generator().manual_seed(0)
    measurements = []
    for n in sizes:
        a = torch.randn(n, n, generator=generator).to(device)
        b = torch.randn(n, n, generator=generator).to(device)
        timer = benchmark.Timer(
            stmt="a @ b", globals={"a": a, "b": b}, num_threads=torch.get_num_threads(),
            label="n x n matrix product", sub_label=f"n = {n}", description=device.type,
        )
        timer.timeit(number=3)  # warm-up: the first calls pay for thread start-up and allocation
        measurements.append(timer.blocked_autorange(min_run_time=min_run_time))
    return measurements


def ratios_per_doubling(seconds) -> list[float]:
    """time(2n) / time(n) for consecutive sizes that double: the trend the text of 01 describes."""
    return [later / earlier for earlier, later in zip(seconds, seconds[1:])]


def cuda_event_ms(fn, repeats: int = 20, warmup: int = 3) -> float:
    """Median milliseconds of `fn()` on the current CUDA device, measured by CUDA events on the GPU."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end))
    return statistics.median(samples)


def unsynchronized_ms(fn, repeats: int = 20, warmup: int = 3) -> float:
    """The classic mistake: median milliseconds read off a CPU clock without waiting for the GPU."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
        torch.cuda.synchronize()  # outside the timed region, as the mistaken code would leave it
    return statistics.median(samples)


def copy_ms(megabytes: int, pinned: bool, repeats: int = 10) -> float:
    """Median milliseconds of a host-to-GPU copy of `megabytes` MB, from pinned or pageable memory."""
    host = torch.empty(megabytes * 2**20 // 4, dtype=torch.float32)
    if pinned:
        host = host.pin_memory()
    return cuda_event_ms(lambda: host.to("cuda", non_blocking=pinned), repeats=repeats)
