from django.db import models


class Role(models.TextChoices):
    FRONT_DESK = "front_desk", "Front desk"
    NURSE = "nurse", "Nurse"
    PHYSICIAN = "physician", "Physician"
    CLINIC_ADMIN = "clinic_admin", "Clinic admin"
    CONTENT_EDITOR = "content_editor", "Content editor"


# Roles that act on patients' bodies and medicines. Granting one follows the rule in
# clinic.accounts.role_grant_refusal: only a physician who is also a clinic admin may, and
# never to themselves.
CLINICAL_ROLES = frozenset({Role.PHYSICIAN, Role.NURSE})
