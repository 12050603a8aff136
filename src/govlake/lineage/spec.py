"""Validate OpenLineage events against the spec's JSON schemas (`../shared/openlineage-spec/`:
`OpenLineage.json` and `facets/*.json`, Draft 2020-12).

The core schema leaves facets open (any object with `_producer` and `_schemaURL`), so each facet
is also validated against its own schema: the one its `_schemaURL` names when the registry holds
it, else the spec's facet of that name for that place (`tags` is TagsRunFacet under `run.facets`,
TagsJobFacet under `job.facets`, ...). Besides the schemas' own rules an event fails when
- a facet sits where its schema's base class does not allow it (RunFacet under `run.facets`,
  JobFacet under `job.facets`, DatasetFacet under a dataset's `facets`, InputDatasetFacet under
  `inputFacets`, OutputDatasetFacet under `outputFacets`), e.g. dataQualityAssertions under
  `facets`;
- it uses a property the spec marks `deprecated` (e.g. columnLineage's transformationType and
  transformationDescription, replaced by inputFields[].transformations);
- a `format` is not met (uuid run ids, RFC 3339 date-times, URIs).
Facets the spec does not define (custom facets) are checked as BaseFacet only.

    from govlake.lineage.spec import validate_event
    errors = validate_event(event)   # [] when valid; "path: message" strings otherwise
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

CORE_FILE = "OpenLineage.json"
# base class (the last part of its $ref in the core schema) -> where a facet of that class sits
PLACES = {
    "RunFacet": "run.facets",
    "JobFacet": "job.facets",
    "DatasetFacet": "facets",
    "InputDatasetFacet": "inputFacets",
    "OutputDatasetFacet": "outputFacets",
}


class SpecNotFound(FileNotFoundError):
    pass


def find_spec_dir(start: Path | str | None = None) -> Path | None:
    """The OpenLineage spec folder: `<repo>/../shared/openlineage-spec` (beside the shared data
    folder of the settings, then beside the repository), or None when absent."""
    candidates: list[Path] = []
    if start is not None:
        candidates.append(Path(start))
    try:
        from govlake.settings import get_settings

        s = get_settings()
        candidates += [Path(s.shared_data_dir).parent / "openlineage-spec",
                       Path(s.repo_root).parent / "shared" / "openlineage-spec"]
    except (ImportError, ValueError):  # settings unreadable (a bad GOVLAKE_* value): the source tree's
        candidates.append(Path(__file__).resolve().parents[3].parent / "shared" / "openlineage-spec")
    for c in candidates:
        if (c / CORE_FILE).is_file():
            return c
    return None


@dataclass
class FacetSchema:
    uri: str          # absolute URI of the facet's $def, e.g. https://.../SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet
    name: str         # SchemaDatasetFacet
    base: str | None  # RunFacet | JobFacet | DatasetFacet | InputDatasetFacet | OutputDatasetFacet


@dataclass
class Spec:
    """The schemas of one spec folder, resolvable by $id, and the facet index."""

    root: Path
    core_id: str
    registry: object  # referencing.Registry
    facets_by_uri: dict[str, FacetSchema] = field(default_factory=dict)
    facets_by_key: dict[tuple[str, str], FacetSchema] = field(default_factory=dict)  # (place, key)

    def validator(self, schema: dict):
        return _validator_class()(schema, registry=self.registry, format_checker=_format_checker())

    def facet_for(self, key: str, facet: dict, place: str) -> tuple[FacetSchema | None, str | None]:
        """(schema, how it was found) for a facet at a place ("run.facets", "inputFacets", ...)."""
        url = facet.get("_schemaURL") if isinstance(facet, dict) else None
        if isinstance(url, str):
            found = self.facets_by_uri.get(_norm(url))
            if found is not None:
                return found, "_schemaURL"
        found = self.facets_by_key.get((place, key))
        if found is not None:
            return found, "name"
        # the name is a standard facet, but of another place: report the misplacement
        for (p, k), fs in self.facets_by_key.items():
            if k == key:
                return fs, "name"
        return None, None


def _norm(uri: str) -> str:
    base, _, frag = uri.partition("#")
    return f"{base}#{frag}" if frag else base


@lru_cache(maxsize=4)
def load_spec(spec_dir: Path | str | None = None) -> Spec:
    """Every JSON file of the folder in a referencing Registry (by its $id)."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    root = Path(spec_dir) if spec_dir is not None else find_spec_dir()
    if root is None or not (root / CORE_FILE).is_file():
        raise SpecNotFound(f"OpenLineage spec schemas not found (looked for {CORE_FILE} in "
                           f"{root or '../shared/openlineage-spec'})")
    docs: dict[str, dict] = {}
    for path in sorted(root.rglob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict) and doc.get("$id"):
            docs[doc["$id"]] = doc
    core = json.loads((root / CORE_FILE).read_text(encoding="utf-8"))
    registry = Registry().with_resources(
        (uri, Resource.from_contents(doc, default_specification=DRAFT202012)) for uri, doc in docs.items())
    spec = Spec(root=root, core_id=core["$id"], registry=registry)
    core_defs = f"{core['$id']}#/$defs/"
    for uri, doc in docs.items():
        if uri == core["$id"]:
            continue
        defs = doc.get("$defs") or {}
        local: dict[str, FacetSchema] = {}
        for name, d in defs.items():
            base = next((a["$ref"][len(core_defs):] for a in d.get("allOf", [])
                         if isinstance(a, dict) and str(a.get("$ref", "")).startswith(core_defs)), None)
            if base in PLACES:
                fs = FacetSchema(f"{uri}#/$defs/{name}", name, base)
                local[name] = fs
                spec.facets_by_uri[fs.uri] = fs
        # the facet's key: the document's top-level properties name the $def it describes
        for key, prop in (doc.get("properties") or {}).items():
            ref = prop.get("$ref", "") if isinstance(prop, dict) else ""
            target = local.get(ref.rpartition("/")[2]) if ref.startswith("#/$defs/") else None
            if target is not None:
                spec.facets_by_key.setdefault((PLACES[target.base], key), target)
            else:  # a union (subset: input or output; lineage: dataset or job): index each member
                union = defs.get(ref.rpartition("/")[2], {}) if ref else (prop if isinstance(prop, dict) else {})
                for alt in union.get("oneOf", []) + union.get("anyOf", []):
                    m = local.get(str(alt.get("$ref", "")).rpartition("/")[2])
                    if m is not None:
                        spec.facets_by_key.setdefault((PLACES[m.base], key), m)
    return spec


