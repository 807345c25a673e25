"""The admin console at ``/admin``: a web page for admins, on the public GraphQL API (docs/admin.md)."""
