"""Fetch GraphiQL's page assets again from npm (``npm pack``: React and ReactDOM's UMD builds, GraphiQL's
bundle and stylesheet) into frontends/graphql/graphiql/, the big ones gzip-compressed, with their licences.
Run it to move to other versions, then update the names in frontends/graphql/ide.py and index.html."""

from __future__ import annotations

import gzip
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "frontends" / "graphql" / "graphiql"
#: package, version, file inside the package, stored name, compressed
FILES = [
    ("react", "18.2.0", "umd/react.production.min.js", "react-18.2.0.production.min.js", False),
    ("react-dom", "18.2.0", "umd/react-dom.production.min.js", "react-dom-18.2.0.production.min.js", False),
    ("graphiql", "3.8.3", "graphiql.min.js", "graphiql-3.8.3.min.js.gz", True),
    ("graphiql", "3.8.3", "graphiql.min.css", "graphiql-3.8.3.min.css.gz", True),
]


def main() -> None:
    licences = [
        "# Licences of the GraphiQL page's assets",
        "",
        "Fetched from npm by tools/vendor_graphiql.py: React's and ReactDOM's UMD builds, GraphiQL's bundle",
        "(which includes its own dependencies, under their MIT licences) and stylesheet.",
        "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for package, version in dict.fromkeys((p, v) for p, v, *_ in FILES):
            subprocess.run(["npm", "pack", f"{package}@{version}"], cwd=tmp, check=True, capture_output=True)
            name = package.replace("@", "").replace("/", "-")
            with tarfile.open(Path(tmp) / f"{name}-{version}.tgz") as archive:
                archive.extractall(Path(tmp) / name, filter="data")
            licence = (Path(tmp) / name / "package" / "LICENSE").read_text(encoding="utf-8")
            licences += [f"## {package} {version}", "", licence]
            for _, _, inside, stored, compressed in (f for f in FILES if f[:2] == (package, version)):
                data = (Path(tmp) / name / "package" / inside).read_bytes()
                (TARGET / stored).write_bytes(gzip.compress(data, 9, mtime=0) if compressed else data)
    (TARGET / "LICENSES.md").write_text("\n".join(licences), encoding="utf-8")
    sys.stdout.write(f"GraphiQL's assets are in {TARGET}\n")


if __name__ == "__main__":
    main()
