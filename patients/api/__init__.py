"""The patients API: the same selectors and services as the staff pages.

Everyone who may see patients reads demographics and status, and the front desk and
clinicians change a patient's details; intakes, measurements, questionnaires,
screening results and decisions need the clinical capability to read and to record,
and only physicians may record a decision. Every view fetches the patient through
``patients.selectors.patient_for``. Every read of patient data is in the audit log, as
on the pages; every write is logged by the service that makes it.

Serializers here only give requests and responses their shape: every rule (ranges,
formats, who may decide) is the services', whose ``ValidationError`` becomes a 400
with messages keyed by field (``clinic.api.exceptions``).

Each module owns its paths: patients (the list and one patient's details), records
(intakes, measurements, questionnaires) and screening (results and decisions); common
holds what they share, urls puts their paths together.
"""
