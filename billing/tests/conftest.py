from tests.fake_stripe import fake_stripe  # noqa: F401 (the fixture, for these tests)
