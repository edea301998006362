"""lockorder's version (pyproject.toml's), in a module of its own: the report
writers read it without importing the package's runtime."""

__version__ = "0.1.0"
