"""The vendored schemas of what leaves the farm, and their validators (format checks on).

kcidb/v5.3.json (kcidb-io 141) and patchwork/check-create.json (patchwork's
OpenAPI CheckCreate); each directory keeps its project's GPL notice. Formats
(date-time, uri) are checked: jsonschema checks them only with its "format"
extra installed (rfc3339-validator, rfc3987), and formats() says whether it is.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from farm.model.errors import InfraError, UserError

HERE = Path(__file__).resolve().parent
KCIDB = HERE / "kcidb" / "v5.3.json"
CHECK_CREATE = HERE / "patchwork" / "check-create.json"
_PROBE = {"type": "string", "format": "date-time"}


@functools.cache
def _validator(path: Path) -> Any:
    import jsonschema

    schema = json.loads(path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def formats() -> bool:
    """Are date-time formats really checked here (the jsonschema[format] extra installed)?"""
    import jsonschema

    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    return not jsonschema.Draft7Validator(_PROBE, format_checker=checker).is_valid("yesterday")


def errors(path: Path, document: Any) -> list[str]:
    """Every violation of the schema at path, as "where: what", in a stable order."""
    found = sorted(_validator(path).iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}" for e in found]


def check(path: Path, document: Any, what: str) -> None:
    """UserError listing the first violations when document does not validate (or formats cannot be checked)."""
    if not formats():
        raise InfraError(f"{what}: date-time formats cannot be checked here: install jsonschema[format]")
    problems = errors(path, document)
    if problems:
        shown = "; ".join(problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise UserError(f"{what} does not validate against {path.parent.name}/{path.name}: {shown}{more}")
