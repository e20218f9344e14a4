"""The kernel releases the GIL: Python threads keep running while a pass computes."""

import threading
import time

import numpy as np

from irsl_stats import _kernel


def test_passes_release_the_gil():
    rng = np.random.default_rng(0)
    m, n_items = 400, 5000
    model = np.repeat(np.arange(m, dtype=np.int32), n_items)
    item = np.tile(np.arange(n_items, dtype=np.int32), m)
    y = rng.uniform(0.05, 0.95, model.size)
    data = _kernel.KernelData(model, item, y, n_models=m, n_items=n_items, family="beta")
    theta, a = rng.normal(size=(m, 1)), np.ones((n_items, 1))
    d, log_phi = rng.normal(size=n_items), np.full(n_items, 2.0)

    durations = []

    def work():
        for _ in range(3):
            t0 = time.perf_counter()
            _kernel.accumulate(data, theta, a, d, log_phi, n_threads=1)
            durations.append(time.perf_counter() - t0)

    worker = threading.Thread(target=work)
    ticks = []
    worker.start()
    while worker.is_alive():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    worker.join()
    gaps = np.diff(ticks)
    # with the GIL held, this thread would stall for a whole pass at a time
    assert len(ticks) > 10
    assert gaps.max() < 0.5 * min(durations), (gaps.max(), durations)
