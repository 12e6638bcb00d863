"""The visitor's address behind proxies (clinic.client_address): one answer for the booking
limits, the sign-in lockout and the audit log, which a visitor cannot choose."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from clinic.audit import Action
from clinic.client_address import client_ip
from clinic.models import AuditEvent
from conftest import PASSWORD

PROXY = "10.0.0.2"


def request_from(remote_addr: str = PROXY, forwarded_for: str | None = None):
    headers = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().get("/", **headers)


def test_without_trusted_proxies_it_ignores_x_forwarded_for(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request_from("198.51.100.7", "203.0.113.1")) == "198.51.100.7"


def test_behind_one_proxy_it_takes_the_address_the_proxy_appended(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from(forwarded_for="198.51.100.7")) == "198.51.100.7"
    # A visitor's own header comes first; the proxy appends after it.
    assert client_ip(request_from(forwarded_for="203.0.113.1, 198.51.100.7")) == "198.51.100.7"


def test_behind_two_proxies_it_takes_the_second_entry_from_the_right(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    forwarded = "203.0.113.1, 198.51.100.7, 10.0.0.9"
    assert client_ip(request_from(forwarded_for=forwarded)) == "198.51.100.7"


@pytest.mark.parametrize(
    "forwarded_for",
    [None, "", "198.51.100.7", "not an address", "198.51.100.7, ", "203.0.113.1,,"],
)
def test_a_missing_short_or_malformed_header_falls_back_to_the_proxy_address(
    settings, forwarded_for
):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request_from(forwarded_for=forwarded_for)) == PROXY


def test_it_reads_ipv6_and_addresses_with_ports(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from(forwarded_for="[2001:DB8::1]:443")) == "2001:db8::1"
    assert client_ip(request_from(forwarded_for="2001:db8::2")) == "2001:db8::2"
    assert client_ip(request_from(forwarded_for="198.51.100.7:51234")) == "198.51.100.7"


def test_there_is_no_address_without_a_request():
    assert client_ip(None) is None


def test_the_audit_log_records_the_visitor_behind_the_proxy(client, fran, settings):
    settings.TRUSTED_PROXY_COUNT = 1

    client.post(
        "/staff/login/",
        {"username": fran.email, "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="203.0.113.1, 198.51.100.7",
    )

    assert AuditEvent.objects.get(action=Action.LOGIN).ip_address == "198.51.100.7"


def test_a_lockout_behind_the_proxy_locks_out_one_visitor_not_everyone(client, nina, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    attacker = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "198.51.100.66"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/staff/login/", {"username": nina.email, "password": "wrong"}, **attacker)

    right_password = {"username": nina.email, "password": PASSWORD}
    locked = client.post("/staff/login/", right_password, **attacker)
    # Changing the header the visitor controls changes nothing: the proxy appends the real one.
    spoofed = client.post(
        "/staff/login/",
        {"username": nina.email, "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.1, 198.51.100.66",
    )
    nina_at_work = client.post(
        "/staff/login/",
        {"username": nina.email, "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.1",
    )

    assert locked.status_code == 429
    assert spoofed.status_code == 429
    assert nina_at_work.status_code == 302
