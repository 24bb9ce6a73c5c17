"""A webhook's host is checked again at every delivery attempt (DNS rebinding, SSRF): a name
that resolved to a public address at registration and to an internal one later is refused
outside development, and the connection goes to the very address that was checked."""

from __future__ import annotations

import pytest

from services.alerting.webhooks import Webhook, WebhookUrlRefused, check_webhook_url, deliver, pin

PUBLIC = "93.184.216.34"
HOOK = Webhook("siao", "https://hooks.siao.example/relais", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")


class Response:
    def __init__(self, status: int) -> None:
        self.status_code = status


class Recorder:
    """What the HTTP client was asked to do."""

    def __init__(self, *statuses: int) -> None:
        self.calls: list[tuple[str, dict, dict]] = []
        self._statuses = list(statuses)

    def __call__(self, url, content, headers, timeout, extensions):  # noqa: ANN001, ANN204
        self.calls.append((url, headers, extensions))
        return Response(self._statuses.pop(0) if self._statuses else 200)


class Rebinding:
    """A hostile DNS: the answers given in turn (the last one repeats)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers, self.asked = list(answers), 0

    def __call__(self, host: str) -> list[str]:
        self.asked += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


INTERNAL = ["127.0.0.1", "127.1.2.3", "10.0.0.5", "172.16.3.4", "192.168.1.1", "169.254.169.254", "0.0.0.0",
            "100.64.0.1", "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "ff02::1"]


@pytest.mark.parametrize("address", INTERNAL)
def test_a_name_public_at_registration_and_internal_at_delivery_is_not_called(address):
    dns = Rebinding([PUBLIC], [address])
    assert check_webhook_url(HOOK.url, development=False, resolve=dns) == HOOK.url  # registration passes
    post = Recorder()
    result = deliver(HOOK, "d1", {"x": 1}, post=post, resolve=dns, sleep=lambda s: None)
    assert not result and not result.sent and post.calls == []
    assert "adresse interne" in result.reason


def test_one_internal_address_among_public_ones_refuses_the_delivery():
    post = Recorder()
    result = deliver(HOOK, "d1", {}, post=post, resolve=lambda h: [PUBLIC, "127.0.0.1"], sleep=lambda s: None)
    assert not result and post.calls == []


def test_the_connection_goes_to_the_checked_address_with_the_registered_host_in_host_and_sni():
    post = Recorder()
    assert deliver(HOOK, "d1", {}, post=post, resolve=lambda h: [PUBLIC], sleep=lambda s: None)
    url, headers, extensions = post.calls[0]
    assert url == f"https://{PUBLIC}/relais"
    assert headers["Host"] == "hooks.siao.example" and extensions == {"sni_hostname": "hooks.siao.example"}


def test_a_retry_resolves_again_and_stops_when_the_name_turned_internal():
    dns = Rebinding([PUBLIC], ["127.0.0.1"])
    post = Recorder(503)
    result = deliver(HOOK, "d1", {}, post=post, resolve=dns, sleep=lambda s: None)
    assert not result and len(post.calls) == 1 and dns.asked == 2
    assert result.sent  # the first attempt did send the body: its audit says so


def test_a_redirection_is_not_followed_nor_retried():
    post = Recorder(307)
    result = deliver(HOOK, "d1", {}, post=post, resolve=lambda h: [PUBLIC], sleep=lambda s: None)
    assert not result and len(post.calls) == 1 and result.reason == "redirection HTTP 307 non suivie"


def test_an_ipv6_address_and_a_port_are_written_back_as_a_valid_url():
    target = pin("https://hooks.siao.example:8443/a?b=1", development=False, resolve=lambda h: ["2606:2800:220:1::"])
    assert target.url == "https://[2606:2800:220:1::]:8443/a?b=1" and target.host_header == "hooks.siao.example:8443"


@pytest.mark.parametrize("url", ["http://hooks.siao.example/x", "https://user:pw@hooks.siao.example/x",
                                 "ftp://hooks.siao.example/x", "https:///x", "https://hooks.siao.example/a b"])
def test_a_url_refused_at_registration_is_refused_at_delivery_too(url):
    with pytest.raises(WebhookUrlRefused):
        pin(url, development=False, resolve=lambda h: [PUBLIC])
    post = Recorder()
    assert not deliver(Webhook("siao", url, "s"), "d1", {}, post=post, resolve=lambda h: [PUBLIC],
                       sleep=lambda s: None)
    assert post.calls == []


def test_in_development_a_local_receiver_is_allowed_and_still_pinned():
    post = Recorder()
    assert deliver(Webhook("siao", "http://receiver.test:8080/h", "s"), "d1", {}, post=post, development=True,
                   resolve=lambda h: ["127.0.0.1"], sleep=lambda s: None)
    assert post.calls[0][0] == "http://127.0.0.1:8080/h" and post.calls[0][1]["Host"] == "receiver.test:8080"
