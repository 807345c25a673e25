"""What kind of answer a question asks for, and whether a sentence has one: "how much" wants an amount,
"when" a date or a time, "who" a name, "how do I" the steps. A sentence that has what the question asks
for is the likelier answer among sentences sharing the same words with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_AMOUNT = re.compile(r"\d|[$€£₽¥%]|\b(?:free|бесплатн\w*)\b", re.IGNORECASE)
# A price: a currency, or "free". "How much is Pro?" is answered by "Pro costs $9", not by "Pro gives 10 GB".
_PRICE = re.compile(
    r"[$€£₽¥]|\b(?:usd|eur|gbp|rub|dollars?|euros?|pounds?|cents?|free|руб\w*|р\.|долл\w*|евро|цент\w*|"
    r"бесплатн\w*)(?!\w)",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"\d|\b(?:january|february|march|april|may|june|july|august|september|october|november|december|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|century|decade|"
    r"январ\w*|феврал\w*|март\w*|апрел\w*|ма[йяе]|июн\w*|июл\w*|август\w*|сентябр\w*|октябр\w*|"
    r"ноябр\w*|декабр\w*|понедельник\w*|вторник\w*|сред[аыу]|четверг\w*|пятниц\w*|суббот\w*|"
    r"воскресень\w*|век\w*|час\w*|минут\w*|дн[ейяи]\w*|день|недел\w*|месяц\w*|год\w*|лет|"
    r"hours?|minutes?|days?|weeks?|months?|years?)\b",
    re.IGNORECASE,
)
# An instruction: "To connect Telegram, create...", "Чтобы добавить..., выполните", a menu path, a command.
_STEPS = re.compile(
    r"^(?:to|чтобы)\b|→|\b(?:click|tap|press|go to|open|select|choose|run|enter|type|turn (?:on|off)|"
    r"нажмите|откройте|выберите|перейдите|выполните|введите|включите|отключите|укажите|зайдите|"
    r"запустите|скопируйте|создайте)\b",
    re.IGNORECASE,
)
# A capitalised word that does not start the sentence: a name.
_NAME = re.compile(r"(?<=[\w,;:] )[A-ZА-ЯЁ][\w-]+")

_ASKS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (
        re.compile(
            r"\b(?:how much (?:is|are|does|do|will|would|for)|cost|costs|price|prices|pricing|fee|fees|"
            r"сколько (?:стоит|стоят|стоить|будет стоить|платить|заплатить)|стоит ли платить|стоимост\w*|"
            r"цен[аыуе]|почем)\b",
            re.IGNORECASE,
        ),
        _PRICE,
    ),
    (
        re.compile(
            r"\b(?:how (?:much|many|long|often|big|large|fast)|what (?:size|price|percentage|number)|"
            r"cost|costs|price|prices|fee|fees|limit|сколько|стоит|стоимост\w*|цен[аыу]|почем|какой объ[её]м|"
            r"лимит\w*|как долго|как часто)\b",
            re.IGNORECASE,
        ),
        _AMOUNT,
    ),
    (
        re.compile(
            r"\b(?:when|what (?:year|time|date|day|month|century)|which (?:year|day|month)|"
            r"когда|в каком году|в какое время|во сколько|какого числа|в каком веке)\b",
            re.IGNORECASE,
        ),
        _TIME,
    ),
    (re.compile(r"\b(?:who|whom|whose|кто|кого|кому|кем|чей|чья|чьи)\b", re.IGNORECASE), _NAME),
    (
        re.compile(
            r"\b(?:how (?:do|does|can|could|should|to)|how's|where (?:do|does|can|is|are)|как(?:им образом)?|"
            r"где (?:найти|взять|включить|настроить|поменять|изменить)|что (?:делать|нужно))\b",
            re.IGNORECASE,
        ),
        _STEPS,
    ),
)


def wanted(question: str) -> Callable[[str], bool] | None:
    """A test that a sentence holds what ``question`` asks for; None when it asks for no particular kind."""
    for asks, holds in _ASKS:
        if asks.search(question):
            return lambda sentence, holds=holds: holds.search(sentence) is not None  # type: ignore[misc]
    return None
