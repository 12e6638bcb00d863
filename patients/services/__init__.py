"""Writes about patients, split by subdomain: records, intake, screening, consent."""