# -- jsonschema: deprecated properties fail, formats are checked ---------------------------------
@lru_cache(maxsize=1)
def _validator_class():
    from jsonschema import Draft202012Validator, ValidationError, validators

    def deprecated(validator, value, instance, schema):
        if value is True:
            yield ValidationError("deprecated in the current spec" + (
                f" ({schema['description']})" if schema.get("description") else ""))

    return validators.extend(Draft202012Validator, {"deprecated": deprecated}, version="govlake-ol")


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


@lru_cache(maxsize=1)
def _format_checker():
    from jsonschema import FormatChecker

    checker = FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value) -> bool:
        if not isinstance(value, str):
            return True
        if not _RFC3339.match(value):
            return False
        dt.datetime.fromisoformat(value.upper())  # Python >= 3.11 reads Z
        return True

    @checker.checks("uri", raises=ValueError)
    def _uri(value) -> bool:
        if not isinstance(value, str):
            return True
        p = urlparse(value)
        return bool(p.scheme) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*$", p.scheme) is not None \
            and not any(c.isspace() for c in value) and bool(p.netloc or p.path)

    return checker


# -- validation -----------------------------------------------------------------------------------
def _path(parts: Iterable) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _leaves(error):
    """The innermost errors (an anyOf/oneOf failure names its branches' errors in .context)."""
    if error.context:
        for e in error.context:
            yield from _leaves(e)
    else:
        yield error


