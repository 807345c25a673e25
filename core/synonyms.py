"""Words users type for the words documentation writes: "инет" for "интернет", "log in" for "sign in",
"удалить" for "стереть". A search for a question also looks for the other words of each group.

A group is a line of comma-separated words or phrases that mean the same in a help desk's questions. The
built-in groups (:data:`BUILT_IN`) cover everyday Russian and English support vocabulary, colloquial and
clipped Russian and Russian spellings of common brands; a deployment adds its own in a file
(``OTVET_RETRIEVAL__SYNONYMS_FILE``, same format). Only the question is expanded, never the documents: a
page keeps the words it has, and a question holding one word of a group also finds pages holding another.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from otvet.core.text import STOPWORDS, stem, words

BUILT_IN = """
# Accounts and signing in
аккаунт, акк, акаунт, учетка, учётка, учетная запись, учётная запись, профиль
войти, зайти, залогиниться, авторизоваться, вход, логин, авторизация
выйти, разлогиниться, выход
зарегистрироваться, регистрация, зарегаться, регаться, создать аккаунт
пароль, пасс, пассворд
восстановить, сбросить, вернуть, восстановление, сброс
логин, имя пользователя, юзернейм
account, acct, profile, user account
sign in, log in, login, logon, log on, signin, sign on
sign out, log out, logout, signout
sign up, register, registration, signup, create an account
password, pass, pwd, passcode
reset, recover, recovery, restore
username, user name, login name
two-factor, 2fa, two factor, mfa, 2-step, two-step
двухфакторная, 2fa, двухэтапная, двойная аутентификация

# Devices, programs and the network
интернет, инет, интернета, сеть
компьютер, комп, пк, ноут, ноутбук
телефон, тел, смартфон, мобильник, мобила, трубка
программа, прога, приложение, приложуха, апп, аппка
приложение, app, приложуха
андроид, android
айфон, iphone, ios
винда, windows, виндовс
мак, макбук, macos, mac
браузер, browser, хром, chrome
вайфай, вай-фай, wi-fi, wifi
роутер, маршрутизатор, раутер
симка, sim, сим-карта, сим карта
internet, net, connection, connectivity
computer, pc, laptop, desktop
phone, mobile, smartphone, cell
app, application, program, software
wi-fi, wifi, wireless

# Files, data and sharing
скачать, загрузить себе, выгрузить, экспортировать, экспорт, сохранить себе
загрузить, закачать, залить, прикрепить, добавить файл
удалить, стереть, убрать, снести
файл, документ
эксель, excel, xlsx, таблица
ворд, word, docx
пдф, pdf
download, export, save
upload, attach, add a file
delete, remove, erase, wipe, get rid of
file, document, doc
spreadsheet, excel, xlsx, sheet

# Money
цена, стоимость, стоит, сколько стоит, прайс, почем, тариф
оплата, оплатить, заплатить, платеж, платёж, внести платеж
подписка, тариф, план
отменить, отключить, отказаться, расторгнуть
вернуть деньги, возврат, рефанд
счет, счёт, инвойс, квитанция
бесплатно, бесплатный, бесплатке, бесплатка, free, даром
price, cost, pricing, fee, how much, charge, rate
pay, payment, paying, billing
subscription, plan, tier
cancel, unsubscribe, stop, end
refund, money back, reimbursement
invoice, receipt, bill
free, no charge, gratis

# People and teams
коллега, сотрудник, участник, член команды, тиммейт
пригласить, позвать, добавить участника, инвайт
админ, администратор, владелец
colleague, coworker, teammate, team member, member, employee
invite, add a member, add someone
admin, administrator, owner

# Messaging apps and brands written in Cyrillic
телеграм, телеграмм, телега, тг, telegram
вотсап, ватсап, вацап, вотсапп, whatsapp
зум, zoom
слак, slack
гугл, google
ютуб, ютьюб, youtube
фейсбук, facebook
нетфликс, netflix

# Problems
не работает, сломалось, глючит, не грузит, не открывается, ошибка, баг
тормозит, медленно, лагает, виснет
broken, not working, doesn't work, error, bug, glitch, crash
slow, lag, laggy, freezes
"""


class Synonyms:
    """Groups of words meaning the same, looked up by stemmed word."""

    def __init__(self, groups: Iterable[Iterable[str]] = ()) -> None:
        #: a stemmed word, or a phrase of them (stopwords included: "sign in" is not "sign up") → the terms
        #: it also stands for
        self._table: dict[tuple[str, ...], set[str]] = {}
        self._longest = 1
        for group in groups:
            self.add(group)

    def add(self, group: Iterable[str]) -> None:
        """Add a group: every member stands for every other member that has one meaningful word."""
        members = [tuple(_stems(member)) for member in group]
        members = [member for member in members if member]
        # A phrase of two meaningful words ("учётная запись") is not a target: its words alone mean other
        # things ("запись" of a meeting), and a question's term can only be matched word by word.
        targets = {terms[0] for member in members if len(terms := _meaningful(member)) == 1}
        for member in members:
            self._table.setdefault(member, set()).update(targets - set(_meaningful(member)))
            self._longest = max(self._longest, len(member))

    def expand(self, question: str) -> dict[str, set[str]]:
        """The question's terms (stemmed, meaningful) that stand for other terms, with those terms."""
        stems = [stem(word) for word in words(question)]
        found: dict[str, set[str]] = {}
        for start in range(len(stems)):
            for length in range(1, min(self._longest, len(stems) - start) + 1):
                phrase = tuple(stems[start : start + length])
                alternatives = self._table.get(phrase)
                if alternatives:
                    for term in _meaningful(phrase):
                        found.setdefault(term, set()).update(alternatives)
        return found

    def __len__(self) -> int:
        return len(self._table)


def _stems(member: str) -> list[str]:
    return [stem(word) for word in words(member)]


def _meaningful(stems: tuple[str, ...]) -> list[str]:
    # Stems of stopwords are the stopwords themselves (they are short and never stemmed to another word).
    return [term for term in stems if term not in STOPWORDS and len(term) > 1]


def parse(text: str) -> list[list[str]]:
    """Groups from text: one comma-separated group a line; blank lines and ``#`` comments are skipped."""
    groups = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            groups.append([member.strip() for member in line.split(",") if member.strip()])
    return groups


@lru_cache(maxsize=8)
def load(path: Path | None = None) -> Synonyms:
    """The built-in groups, and a deployment's own from ``path`` when one is given (read once a process).

    Raises ValueError naming the setting when the file cannot be read.
    """
    groups = parse(BUILT_IN)
    if path is not None:
        try:
            groups += parse(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"OTVET_RETRIEVAL__SYNONYMS_FILE {path}: cannot be read ({exc})") from None
    return Synonyms(groups)
