"""autograde: feedback checks for test cells, release generation and validation, class grading."""
__version__ = "0.1.0"
