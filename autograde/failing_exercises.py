"""In a notebook, a cell that fails after a failed exercise test says which exercises to fix first.

Later cells of a notebook run the student's own functions (a training loop, a plot). When one of
those functions is wrong, such a cell fails deep inside with an error about shapes or values that
says nothing of the exercise at fault. So this module keeps track, per kernel, of which exercise
tests failed, and adds a note under the traceback of any other cell that raises while some are
failing::

    Note: the tests of linear_backward failed above, and this cell may run your code for it.
    Fix that exercise first (its test cell says what is wrong), then run this cell again.

Test cells end with ``checks.passed("<exercise>", points)``. After every cell, IPython's
``post_run_cell`` event hands :meth:`FailingExercises.after_cell` the cell's source and whether it
raised: a test cell that raised marks its exercises as failing, one that ran through clears them.
Cells that are neither tests nor failures are left alone.

:func:`install` registers the callback once per IPython shell; ``autograde.checks`` calls it when it
is imported, so a notebook's setup cell is all it takes. Outside IPython it does nothing.
"""
from __future__ import annotations

import re

# The exercise names of a test cell: the first argument of each checks.passed(...) call.
PASSED_CALL = re.compile(r"""checks\.passed\(\s*["']([^"']+)["']""")


class FailingExercises:
    """The exercises whose test cell raised the last time it ran, in the order they failed."""

    def __init__(self) -> None:
        self.failing: dict[str, None] = {}  # a dict keeps insertion order

    def after_cell(self, source: str, raised: bool) -> str | None:
        """Record what a cell tells; return the note to show under its traceback, or None.

        >>> tracker = FailingExercises()
        >>> tracker.after_cell('checks.compare_to_reference(...)\\nchecks.passed("relu", 1)', raised=True)
        >>> print(tracker.after_cell("train(X, Y)", raised=True))
        Note: the tests of relu failed above, and this cell may run your code for it.
        Fix that exercise first (its test cell says what is wrong), then run this cell again.
        >>> tracker.after_cell('checks.passed("relu", 1)', raised=False)
        >>> tracker.after_cell("train(X, Y)", raised=True) is None
        True
        """
        names = PASSED_CALL.findall(source or "")
        if names:  # a test cell: its own traceback already says what is wrong
            for name in names:
                if raised:
                    self.failing[name] = None
                else:
                    self.failing.pop(name, None)
            return None
        if not raised or not self.failing:
            return None
        return note(list(self.failing))


def note(names: list[str]) -> str:
    """The note for a failing cell when the tests of ``names`` failed.

    >>> print(note(["linear_backward", "L_model_backward", "update_parameters"]))
    Note: the tests of linear_backward, L_model_backward and update_parameters failed above, and this cell may run your code for them.
    Fix those exercises first (their test cells say what is wrong), then run this cell again.
    """
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    if len(names) == 1:
        return (f"Note: the tests of {listed} failed above, and this cell may run your code for it.\n"
                "Fix that exercise first (its test cell says what is wrong), then run this cell again.")
    return (f"Note: the tests of {listed} failed above, and this cell may run your code for them.\n"
            "Fix those exercises first (their test cells say what is wrong), then run this cell again.")


_installed_on: set[int] = set()


def install() -> bool:
    """Register the post-cell callback in the running IPython shell (once); False outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "events"):
        return False
    if id(shell) in _installed_on:
        return True
    tracker = FailingExercises()

    def post_run_cell(result) -> None:
        info = getattr(result, "info", None)
        raised = isinstance(result.error_in_exec, Exception)  # not a KeyboardInterrupt, not a SyntaxError
        text = tracker.after_cell(getattr(info, "raw_cell", "") or "", raised)
        if text:
            print(text)

    shell.events.register("post_run_cell", post_run_cell)
    _installed_on.add(id(shell))
    return True
