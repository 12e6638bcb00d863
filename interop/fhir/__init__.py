"""FHIR R4 export: pure builders from our models to FHIR JSON (``resources``), a patient's
``$everything`` Bundle, and the clinic-wide bulk export in the FHIR Bulk Data style.

The codes used, and where each comes from, are in ``interop.fhir.codes``.
"""
