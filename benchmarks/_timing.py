"""Timing shared by the benchmark scripts: callables run alternately, the order flipped every round,
so that a shared, noisy machine slows every contender alike (:func:`mmadapt.cost.latency.alternate_times`)."""
import statistics

from mmadapt.cost.latency import alternate_times  # noqa: F401  (the benchmarks import it from here)


def alternate(fns, repeats, device, warmup=2):
    """Median seconds of each callable."""
    return {k: statistics.median(v) for k, v in alternate_times(fns, repeats, device, warmup).items()}
