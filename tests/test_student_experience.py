"""What a student sees in JupyterLab when an exercise is wrong: the test cell under it names the mistake.

Each test fills a course notebook with the solutions, plants typical mistakes in independent
exercises, runs it in a ``python3`` ipykernel from ``course/`` (as JupyterLab does) up to the last
test cell of interest, and reads what each test cell printed or raised.
"""
import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")

pytestmark = pytest.mark.notebooks


def solution_bodies(stem: str) -> dict[str, str]:
    """grade_id -> source of each solution cell of ``solutions/<stem>.ipynb``, without its markers."""
    nb = json.loads((ROOT / "solutions" / f"{stem}.ipynb").read_text())
    bodies = {}
    for cell in nb["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id"):
            lines = "".join(cell["source"]).splitlines()
            bodies[meta["grade_id"]] = "\n".join(line for line in lines if not line.strip().startswith(MARKERS))
    return bodies


def planted(stem: str, mistakes: dict[str, tuple[str, str]], stubs: tuple[str, ...] = ()):
    """The release of ``stem`` with every stub solved, except ``mistakes`` ({grade_id: (old, new)}) and ``stubs``."""
    nb = nbformat.read(ROOT / "course" / f"{stem}.ipynb", as_version=4)
    bodies = solution_bodies(stem)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not cell.metadata.get("nbgrader", {}).get("solution") or grade_id in stubs:
            continue
        source = bodies[grade_id]
        if grade_id in mistakes:
            old, new = mistakes[grade_id]
            assert old in source, f"the solution of {grade_id} no longer contains {old!r}: update this test"
            source = source.replace(old, new)
        cell.source = source
    return nb


def run_until(nb, last_test: str) -> dict[str, str]:
    """Execute ``nb`` up to the test cell ``last_test``; grade_id -> text each test cell showed."""
    ids = [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in nb.cells]
    nb.cells = nb.cells[: ids.index(last_test) + 1]
    NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=300,
                   resources={"metadata": {"path": str(ROOT / "course")}}).execute()
    shown = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            texts = [out.get("text", "") if out.output_type == "stream" else "\n".join(out.get("traceback", []))
                     for out in cell.get("outputs", [])]
            shown[meta["grade_id"]] = ANSI.sub("", "".join(texts))
    return shown


@pytest.mark.lesson01
def test_numpy_basics_messages():
    """Do the test cells of lesson 01 name a flipped sign, the slope formula applied to z, a wrong
    axis and a stub, and pass a right answer?"""
    nb = planted("01_numpy_basics", {
        "sigmoid": ("np.exp(-z)", "np.exp(z)"),
        "sigmoid_derivative": ("s = sigmoid(z)", "s = z"),
        "normalize_rows": ("axis=1, keepdims=True", "axis=0, keepdims=True"),
    }, stubs=("softmax",))
    shown = run_until(nb, "test_softmax")
    assert "sign of the exponent" in shown["test_sigmoid"]
    assert "z * (1 - z), the formula applied to z itself" in shown["test_sigmoid_derivative"]
    assert "axis 0 instead of axis 1" in shown["test_normalize_rows"]
    assert "softmax is not implemented yet" in shown["test_softmax"]
    assert "image2vector: all checks passed (1 point)" in shown["test_image2vector"]


@pytest.mark.lesson04
def test_deep_network_messages():
    """Do the test cells of lesson 04 name a missing 1/m in dW and an update that mutates its input?"""
    nb = planted("04_deep_network_step_by_step", {
        "linear_backward": ("dW = dZ @ A_prev.T / m", "dW = dZ @ A_prev.T"),
        "update_parameters": ("updated = {}", "updated = parameters"),
    })
    shown = run_until(nb, "test_update_parameters")
    assert "dW differs" in shown["test_linear_backward"]
    assert "m = 3 times too large" in shown["test_linear_backward"]
    assert "changed its input parameters" in shown["test_update_parameters"]
    assert "L_model_forward: all checks passed (2 points)" in shown["test_L_model_forward"]


@pytest.mark.lesson09
def test_optimization_messages():
    """Do the test cells of lesson 09 name a missing bias correction in Adam and a momentum step that mutates v?"""
    nb = planted("09_optimization", {
        "update_parameters_with_adam": ("v_corrected[d] = new_v[d] / (1 - beta1 ** t)", "v_corrected[d] = new_v[d]"),
        "update_parameters_with_momentum": (
            'new_v = {"d" + key: beta * v["d" + key] + (1 - beta) * grads["d" + key] for key in parameters}',
            'new_v = v\n    for key in parameters:\n        v["d" + key] *= beta\n'
            '        v["d" + key] += (1 - beta) * grads["d" + key]'),
    })
    shown = run_until(nb, "test_update_parameters_with_adam")
    assert "bias correction is missing" in shown["test_update_parameters_with_adam"]
    assert "changed its input v" in shown["test_update_parameters_with_momentum"]
    assert "update_parameters_with_nesterov: all checks passed (2 points)" in shown["test_update_parameters_with_nesterov"]


@pytest.mark.lesson04
def test_failing_training_cell_names_the_failed_exercise():
    """A transposed dW breaks linear_backward's test, then the training loop that runs it: does the
    training cell's error end with a note naming linear_backward (and only the failed exercises)?"""
    nb = planted("04_deep_network_step_by_step", {
        "linear_backward": ("dW = dZ @ A_prev.T / m", "dW = A_prev @ dZ.T / m"),
    })
    training = next(k for k, cell in enumerate(nb.cells) if "data.load_planar_flower()" in cell.source)
    nb.cells = nb.cells[:training + 1]
    NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=300,
                   resources={"metadata": {"path": str(ROOT / "course")}}).execute()
    outputs = nb.cells[training].outputs
    assert any(out.output_type == "error" for out in outputs), "the planted mistake no longer breaks training"
    printed = "".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    assert "Note: the tests of linear_backward" in printed
    assert "update_parameters" not in printed.split("failed above")[0]  # its own test passed
