"""Otvet's database tables, as Tortoise models of the ``otvet`` app (every table is prefixed ``otvet_``).

Edit a model, then run ``tortoise -c otvet.plugins.storage.config.TORTOISE_ORM makemigrations`` and commit the
new file in ``migrations/``: a test compares the models with the migrations and fails when they differ.

Tortoise stores a model's docstring, and ``#:`` comments on fields, as database comments, which would make
every docstring edit a schema change (and a semicolon in one breaks SQLite migrations). So each model names
its table comment in ``Meta.table_description``, and field comments here use a plain ``#``.

Indexes name foreign keys by their column (``user_id``, not ``user``): Tortoise's migrations copy the names
into SQL as they are, and SQLite would silently index a string constant.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class User(Model):
    """A person as one frontend (``channel``) knows them; the same human on two channels is two users."""

    id = fields.IntField(primary_key=True)
    channel = fields.CharField(max_length=32)
    external_id = fields.CharField(max_length=255)
    display_name = fields.TextField(null=True)
    # Chosen explicitly with ``/lang``; None means "answer in the language I write in".
    language = fields.CharField(max_length=16, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "otvet_user"
        table_description = "Users, per channel"
        unique_together = (("channel", "external_id"),)


class Conversation(Model):
    """One history window of a user in a chat; ``/reset`` closes it and the next turn opens a new one."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "otvet.User", related_name="conversations", on_delete=fields.CASCADE
    )
    chat_id = fields.CharField(max_length=255)
    started_at = fields.DatetimeField(auto_now_add=True)
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "otvet_conversation"
        table_description = "Conversations: history windows of a user in a chat"
        # Every turn looks up the open conversation of (user, chat).
        indexes = (("user_id", "chat_id", "closed_at"),)


class Message(Model):
    """A question or an answer; ``status`` marks failed and cancelled turns, kept out of later histories."""

    id = fields.BigIntField(primary_key=True)
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "otvet.Conversation", related_name="messages", on_delete=fields.CASCADE
    )
    # Who asked (set on the question and on its answer): in a group the conversation is the chat's, and
    # quotas and usage reports are per person. Null for messages stored before it was recorded.
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "otvet.User", related_name="messages", on_delete=fields.SET_NULL, null=True, db_index=False
    )
    role = fields.CharField(max_length=16)
    text = fields.TextField()
    language = fields.CharField(max_length=16, null=True)
    status = fields.CharField(max_length=16, default="ok")
    # The cited sources as a list of ``SourceRef`` fields, frozen at answer time.
    sources = fields.JSONField(default=list)
    latency_ms = fields.IntField(null=True)
    prompt_tokens = fields.IntField(default=0)
    completion_tokens = fields.IntField(default=0)
    provider = fields.CharField(max_length=64, null=True)
    # Seconds of the voice message or audio a question was transcribed from; 0 for typed questions.
    audio_seconds = fields.IntField(default=0, db_default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "otvet_message"
        table_description = "Questions and answers"
        # History windows read a conversation; quotas count a user's (and everyone's) recent messages.
        indexes = (("conversation_id", "created_at"), ("user_id", "created_at"), ("created_at",))


class Feedback(Model):
    """A thumbs up (+1) or down (-1) on an answer, with an optional comment."""

    id = fields.IntField(primary_key=True)
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "otvet.Message", related_name="feedback", on_delete=fields.CASCADE, db_index=True
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "otvet.User", related_name="feedback", on_delete=fields.CASCADE
    )
    value = fields.SmallIntField()
    comment = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "otvet_feedback"
        table_description = "Feedback on answers"
        # One rating per user and answer: a second tap changes it (see TortoiseStore.add_feedback).
        unique_together = (("message", "user"),)


