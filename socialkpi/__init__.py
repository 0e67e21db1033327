"""socialkpi: self-hosted social and website analytics for small businesses."""

__version__ = "0.1.0"
