"""The superbill's defaults (DOMAIN.md "Money"; the README's billing section lists them):
the CPT/HCPCS codes each kind of visit is billed with, the ICD-10-CM code of each condition
DOMAIN.md names, and the clinic-wide place of service (11, office). Clinic admins change
all of it under Billing → Superbill codes; the NPI and tax id are theirs to fill in."""

from django.db import migrations

# kind, code, description, units rule, position, on
SERVICE_CODES = [
    (
        "consultation",
        "99204",
        "Office visit, new patient (moderate complexity)",
        "per_visit",
        0,
        True,
    ),
    (
        "consultation",
        "96127",
        "Brief emotional or behavioural assessment, scored instrument",
        "per_scored_questionnaire",
        1,
        True,
    ),
    (
        "follow_up",
        "99214",
        "Office visit, established patient (moderate complexity)",
        "per_visit",
        0,
        True,
    ),
    (
        "follow_up",
        "96127",
        "Brief emotional or behavioural assessment, scored instrument",
        "per_scored_questionnaire",
        1,
        True,
    ),
    ("infusion", "96365", "IV infusion for therapy, first hour", "infusion_first_hour", 0, True),
    (
        "infusion",
        "96366",
        "IV infusion for therapy, each additional hour",
        "infusion_additional_hour",
        1,
        True,
    ),
    (
        "infusion",
        "96127",
        "Brief emotional or behavioural assessment, scored instrument",
        "per_scored_questionnaire",
        2,
        True,
    ),
    # Off until the clinic lists the drug on its bills.
    ("infusion", "J3490", "Unclassified drug (ketamine)", "per_drug_given", 3, False),
    ("booster", "96365", "IV infusion for therapy, first hour", "infusion_first_hour", 0, True),
    (
        "booster",
        "96366",
        "IV infusion for therapy, each additional hour",
        "infusion_additional_hour",
        1,
        True,
    ),
    (
        "booster",
        "96127",
        "Brief emotional or behavioural assessment, scored instrument",
        "per_scored_questionnaire",
        2,
        True,
    ),
    ("booster", "J3490", "Unclassified drug (ketamine)", "per_drug_given", 3, False),
]

# condition key (clinic.conditions.Condition), ICD-10-CM code, description
DIAGNOSIS_CODES = [
    ("trd", "F33.2", "Major depressive disorder, recurrent severe without psychotic features"),
    (
        "mdd",
        "F32.2",
        "Major depressive disorder, single episode, severe without psychotic features",
    ),
    ("bipolar_depression", "F31.9", "Bipolar disorder, unspecified"),
    ("anxiety", "F41.1", "Generalized anxiety disorder"),
    ("ptsd", "F43.10", "Post-traumatic stress disorder, unspecified"),
    ("ocd", "F42.2", "Mixed obsessional thoughts and acts"),
    ("crps", "G90.50", "Complex regional pain syndrome I, unspecified"),
    ("fibromyalgia", "M79.7", "Fibromyalgia"),
    ("migraine", "G43.909", "Migraine, unspecified, not intractable, without status migrainosus"),
    ("suicidal_ideation", "R45.851", "Suicidal ideations"),
]


def add_defaults(apps, schema_editor):
    AppointmentType = apps.get_model("scheduling", "AppointmentType")
    ServiceCode = apps.get_model("billing", "ServiceCode")
    DiagnosisCode = apps.get_model("billing", "DiagnosisCode")
    PracticeDetails = apps.get_model("billing", "PracticeDetails")
    types = {t.kind: t for t in AppointmentType.objects.all()}
    for kind, code, description, rule, position, on in SERVICE_CODES:
        if kind in types:
            ServiceCode.objects.get_or_create(
                appointment_type=types[kind],
                code=code,
                defaults={
                    "description": description,
                    "units_rule": rule,
                    "position": position,
                    "is_active": on,
                },
            )
    for condition, code, description in DIAGNOSIS_CODES:
        DiagnosisCode.objects.get_or_create(
            condition=condition, defaults={"code": code, "description": description}
        )
    if not PracticeDetails.objects.filter(location__isnull=True).exists():
        PracticeDetails.objects.create(location=None, place_of_service="11")


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0005_superbill_codes"),
        ("scheduling", "0002_default_appointment_types"),
    ]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
