"""discharge pages of the session screen."""

urlpatterns: list = []
