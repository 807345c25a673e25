"""Stopwords: the words a question or a passage is made of but no passage is about.

The lists are bm25s's ``STOPWORDS_EN_PLUS`` and ``STOPWORDS_RUSSIAN`` (bm25s 0.3, MIT licence), kept here as
data so that reading a question needs no search library. core/text.py adds the question words they lack.
"""

from __future__ import annotations

ENGLISH: frozenset[str] = frozenset(
    """
    a about above after again against ain all am an and any are aren aren't as at be because been before
    being below between both but by can couldn couldn't d did didn didn't do does doesn doesn't doing
    don don't down during each few for from further had hadn hadn't has hasn hasn't have haven haven't
    having he her here hers herself him himself his how i if in into is isn isn't it it's its itself
    just ll m ma me mightn mightn't more most mustn mustn't my myself needn needn't no nor not now o of
    off on once only or other our ours ourselves out over own re s same shan shan't she she's should
    should've shouldn shouldn't so some such t than that that'll the their theirs them themselves then
    there these they this those through to too under until up ve very was wasn wasn't we were weren
    weren't what when where which while who whom why will with won won't wouldn wouldn't y you you'd
    you'll you're you've your yours yourself yourselves
    """.split()  # noqa: SIM905 (a word list reads better as text)
)

RUSSIAN: frozenset[str] = frozenset(
    """
    а без более больше будет будто бы был была были было быть в вам вас вдруг ведь во вот впрочем все
    всегда всего всех всю вы где да даже два для до другой его ее ей ему если есть еще ж же за зачем
    здесь и из или им иногда их к как какая какой когда конечно кто куда ли лучше между меня мне много
    может можно мой моя мы на над надо наконец нас не него нее ней нельзя нет ни нибудь никогда ним них
    ничего но ну о об один он она они опять от перед по под после потом потому почти при про раз разве с
    сам свою себе себя сейчас со совсем так такой там тебя тем теперь то тогда того тоже только том тот
    три тут ты у уж уже хорошо хоть чего чем через что чтоб чтобы чуть эти этого этой этом этот эту я
    """.split()  # noqa: SIM905
)
