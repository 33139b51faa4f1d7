"""The one header every manifest starts with, and its one check.

Every manifest this tool writes (supernet and sub-network artifacts, training checkpoints, latency tables,
fitted latency predictors, accuracy tables and predictors, proxy tables, search results, zoo cards) starts
with ``kind``, ``schema_version``, ``tool`` and ``tool_version``. A reader names the header it expects and
:meth:`ManifestHeader.check` refuses, with one wording everywhere, a file of another kind, a schema newer
than this tool reads (upgrade) or older than it still reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ofa.errors import ArtifactError
from ofa.version import __version__

TOOL = "ofa-deploy"


@dataclass(frozen=True)
class ManifestHeader:
    kind: str
    schema: int  # the schema version this tool writes
    oldest: int | None = None  # the oldest version it still reads (default: only ``schema``)
    kind_optional: bool = False  # files written before headers existed carry no ``kind``

    def fields(self) -> dict[str, Any]:
        """The header of a new manifest (put it first)."""
        return {"kind": self.kind, "schema_version": self.schema, "tool": TOOL, "tool_version": __version__}

    def check(self, manifest: Any, where: object, fix: str) -> dict:
        """``manifest`` if its header is one this tool reads, else an :class:`ArtifactError` naming ``where``."""
        if not isinstance(manifest, dict):
            raise ArtifactError(f"{where} is not a JSON object with a {self.kind!r} header; {fix}")
        kind = manifest.get("kind")
        if kind != self.kind and not (kind is None and self.kind_optional):
            raise ArtifactError(f"{where} holds a {kind!r} artifact, expected a {self.kind!r}; {fix}")
        version = manifest.get("schema_version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise ArtifactError(f"{where}: field 'schema_version' must be an integer, got {version!r}; {fix}")
        oldest = self.schema if self.oldest is None else self.oldest
        if version > self.schema:
            raise ArtifactError(f"{where} uses {self.kind} schema {version}; this tool ({TOOL} {__version__}) reads "
                                f"up to {self.schema}: upgrade ofa-deploy")
        if version < oldest:
            raise ArtifactError(f"{where} uses {self.kind} schema {version}, older than this tool reads "
                                f"({oldest}..{self.schema}); {fix}")
        return manifest
