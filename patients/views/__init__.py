"""Staff and patient-link pages about patients, one module per area (records, chart,
intake, consent)."""
