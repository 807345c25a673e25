"""The embedder contract: texts in, vectors out; and how vectors are stored with chunks.

An embedder is optional. When ``OTVET_RETRIEVAL__EMBEDDER`` names one, every knowledge version is built with a
vector per chunk and searches fuse BM25 with vector similarity (:mod:`otvet.core.hybrid`). Vectors are stored
as little-endian float32 bytes, so a version's vectors can be read back by any process on any platform.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from otvet.core.app import Otvet

FloatMatrix = npt.NDArray[np.float32]

#: How vectors are stored: little-endian float32, whatever the machine's own byte order.
_STORED = np.dtype("<f4")


class EmbeddingError(RuntimeError):
    """Texts could not be embedded (the service is down, refused the request, or sent something odd)."""


class Embedder(ABC):
    """Turns texts into vectors. One instance per Otvet, shared by every task: ``embed`` must be reentrant."""

    #: The name it is registered under (``OTVET_RETRIEVAL__EMBEDDER``).
    name: ClassVar[str] = ""
    #: The model the vectors come from; vectors of different models are not comparable.
    model: str = ""
    #: Below this relevance (words and similarity weighed together, core/hybrid.py) a question is not
    #: covered by the knowledge base. Calibrated for the built-in encoder; a model whose unrelated texts
    #: are more alike sets a higher one.
    min_relevance: float = 0.3

    @property
    def key(self) -> str:
        """What a knowledge version records as its ``embedder``: vectors are only compared under one key.

        Override it when something besides the model changes the vectors (a shortened dimension count).
        """
        return f"{self.name}:{self.model}"

    @abstractmethod
    async def embed(
        self, texts: Sequence[str], *, deadline: float | None = None
    ) -> Sequence[Sequence[float]]:
        """One vector per text, in the order of ``texts``, all of one length (a 2-D numpy array is fine).

        ``deadline`` (a ``loop.time()`` value) is when a question stops waiting for its vector: give up by
        then, counting it as a failure of the service. None (building a version) leaves it to the
        embedder's own limits. Raise :class:`EmbeddingError` or anything on failure.
        """

    async def prepare(self) -> None:
        """Get ready to embed (load a model), outside any question's time limit; nothing by default."""

    async def aclose(self) -> None:
        """Release connections; called when Otvet stops."""


EmbedderFactory = Callable[["Otvet"], Embedder]


def embed_input(text: str, *, question: str | None = None, title: str = "") -> str:
    """What is embedded for a chunk: its section title, its question (Q&A pairs) and its text."""
    return "\n".join(part for part in (title, question or "", text) if part)


def input_digest(text: str) -> str:
    """The key under which a chunk's vector is reused by later versions: same text, same vector."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def as_matrix(vectors: Sequence[Sequence[float]] | npt.ArrayLike, count: int) -> FloatMatrix:
    """``count`` vectors as one float32 matrix; :class:`EmbeddingError` if the embedder broke its contract."""
    try:
        matrix = np.asarray(vectors, dtype=np.float32)
    except ValueError as exc:  # rows of different lengths
        raise EmbeddingError(f"the embedder returned vectors of different lengths: {exc}") from None
    if matrix.ndim != 2 or matrix.shape[0] != count or matrix.shape[1] == 0:
        raise EmbeddingError(f"the embedder returned {matrix.shape} for {count} texts")
    if not np.isfinite(matrix).all():
        raise EmbeddingError("the embedder returned a vector with NaN or infinite values")
    return matrix


def pack(vector: Sequence[float] | npt.ArrayLike) -> bytes:
    """A vector as it is stored: little-endian float32 bytes."""
    return np.asarray(vector, dtype=_STORED).tobytes()


def unpack(data: bytes) -> FloatMatrix:
    """A stored vector back as a float32 array."""
    return np.frombuffer(data, dtype=_STORED).astype(np.float32)


def unpack_matrix(rows: Sequence[bytes]) -> FloatMatrix:
    """Stored vectors, all of one length, as one float32 matrix (one row per vector)."""
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    width = len(rows[0])
    if width == 0 or width % 4 or any(len(row) != width for row in rows):
        raise ValueError("stored vectors have different or invalid lengths")
    return np.frombuffer(b"".join(rows), dtype=_STORED).reshape(len(rows), width // 4).astype(np.float32)


def normalise(matrix: FloatMatrix) -> FloatMatrix:
    """Rows scaled to unit length (zero rows stay zero), so a dot product is the cosine similarity."""
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    scaled: FloatMatrix = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    return scaled
