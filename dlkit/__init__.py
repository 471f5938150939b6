"""dlkit: the NumPy library a student grows through the course, with tested reference code.

Import the modules you need, e.g. ``from dlkit import activations, dense``.
"""
__version__ = "0.1.0"
