"""The dashboard's pages: each module exposes ``render(ctx)`` (see :mod:`socialkpi.pages.common`)."""
