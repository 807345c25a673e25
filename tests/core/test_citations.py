"""Citation markers are renumbered in the order the answer cites them, even when split across deltas."""

from __future__ import annotations

from otvet.core.citations import CitationRenumberer, renumber


def stream(shown: tuple[int, ...], *deltas: str) -> tuple[list[str], tuple[int, ...]]:
    renumberer = CitationRenumberer(shown)
    out = [renumberer.feed(delta) for delta in deltas]
    out.append(renumberer.flush())
    return out, renumberer.cited


def test_markers_follow_the_order_of_first_citation() -> None:
    text, cited = renumber("Tokens come from BotFather [3]. Webhooks need HTTPS [1]. Again [3].", (4, 7, 9))
    assert text == "Tokens come from BotFather [1]. Webhooks need HTTPS [2]. Again [1]."
    # Passage indexes behind the markers: [3] was passage 9, [1] passage 4.
    assert cited == (9, 4)


def test_a_marker_split_across_deltas_is_held_back_until_complete() -> None:
    out, cited = stream((0, 1, 2), "Use the token [", "2", "] and ", "restart [1", "].")
    assert "".join(out) == "Use the token [1] and restart [2]."
    assert out[0] == "Use the token " and out[1] == "" and out[2] == "[1] and "
    assert cited == (1, 0)


def test_markers_naming_no_passage_are_dropped() -> None:
    text, cited = renumber("Real [1]. Invented [7]. Zero [0].", (5,))
    assert text == "Real [1]. Invented . Zero ."
    assert cited == (5,)


def test_grouped_and_adjacent_markers() -> None:
    text, cited = renumber("Both [2, 1] and [1][2] and [2,2].", (10, 20))
    assert text == "Both [1][2] and [2][1] and [1]."
    assert cited == (20, 10)


def test_brackets_that_are_not_markers_stay_as_they_are() -> None:
    text, cited = renumber("Call f[x] or [see docs] or [1a]; arrays [", (0,))
    assert text == "Call f[x] or [see docs] or [1a]; arrays ["
    assert cited == ()
