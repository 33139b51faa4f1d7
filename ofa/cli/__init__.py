"""The ``ofa`` command line: a thin layer over the Python API (heavy imports inside commands)."""
