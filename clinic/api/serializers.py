from rest_framework import serializers

from clinic.models import User
from clinic.permissions import capabilities_of


class MeSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    capabilities = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "roles", "capabilities"]
        read_only_fields = fields

    def get_capabilities(self, user: User) -> list[str]:
        return sorted(capabilities_of(user))


def cosigner_code_field(who: str) -> serializers.CharField:
    """The second factor of the ``who`` ("witness", "physician") confirming an act, next to
    their password (``clinic.cosign.cosigner_errors`` checks both)."""
    return serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        write_only=True,
        help_text=f"Only when the {who} has a second factor: the 6-digit code from their "
        "authenticator app, or one of their recovery codes.",
    )
