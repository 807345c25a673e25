"""Run the real ``otvet`` command line with the benchmarks' ``instant`` provider available.

    OTVET_PROVIDER=instant python bench/otvet_bench.py serve --port 8000

Everything after the script name is ``otvet``'s own arguments. The only difference from the installed
``otvet`` script: ``bench/instant.py`` joins the built-in plugins (``otvet.core.plugins.DEFAULT_PLUGINS``), so
it is registered through the same ``pm.register`` call as every other plugin, whatever ``OTVET_PLUGINS`` says.
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:  # `python bench/otvet_bench.py` has it; `python -m` or an import may not
    sys.path.insert(0, str(BENCH))

from otvet.core import plugins  # noqa: E402  (after the path is set)

plugins.DEFAULT_PLUGINS.setdefault("bench_instant", "instant")


def main() -> None:
    from otvet.frontends.cli.main import main as otvet_main

    otvet_main(sys.argv[1:])


if __name__ == "__main__":
    main()
