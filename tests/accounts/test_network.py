"""The client address trusts X-Forwarded-For only from configured proxies."""

from accounts.network import client_address, is_trusted_proxy

PROXIES = ["10.0.0.0/8", "192.0.2.7"]


def test_without_trusted_proxies_the_peer_is_the_client():
    meta = {"REMOTE_ADDR": "203.0.113.5", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}
    assert client_address(meta, proxies=[]) == "203.0.113.5"


def test_a_forwarded_header_from_an_untrusted_peer_is_ignored():
    meta = {"REMOTE_ADDR": "203.0.113.5", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}
    assert client_address(meta, proxies=PROXIES) == "203.0.113.5"


def test_behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client():
    meta = {
        "REMOTE_ADDR": "10.1.2.3",
        "HTTP_X_FORWARDED_FOR": "6.6.6.6, 198.51.100.9, 192.0.2.7",  # client spoofed 6.6.6.6
    }
    assert client_address(meta, proxies=PROXIES) == "198.51.100.9"


def test_a_malformed_chain_falls_back_to_the_proxy():
    meta = {"REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_FOR": "not-an-address"}
    assert client_address(meta, proxies=PROXIES) == "10.1.2.3"


def test_trust_by_network_and_by_address():
    assert is_trusted_proxy("10.200.0.1", PROXIES)
    assert is_trusted_proxy("192.0.2.7", PROXIES)
    assert not is_trusted_proxy("192.0.2.8", PROXIES)
    assert not is_trusted_proxy("garbage", PROXIES)
