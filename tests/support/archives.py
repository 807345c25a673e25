"""Zip archives made in memory, for the tests of documents that are zips (DOCX) and of zip bombs."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping


def zip_bytes(members: Mapping[str, bytes]) -> bytes:
    """A deflated zip archive holding ``members`` (name → content)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()