class Source(Model):
    """A training file, parsed; ``content`` keeps the parse so any version can be rebuilt without the file."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=512, unique=True)
    type = fields.CharField(max_length=32)
    title = fields.TextField()
    language = fields.CharField(max_length=16, null=True)
    checksum = fields.CharField(max_length=128)
    content = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "otvet_source"
        table_description = "Training sources with their parsed content"


class KnowledgeVersion(Model):
    """A frozen set of chunks; exactly one is ``active`` at a time, older ones stay for rollback."""

    id = fields.IntField(primary_key=True)
    status = fields.CharField(max_length=16, default="building")
    chunk_count = fields.IntField(default=0)
    source_count = fields.IntField(default=0)
    note = fields.TextField(default="")
    metrics = fields.JSONField(null=True)
    # ``name:model`` of the embedder whose vectors the chunks carry; null when the version has none.
    embedder = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    activated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "otvet_knowledge_version"
        table_description = "Knowledge versions"
        indexes = (("status",),)


class Check(Model):
    """A question of the admin's check set, with what a good knowledge version finds for it."""

    id = fields.IntField(primary_key=True)
    question = fields.TextField()
    # The source (its name or title) whose passages should come first; null when only the answer is checked.
    expected_source = fields.CharField(max_length=512, null=True)
    # Words a good answer contains (its passages must hold most of them); null when only the source counts.
    expected_answer = fields.TextField(null=True)
    language = fields.CharField(max_length=16, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "otvet_check"
        table_description = "The check set that knowledge versions are evaluated on"


class Candidate(Model):
    """A question and answer proposed as training data (a well-rated answer, an admin's correction).

    It becomes training data only once an admin approves it; approved pairs are gathered into one Q&A
    source (docs/knowledge.md#feedback).
    """

    id = fields.IntField(primary_key=True)
    question = fields.TextField()
    answer = fields.TextField()
    # ``rating`` (a user liked the answer) or ``correction`` (an admin wrote a better one).
    origin = fields.CharField(max_length=16)
    # The answer it comes from; one candidate per answer and origin.
    message: fields.ForeignKeyNullableRelation[Message] = fields.ForeignKeyField(
        "otvet.Message", related_name="candidates", on_delete=fields.SET_NULL, null=True, db_index=False
    )
    language = fields.CharField(max_length=16, null=True)
    # ``pending``, ``approved`` or ``rejected``.
    status = fields.CharField(max_length=16, default="pending")
    created_by = fields.CharField(max_length=255, null=True)
    reviewed_by = fields.CharField(max_length=255, null=True)
    reviewed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "otvet_candidate"
        table_description = "Candidate training data awaiting review by an admin"
        unique_together = (("message", "origin"),)
        indexes = (("status", "created_at"),)


class Chunk(Model):
    """A searchable piece of a knowledge version.

    A chunk belongs to its version, not to its source: editing or deleting a source must not change what an
    older version answers with (rollback). So the source's name and title are copied onto the chunk and the
    link to the source is only a nullable hint.
    """

    id = fields.BigIntField(primary_key=True)
    version: fields.ForeignKeyRelation[KnowledgeVersion] = fields.ForeignKeyField(
        "otvet.KnowledgeVersion", related_name="chunks", on_delete=fields.CASCADE
    )
    source: fields.ForeignKeyNullableRelation[Source] = fields.ForeignKeyField(
        "otvet.Source", related_name="chunks", on_delete=fields.SET_NULL, null=True, db_index=True
    )
    source_name = fields.CharField(max_length=512)
    source_title = fields.TextField()
    position = fields.IntField()
    kind = fields.CharField(max_length=8, default="text")
    text = fields.TextField()
    question = fields.TextField(null=True)
    # The heading of the section the chunk comes from.
    title = fields.TextField(default="")
    language = fields.CharField(max_length=16, null=True)
    # The chunk's embedding as little-endian float32 bytes (the version's ``embedder`` made it), or null.
    embedding = fields.BinaryField(null=True)

    class Meta:
        table = "otvet_chunk"
        table_description = "Searchable chunks of knowledge versions"
        # Loading a version reads its chunks in id order, batch after batch (keyset pagination); the console
        # previews one source's chunks in a version, and lists the versions holding a source.
        indexes = (("version_id", "id"), ("source_name", "version_id", "position"))


class Job(Model):
    """A background task (training, rebuilding) claimed by a worker (core/jobs.py, docs/operations.md)."""

    id = fields.IntField(primary_key=True)
    type = fields.CharField(max_length=64)
    status = fields.CharField(max_length=16, default="queued")
    payload = fields.JSONField(default=dict)
    progress = fields.FloatField(default=0.0)
    error = fields.TextField(null=True)
    attempts = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    locked_by = fields.CharField(max_length=255, null=True)
    # Until when the worker in ``locked_by`` owns the running job; a job past it is claimed again (its
    # worker died). Heartbeats push it forward.
    lease_until = fields.DatetimeField(null=True)
    # A queued job is not claimed before this (retry backoff); null means at once.
    run_after = fields.DatetimeField(null=True)
    # Set by ``otvet jobs cancel`` on a running job: the worker's next heartbeat sees it and stops.
    cancel_requested = fields.BooleanField(default=False, db_default=False)
    # What the handler returned (a version id, counts), and its last progress message.
    result = fields.JSONField(null=True)
    message = fields.TextField(null=True)

    class Meta:
        table = "otvet_job"
        table_description = "Background jobs"
        # Workers poll for the oldest queued job.
        indexes = (("status", "created_at"),)


class InboxEntry(Model):
    """An update a webhook acknowledged: kept from before the acknowledgement until it is handled, so a crash
    loses none, and remembered for a while after, so the channel resending it does not answer it twice
    (core/inbox.py)."""

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=32)
    # The channel's own id of the update (Telegram's ``update_id``).
    key = fields.CharField(max_length=64)
    payload = fields.TextField()
    # ``pending``, ``processing`` (a replica handles it), ``done`` or ``failed`` (given up).
    status = fields.CharField(max_length=16, default="pending")
    attempts = fields.IntField(default=0)
    locked_by = fields.CharField(max_length=64, null=True)
    # Pending: not handled before this (an update postponed while the database was away). Processing: the
    # end of the handling replica's lease; past it, the replica is taken for dead and another one claims it.
    due_at = fields.DatetimeField()
    received_at = fields.DatetimeField(auto_now_add=True)
    finished_at = fields.DatetimeField(null=True)
    error = fields.TextField(null=True)

    class Meta:
        table = "otvet_inbox"
        table_description = "Webhook updates acknowledged and not yet handled (and recently handled ones)"
        unique_together = (("channel", "key"),)
        # Replicas look for the oldest due update; housekeeping for old handled ones.
        indexes = (("status", "due_at"), ("finished_at",))


