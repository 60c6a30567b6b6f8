"""tuitrack: a terminal UI for MLflow experiment runs."""

__version__ = "0.1.0"
