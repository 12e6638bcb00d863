"""Interoperability: the clinic's records in standard health formats (``interop.fhir``).

Layered on top of the domain apps: it reads patients, scheduling, infusions and outcomes
through their selectors; none of them imports it (an import contract in pyproject.toml).
"""
