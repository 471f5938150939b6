"""The benchmark harness itself: how medians are taken and merged (the timings are not tested)."""
import itertools

from benchmarks import conv_kernels


def test_block_medians_times_each_callable_of_each_candidate():
    """Does every callable of every candidate run (warm-up included) and get a positive median?"""
    calls = {"a": 0, "b": 0}

    def count(name):
        def run():
            calls[name] += 1
        return run

    medians = conv_kernels.block_medians({"x": (count("a"), count("b"))}, repeats=3, budget=0.0, burst=2)
    assert set(medians) == {"x"} and len(medians["x"]) == 2 and all(t >= 0 for t in medians["x"])
    assert calls == {"a": 2 + 3 * 2, "b": 2 + 3 * 2}  # two warm-up calls, then 3 rounds of 2


def test_two_passes_keeps_each_sides_faster_median(monkeypatch):
    """Measured dlkit, PyTorch, dlkit, PyTorch: does each (shape, implementation, pass) keep its own
    faster median, and the naive loops come from the first pass only?"""
    dlkit_times = itertools.chain([(2.0, 5.0), (1.0, 6.0)])
    torch_times = itertools.chain([[{"PyTorch NCHW": (3.0, 4.0)}], [{"PyTorch NCHW": (2.5, 4.5)}]])
    order = []

    def measure(shape, first):
        order.append(("dlkit", first))
        result = {"dlkit": next(dlkit_times)}
        return {"naive": (100.0, 200.0), **result} if first else result

    def measure_torch():
        order.append(("torch",))
        return next(torch_times)

    rows = conv_kernels.two_passes([(1, 2)], measure, measure_torch)
    assert order == [("dlkit", True), ("torch",), ("dlkit", False), ("torch",)]
    assert rows == [("(1, 2)", {"naive": (100.0, 200.0), "dlkit": (1.0, 5.0), "PyTorch NCHW": (2.5, 4.0)})]


def test_two_passes_without_torch():
    """Without PyTorch (None), are the rows dlkit's and the baselines' alone?"""
    rows = conv_kernels.two_passes([(3,)], lambda shape, first: {"dlkit": (1.0, 2.0)}, lambda: None)
    assert rows == [("(3,)", {"dlkit": (1.0, 2.0)})]
