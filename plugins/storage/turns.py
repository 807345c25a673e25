"""The reads of every request and every answered question, in plain SQL: the API key of the request, the
user, their open conversation and its history.

Each question makes these four reads. Through the ORM each one costs about 0.15 ms of CPU to build its query
and turn rows into model instances, five times the database call itself, and they run on the process's
one event loop for every question. Here the SQL is written once per dialect (Tortoise's parameter style,
the models' table names) and rows stay tuples. The one write of every question and answer, the message
INSERT, and those of a new user, conversation and webhook update, run the ORM's own statement with the
ORM's own value conversions, without building a model instance around it (``Model.create`` cost three
times the INSERT).
Other writes stay with the ORM in store.py.
"""

from __future__ import annotations

from typing import Any

from tortoise import timezone
from tortoise.backends.base.client import BaseDBAsyncClient

from otvet.plugins.storage.models import ApiKey, Conversation, Message, User

#: The API key's columns, converted by the model's own fields (datetimes, the JSON list of scopes).
API_KEY_COLUMNS = ("id", "name", "prefix", "key_hash", "scopes", "created_at", "last_used_at", "revoked_at")


def _db(model: type[Any]) -> BaseDBAsyncClient:
    # The model's connection in the current context: a transaction's, when the caller is in one.
    return model._meta.db  # type: ignore[no-any-return]


#: The queries, per connection class (each dialect has its own parameter style).
_QUERIES: dict[type[BaseDBAsyncClient], dict[str, str]] = {}


def placeholders(db: BaseDBAsyncClient, model: type[Any], count: int) -> list[str]:
    """The first ``count`` query parameters in the style of ``db``: ``?`` (SQLite), ``$1``... (asyncpg)."""
    executor = db.executor_class(model=model, db=db)
    context = db.query_class.SQL_CONTEXT
    return [executor.parameter(i).get_sql(context) for i in range(count)]


def _queries(db: BaseDBAsyncClient) -> dict[str, str]:
    """The queries in the parameter style of ``db`` (``?`` for SQLite, ``$1`` for asyncpg), made once."""
    found = _QUERIES.get(type(db))
    if found is not None:
        return found
    p = placeholders(db, Message, 2)
    # Identifiers are the models' own; every value is a parameter.
    found = _QUERIES[type(db)] = {
        "user": (
            f'SELECT id, display_name, language FROM "{User._meta.db_table}"'
            f" WHERE channel = {p[0]} AND external_id = {p[1]} LIMIT 1"
        ),
        "conversation": (
            f'SELECT id, chat_id FROM "{Conversation._meta.db_table}"'
            f" WHERE user_id = {p[0]} AND chat_id = {p[1]} AND closed_at IS NULL ORDER BY id LIMIT 1"
        ),
        "api_key": (
            f'SELECT {", ".join(API_KEY_COLUMNS)} FROM "{ApiKey._meta.db_table}" WHERE prefix = {p[0]}'
        ),
        # Insertion order (id), not created_at: timestamps come from each process's clock.
        "history": (
            f'SELECT role, text FROM "{Message._meta.db_table}"'
            f" WHERE conversation_id = {p[0]} AND status = 'ok' ORDER BY id DESC LIMIT {p[1]}"
        ),
    }
    return found


#: The ORM's INSERT statement of a model and its columns, per model and connection class.
_INSERTS: dict[tuple[type[Any], type[BaseDBAsyncClient]], tuple[str, tuple[str, ...]]] = {}


#: A question's status from when it is stored until its answer is: kept out of histories meanwhile, and
#: ``interrupted`` once it has waited too long (the process answering it died). Its answer makes it ``ok``.
ANSWERING = "answering"
INTERRUPTED = "interrupted"


