"""A plugin's own database model, used by test_hook_register_models."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Note(Model):
    id = fields.IntField(primary_key=True)
    text = fields.TextField()

    class Meta:
        app = "notes"
        table = "plugin_notes"
