"""Timing shared by the benchmark scripts: callables run alternately, the order flipped every round,
so that a shared, noisy machine slows every contender alike."""
import statistics
import time

import torch


def sync(device) -> None:
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize()


def alternate_times(fns, repeats, device, warmup=2):
    """Seconds of every run of each callable (dict name -> list)."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {k: [] for k in fns}
    keys = list(fns)
    for i in range(repeats):
        for k in (keys if i % 2 == 0 else keys[::-1]):
            sync(device)
            t0 = time.perf_counter()
            fns[k]()
            sync(device)
            times[k].append(time.perf_counter() - t0)
    return times


def alternate(fns, repeats, device, warmup=2):
    """Median seconds of each callable."""
    return {k: statistics.median(v) for k, v in alternate_times(fns, repeats, device, warmup).items()}
