"""The built-in storage backend: Tortoise ORM models, their migrations and the ``Store`` built on them.

Runs on SQLite (the zero-configuration default) and PostgreSQL; the same migrations serve both.
"""
