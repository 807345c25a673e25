"""The GraphQL API (strawberry on Starlette) at ``/graphql``: see docs/graphql.md and docs/schema.graphql.

Modules: ``plugin`` (the route), ``app`` (the ASGI app: HTTP semantics, auth, body limit), ``schema``,
``queries`` / ``mutations`` (``conversing``, ``training``, ``access``) / ``subscriptions``, ``types`` and
``inputs``, ``permissions`` (scopes), ``limits`` (depth, aliases, cost), ``errors`` (stable codes),
``pagination``, ``uploads``, ``turns``, ``media`` and ``sdl`` (the exported schema).
"""
