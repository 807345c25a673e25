"""``python -m otvet`` is the ``otvet`` command."""

from __future__ import annotations

from otvet.frontends.cli.main import main

if __name__ == "__main__":
    main()