def _errors(validator, instance, prefix: str) -> list[str]:
    out = []
    for e in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        for leaf in _leaves(e):
            where = _path([prefix, *leaf.absolute_path]) if prefix else _path(leaf.absolute_path)
            out.append(f"{where or '(event)'}: {leaf.message}")
    return list(dict.fromkeys(out))


def _event_kind(event: dict) -> str:
    if "dataset" in event:
        return "DatasetEvent"
    if "run" in event or "eventType" in event:
        return "RunEvent"
    return "JobEvent"


def validate_event(event: dict | str, spec: Spec | None = None) -> list[str]:
    """Errors of one event (a dict or its JSON text) against the core schema and every facet's
    schema, with the facets' placement checked; [] when the event is valid."""
    spec = spec or load_spec()
    if isinstance(event, (str, bytes)):
        try:
            event = json.loads(event)
        except ValueError as e:
            return [f"(event): not JSON: {e}"]
    if not isinstance(event, dict):
        return ["(event): not a JSON object"]
    kind = _event_kind(event)
    errors = _errors(spec.validator({"$ref": f"{spec.core_id}#/$defs/{kind}"}), event, "")
    for place, where, facets in _facet_groups(event):
        if not isinstance(facets, dict):
            continue
        for key, facet in facets.items():
            at = f"{where}.{key}"
            fs, _how = spec.facet_for(key, facet, place)
            if fs is None:
                continue  # a custom facet: the core schema checked it as a BaseFacet
            if PLACES[fs.base] != place:
                errors.append(f"{at}: {fs.name} is an {fs.base}, it belongs under "
                              f"{PLACES[fs.base].split('.')[-1]} (found under {place.split('.')[-1]})")
                continue
            errors += _errors(spec.validator({"$ref": fs.uri}), facet, at)
    return errors


def _facet_groups(event: dict):
    """(place, path, facets dict) for every facet container of an event."""
    run, job = event.get("run"), event.get("job")
    if isinstance(run, dict):
        yield "run.facets", "run.facets", run.get("facets")
    if isinstance(job, dict):
        yield "job.facets", "job.facets", job.get("facets")
    for side, extra in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        for i, ds in enumerate(event.get(side) or []):
            if isinstance(ds, dict):
                yield "facets", f"{side}[{i}].facets", ds.get("facets")
                yield extra, f"{side}[{i}].{extra}", ds.get(extra)
    if isinstance(event.get("dataset"), dict):
        yield "facets", "dataset.facets", event["dataset"].get("facets")


@dataclass
class Report:
    events: int = 0
    passed: int = 0
    failures: list[tuple[int, str, list[str]]] = field(default_factory=list)  # (line, job, errors)

    @property
    def failed(self) -> int:
        return self.events - self.passed

    def by_message(self) -> dict[str, int]:
        """How many events fail with each error, the event-specific parts (indexes) folded."""
        counts: dict[str, int] = {}
        for _, _, errs in self.failures:
            for msg in dict.fromkeys(re.sub(r"\[\d+\]", "[*]", e) for e in errs):
                counts[msg] = counts.get(msg, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def validate_events(events: Iterable[dict | str], spec: Spec | None = None) -> Report:
    spec = spec or load_spec()
    rep = Report()
    for n, ev in enumerate(events, 1):
        rep.events += 1
        if isinstance(ev, (str, bytes)):
            try:
                ev = json.loads(ev)
            except ValueError:
                pass
        errs = validate_event(ev, spec)
        if errs:
            job = ev.get("job", {}).get("name", "?") if isinstance(ev, dict) else "?"
            rep.failures.append((n, job, errs))
        else:
            rep.passed += 1
    return rep


def validate_file(path: Path | str, spec: Spec | None = None) -> Report:
    """A JSON-lines events file (the file transport's, or openlineage-spark's)."""
    def lines():
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield line
    return validate_events(lines(), spec)
