"""The models a consumer may run inside the sandbox (沙箱模型登记): catalog/cleanroom_models.yaml.

Each entry names a `module:function` called as score(table: pyarrow.Table, settings) ->
pyarrow.Table with `uscc` and result columns; its code hash is the sha256 of the module's source
file, so the audit names exactly which code saw the data."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from govlake.settings import Settings
from govlake.yamlio import safe_load

FILE = "cleanroom_models.yaml"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_FUNCTION = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class ModelUnavailable(LookupError):
    """A registered model whose code cannot be loaded."""


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    label: str
    function: str
    purpose: str
    input: str
    columns: tuple[str, ...] | None = None
    outputs: tuple[str, ...] | None = None

    @property
    def module(self) -> str:
        return self.function.partition(":")[0]

    def source_file(self) -> Path:
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.origin or not Path(spec.origin).is_file():
            raise ModelUnavailable(f"model {self.name}: module {self.module} is not installed (模型代码不可用)")
        return Path(spec.origin)

    def code_sha256(self) -> str:
        return hashlib.sha256(self.source_file().read_bytes()).hexdigest()

    def load(self):
        module, _, attr = self.function.partition(":")
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise ModelUnavailable(f"model {self.name}: {self.function} cannot be loaded (模型代码不可用): {e}")
        if not callable(fn):
            raise ModelUnavailable(f"model {self.name}: {self.function} is not callable")
        return fn


def load_registry(settings: Settings) -> dict[str, RegisteredModel]:
    path = Path(settings.catalog_dir) / FILE
    if not path.is_file():
        return {}
    doc = safe_load(path.read_text(encoding="utf-8")) or {}
    out = {}
    for e in doc.get("models") or []:
        m = RegisteredModel(name=str(e["name"]), label=str(e.get("label") or e["name"]), function=str(e["function"]),
                            purpose=str(e["purpose"]), input=str(e["input"]),
                            columns=tuple(e["columns"]) if e.get("columns") else None,
                            outputs=tuple(e["outputs"]) if e.get("outputs") else None)
        if not _NAME.match(m.name) or not _FUNCTION.match(m.function):
            raise ValueError(f"{path}: bad model entry {m.name!r} / {m.function!r}")
        if m.name in out:
            raise ValueError(f"{path}: model {m.name} registered twice")
        out[m.name] = m
    return out
