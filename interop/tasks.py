"""Background work for the FHIR export: the tasks are defined with their services
(``interop.fhir.bulk.run_fhir_export``, ``fail_stale_fhir_exports``); importing them here
lets the worker find them."""

from interop.fhir.bulk import fail_stale_fhir_exports, run_fhir_export

__all__ = ["fail_stale_fhir_exports", "run_fhir_export"]
