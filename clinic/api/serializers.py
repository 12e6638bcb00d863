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
