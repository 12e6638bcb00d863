"""Small pieces every FHIR builder uses: times, ids, references, quantities.

Ids are our opaque public ids (UUIDs), never database keys. A record that has no public
id of its own (a consultation's measurements, a scored questionnaire, a consent to be
contacted, one of the patient's conditions) gets a name-based UUID (RFC 4122 version 5)
inside its patient's public id: the same record gets the same id in every export, and the
id reveals neither the database key nor the patient without the patient's own id.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from interop.fhir.codes import UCUM, Code, Unit

JSON = dict[str, Any]


def instant(moment: datetime) -> str:
    """A stored moment as FHIR writes it: UTC, ISO 8601, with its offset
    ("2026-12-07T14:30:00+00:00")."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def record_id(patient_public_id: uuid.UUID | str, kind: str, key: object) -> str:
    """The id of a record without a public id of its own: a version 5 UUID named by the
    kind of record and its key, inside the patient's public id (see the module's note)."""
    return str(uuid.uuid5(uuid.UUID(str(patient_public_id)), f"{kind}:{key}"))


def reference(resource_type: str, resource_id: uuid.UUID | str) -> JSON:
    return {"reference": f"{resource_type}/{resource_id}"}


def patient_reference(patient_public_id: uuid.UUID | str) -> JSON:
    return reference("Patient", patient_public_id)


def quantity(value: int | Decimal, unit: Unit) -> JSON:
    """A UCUM quantity. Decimals go out as JSON numbers (FHIR's decimal): ``normalize`` keeps
    "72.5" as 72.5 and turns "80.0" into 80, never a binary float with more digits."""
    number: int | float
    if isinstance(value, Decimal):
        normal = value.normalize()
        number = int(normal) if normal == normal.to_integral_value() else float(normal)
    else:
        number = value
    return {"value": number, "unit": unit.unit, "system": UCUM, "code": unit.code}


def concept(*codes: Code, text: str = "") -> JSON:
    result: JSON = {}
    if codes:
        result["coding"] = [code.coding() for code in codes]
    if text:
        result["text"] = text
    return result


def meta(*profiles: str) -> JSON:
    return {"profile": list(profiles)}
