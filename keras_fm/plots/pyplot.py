"""matplotlib, imported on first use with a clear message when missing."""

from typing import Any

MISSING = (
    "the pictures need matplotlib, the optional 'plots' extra: "
    "pip install 'keras-fm[plots]'"
)


def pyplot() -> Any:
    """`matplotlib.pyplot` with the file-only Agg backend.

    Raises:
        ImportError: with the install command, if matplotlib is missing.
    """
    try:
        import matplotlib
    except ImportError:
        raise ImportError(MISSING) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(figure: Any, path: str) -> str:
    """Writes ``figure`` as a PNG at ``path``, closes it, returns the path."""
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot().close(figure)
    return str(path)
