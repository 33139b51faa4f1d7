"""The tool version every artifact records (its own module so any layer can import it without ``ofa``'s package init)."""

__version__ = "0.1.0"
