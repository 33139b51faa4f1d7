"""The tool version every artifact records (its own module: any layer imports it without ``ofa``'s init)."""

__version__ = "0.1.0"