async def insert(model: type[Any], **values: Any) -> int:
    """INSERT a row as ``model.create(**values)`` would and return its id: the same statement, every column
    converted by its field, a column not given set to its default or, for ``auto_now_add``, the ORM's now."""
    db = _db(model)
    query, row = _insert(db, model, values)
    return _inserted_id(await db.execute_insert(query, row))


async def insert_answer(question_id: int, **values: Any) -> int:
    """INSERT an answer (as :func:`insert`) and mark its question answered.

    On PostgreSQL both are one statement, so no crash can leave an answer whose question still looks
    unanswered; SQLite cannot update in a ``WITH``, and runs the two one after the other.
    """
    db = _db(Message)
    query, row = _insert(db, Message, values)

    if db.capabilities.dialect == "postgres":
        last = placeholders(db, Message, len(row) + 1)[-1]  # after the INSERT's own parameters
        together = f"WITH answered AS ({_mark_answered(last)}) {query}"
        return _inserted_id(await db.execute_insert(together, [*row, question_id]))
    answer_id = _inserted_id(await db.execute_insert(query, row))
    await db.execute_query(_mark_answered(placeholders(db, Message, 1)[0]), [question_id])
    return answer_id


def _mark_answered(parameter: str) -> str:
    """The UPDATE marking answered the question whose id is the query parameter ``parameter``."""
    return (
        f"UPDATE \"{Message._meta.db_table}\" SET status = 'ok'"
        f" WHERE id = {parameter} AND status IN ('{ANSWERING}', '{INTERRUPTED}')"
    )


def _insert(db: BaseDBAsyncClient, model: type[Any], values: dict[str, Any]) -> tuple[str, list[Any]]:
    found = _INSERTS.get((model, type(db)))
    if found is None:
        executor = db.executor_class(model=model, db=db)
        found = _INSERTS[model, type(db)] = (executor.insert_query, tuple(executor.regular_columns))
    query, columns = found
    fields = model._meta.fields_map
    return query, [fields[name].to_db_value(_value(fields[name], name, values), model) for name in columns]


def _inserted_id(inserted: Any) -> int:
    # SQLite gives the new row id; PostgreSQL the row of the statement's RETURNING id.
    return int(inserted if isinstance(inserted, int) else inserted["id"])


def _value(field: Any, name: str, values: dict[str, Any]) -> Any:
    if name in values:
        return values[name]
    if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
        return timezone.localtime()  # what the field's to_db_value sets on a model instance
    return field.default() if callable(field.default) else field.default


async def _rows(model: type[Any], name: str, values: list[Any]) -> list[Any]:
    db = _db(model)
    _, rows = await db.execute_query(_queries(db)[name], values)
    return list(rows)


async def find_user(channel: str, external_id: str) -> tuple[int, str | None, str | None] | None:
    """``(id, display_name, language)`` of the user, or None."""
    rows = await _rows(User, "user", [channel, external_id])
    return (int(rows[0][0]), rows[0][1], rows[0][2]) if rows else None


async def open_conversation(user_id: int, chat_id: str) -> tuple[int, str] | None:
    """``(id, chat_id)`` of the user's oldest open conversation in the chat, or None."""
    rows = await _rows(Conversation, "conversation", [user_id, chat_id])
    return (int(rows[0][0]), rows[0][1]) if rows else None


async def history(conversation_id: int, limit: int) -> list[tuple[str, str]]:
    """``(role, text)`` of the conversation's last ``limit`` answered messages, oldest first."""
    rows = await _rows(Message, "history", [conversation_id, limit])
    return [(row[0], row[1]) for row in reversed(rows)]


async def find_api_key(prefix: str) -> dict[str, Any] | None:
    """The API key row with this prefix, its values as the model's fields read them, or None."""
    rows = await _rows(ApiKey, "api_key", [prefix])
    if not rows:
        return None
    fields = ApiKey._meta.fields_map
    return {
        name: fields[name].to_python_value(value)
        for name, value in zip(API_KEY_COLUMNS, tuple(rows[0]), strict=True)
    }
