"""Background work for the FHIR export: the task is defined with its service
(``interop.fhir.bulk.run_fhir_export``); importing it here lets the worker find it."""

from interop.fhir.bulk import run_fhir_export

__all__ = ["run_fhir_export"]
