"""The built-in local embedder: multilingual sentence vectors computed on this machine, the default."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from otvet.core.app import Otvet
from otvet.plugins.embedder_use.embedder import UniversalSentenceEncoder
from tests.conftest import make_settings


def test_it_is_the_default_embedder(tmp_path: Path) -> None:
    embedder = Otvet(make_settings(tmp_path)).embedder
    assert isinstance(embedder, UniversalSentenceEncoder)
    assert embedder.key == "use:multilingual-v3"


async def test_vectors_are_unit_length_and_the_same_for_the_same_text() -> None:
    embedder = UniversalSentenceEncoder()
    await embedder.prepare()
    vectors = np.asarray(
        await embedder.embed(["How do I reset my password?", "Parking is behind the building."])
    )
    assert vectors.shape == (2, 512) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    again = np.asarray(await embedder.embed(["How do I reset my password?"]))
    assert np.array_equal(again[0], vectors[0])
    assert np.asarray(await embedder.embed([])).shape == (0, 512)


async def test_a_question_is_nearest_its_answer_in_either_language() -> None:
    embedder = UniversalSentenceEncoder()
    question, *texts = np.asarray(
        await embedder.embed(
            [
                "Как сбросить пароль?",
                "To reset your password, click Forgot password on the sign-in page.",
                "Чтобы сбросить пароль, нажмите «Забыли пароль?» на странице входа.",
                "The museum opens at ten on weekdays.",
            ]
        )
    )
    english, russian, unrelated = (float(question @ text) for text in texts)
    assert russian > unrelated and english > unrelated


async def test_long_texts_are_embedded_by_their_beginning() -> None:
    embedder = UniversalSentenceEncoder()
    long = "Refunds are paid within 30 days. " * 2000
    vectors = np.asarray(await embedder.embed([long, long[:4000]]))
    assert np.array_equal(vectors[0], vectors[1])