class AdminAccount(Model):
    """A person allowed into the admin API."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=150, unique=True)
    password_hash = fields.CharField(max_length=255)
    created_at = fields.DatetimeField(auto_now_add=True)
    disabled = fields.BooleanField(default=False)

    class Meta:
        table = "otvet_admin_account"
        table_description = "Admin accounts"


class RevokedToken(Model):
    """A login token signed out before it expired: refused until then, and dropped after."""

    id = fields.BigIntField(primary_key=True)
    digest = fields.CharField(max_length=64, unique=True)  # SHA-256 of the token, hex
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "otvet_revoked_token"
        table_description = "Login tokens signed out before they expired"


class ChannelAdmin(Model):
    """A channel's account (a Telegram user) acting as an admin, linked with a one-time code."""

    id = fields.IntField(primary_key=True)
    admin: fields.ForeignKeyRelation[AdminAccount] = fields.ForeignKeyField(
        "otvet.AdminAccount", related_name="channel_accounts", on_delete=fields.CASCADE
    )
    channel = fields.CharField(max_length=32)
    external_id = fields.CharField(max_length=255)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "otvet_channel_admin"
        table_description = "Channel accounts linked to admins"
        unique_together = (("channel", "external_id"),)


class LinkCode(Model):
    """A one-time code an admin sends from a channel to link that channel's account to their admin account."""

    id = fields.IntField(primary_key=True)
    admin: fields.ForeignKeyRelation[AdminAccount] = fields.ForeignKeyField(
        "otvet.AdminAccount", related_name="link_codes", on_delete=fields.CASCADE
    )
    code_hash = fields.CharField(max_length=64, unique=True)  # SHA-256 of the code, hex
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "otvet_link_code"
        table_description = "One-time codes linking channel accounts to admins"


class ApiKey(Model):
    """A machine credential: only its hash is stored; ``prefix`` finds the row without revealing the key."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=150)
    prefix = fields.CharField(max_length=32, unique=True)
    key_hash = fields.CharField(max_length=255)
    scopes = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "otvet_api_key"
        table_description = "API keys (hashed)"


class SendSlot(Model):
    """One use of a sliding-window limit shared by every replica (a message under a Telegram bot's and a
    chat's flood limits): a window holds at most its count of these within its length."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=255)
    #: When it was used: seconds since the epoch by the database's clock, which every replica shares.
    at = fields.FloatField()

    class Meta:
        table = "otvet_send_slot"
        table_description = "Sliding-window limits shared by every replica"
        indexes = (("key", "at"),)


class RateWindow(Model):
    """Hits of one rate-limited key (an API key, a login address, an account's failed logins) in one fixed
    window of time, shared by every process on the database (core/limits.py)."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=255)
    #: The window's start and the moment the row is no longer needed, in whole seconds since the epoch.
    start = fields.BigIntField()
    expires = fields.BigIntField(db_index=True)
    hits = fields.IntField(default=0)

    class Meta:
        table = "otvet_rate_window"
        table_description = "Rate-limit counters shared by every replica"
        unique_together = (("key", "start"),)


class Activity(Model):
    """Counts of one UTC day, channel, provider and model, kept as turns finish and ratings are given: the
    admin overview reads these instead of the messages, so it costs the same for a year as for a day and
    survives the deletion of old conversations. Ratings have an empty provider and model."""

    id = fields.BigIntField(primary_key=True)
    day = fields.CharField(max_length=10)  # YYYY-MM-DD, UTC
    channel = fields.CharField(max_length=32)
    provider = fields.CharField(max_length=64, default="")
    model = fields.CharField(max_length=128, default="")
    answered = fields.IntField(default=0)
    unknown = fields.IntField(default=0)
    failed = fields.IntField(default=0)
    refused = fields.IntField(default=0)
    thumbs_up = fields.IntField(default=0)
    thumbs_down = fields.IntField(default=0)
    prompt_tokens = fields.BigIntField(default=0)
    completion_tokens = fields.BigIntField(default=0)
    # Seconds of audio transcribed (voice questions); their transcriber is the row's provider and model.
    audio_seconds = fields.BigIntField(default=0, db_default=0)

    class Meta:
        table = "otvet_activity"
        table_description = "Daily counts of questions, answers, tokens and ratings"
        unique_together = (("day", "channel", "provider", "model"),)


class AnswerTimes(Model):
    """How many answers of one UTC day and channel took up to ``bucket_ms``: percentiles of any period are
    read from these without keeping every answer's time."""

    id = fields.BigIntField(primary_key=True)
    day = fields.CharField(max_length=10)
    channel = fields.CharField(max_length=32)
    bucket_ms = fields.IntField()
    count = fields.IntField(default=0)

    class Meta:
        table = "otvet_answer_times"
        table_description = "Daily counts of answers by answer time"
        unique_together = (("day", "channel", "bucket_ms"),)
