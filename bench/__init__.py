"""afx-bench: a benchmark harness for how gradients should flow through audio effects."""

__version__ = "0.1.0"
