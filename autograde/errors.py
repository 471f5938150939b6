"""Exception types shared by the autograde package.

``StudentError`` stands for an exception raised by a student's code in another process (the
sandboxed kernel): it carries the original type name, message and traceback text, and a test cell
treats it exactly like the student's own exception.

>>> err = StudentError("ValueError", "shapes (2,3) and (2,3) not aligned",
...                    'File "<cell>", line 3, in propagate')
>>> str(err)
'ValueError: shapes (2,3) and (2,3) not aligned'
>>> err.type_name
'ValueError'
"""
from __future__ import annotations


class ReferenceUsedError(Exception):
    """A graded function called dlkit's own implementation of the exercise it should implement.

    Raised by the stand-ins that replace graded dlkit functions in the grading kernel; the message
    names the dlkit function and asks the student to write the code themselves.
    """


class StudentError(Exception):
    """An exception raised by student code in another process, re-raised on the grader's side.

    Parameters
    ----------
    type_name : str
        The name of the student's exception type, e.g. ``"ValueError"``.
    message : str
        ``str()`` of the student's exception.
    traceback_text : str
        The student's traceback, formatted; shown as a note under the message so the student sees
        where in their code it happened.
    """

    def __init__(self, type_name: str, message: str, traceback_text: str = ""):
        super().__init__(type_name, message, traceback_text)
        self.type_name = type_name
        self.message = message
        self.traceback_text = traceback_text
        if traceback_text:
            self.add_note(traceback_text.rstrip("\n"))

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message}" if self.message else self.type_name

    def is_a(self, type_name: str) -> bool:
        """Return True when the student's exception was of type ``type_name`` (by name)."""
        return self.type_name == type_name or self.type_name.rsplit(".", 1)[-1] == type_name
