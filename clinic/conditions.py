"""The conditions the clinic treats, and the groups it sorts them into.

Shared vocabulary below the apps that use it: the patient record stores these keys
(``patients.models.Patient.conditions``), the questionnaires pick their instruments by
group (``patients.questionnaires``), and the public site has one page per group
(``content.conditions``), so all of them speak the same language.
"""

from __future__ import annotations

from django.db import models


class Condition(models.TextChoices):
    TRD = "trd", "Treatment-resistant depression"
    MDD = "mdd", "Major depression"
    BIPOLAR_DEPRESSION = "bipolar_depression", "Bipolar depression"
    SUICIDAL_IDEATION = "suicidal_ideation", "Suicidal ideation"
    ANXIETY = "anxiety", "Anxiety disorder"
    OCD = "ocd", "Obsessive-compulsive disorder"
    PTSD = "ptsd", "PTSD"
    SUD = "sud", "Substance use disorder"
    EATING_DISORDER = "eating_disorder", "Eating disorder"
    NEUROPATHIC_PAIN = "neuropathic_pain", "Neuropathic pain"
    FIBROMYALGIA = "fibromyalgia", "Fibromyalgia"
    CRPS = "crps", "Complex regional pain syndrome"
    MIGRAINE = "migraine", "Migraine"
    CLUSTER_HEADACHE = "cluster_headache", "Cluster headache"
    MS_NEUROPATHIC_PAIN = "ms_neuropathic_pain", "MS-related neuropathic pain"


# The groups, by the values of ``Condition`` (the keys the patient record stores).
DEPRESSION_CONDITIONS = frozenset({"trd", "mdd", "bipolar_depression", "suicidal_ideation"})
ANXIETY_CONDITIONS = frozenset({"anxiety", "ocd"})
PTSD_CONDITIONS = frozenset({"ptsd"})
OTHER_PSYCHIATRIC_CONDITIONS = frozenset({"sud", "eating_disorder"})
PAIN_CONDITIONS = frozenset(
    {
        "neuropathic_pain",
        "fibromyalgia",
        "crps",
        "migraine",
        "cluster_headache",
        "ms_neuropathic_pain",
    }
)
PSYCHIATRIC_CONDITIONS = (
    DEPRESSION_CONDITIONS | ANXIETY_CONDITIONS | PTSD_CONDITIONS | OTHER_PSYCHIATRIC_CONDITIONS
)
CONDITION_KEYS = PSYCHIATRIC_CONDITIONS | PAIN_CONDITIONS
