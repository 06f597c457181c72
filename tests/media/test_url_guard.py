from __future__ import annotations

from collections.abc import Sequence

import pytest

from reelforge.errors import ConfigurationError, FetchFailed, UrlNotAllowed
from reelforge.media.url_guard import AllowedHost, UrlGuard


class FakeDns:
    """An injected resolver: a fixed table, and a log of what was asked."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(f"unknown host {host}")
        return self.table[host]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://100.100.100.200/",
        "http://127.0.0.1:8080/x.png",
        "http://[::1]/x.png",
        "http://10.0.0.1/x.png",
        "http://172.16.5.4/x.png",
        "http://192.168.1.1/x.png",
        "http://100.64.1.1/x.png",  # CGNAT
        "http://0.0.0.0/x.png",
        "http://224.0.0.1/x.png",
        "http://240.0.0.1/x.png",
        "http://[fe80::1]/x.png",
        "http://[::ffff:127.0.0.1]/x.png",  # IPv4-mapped loopback
        "http://[64:ff9b::a00:1]/x.png",  # NAT64 of 10.0.0.1
        "http://[2002:a00:1::]/x.png",  # 6to4 of 10.0.0.1
        "http://192.0.0.192/",
    ],
)
async def test_non_public_addresses_are_refused(url: str) -> None:
    dns = FakeDns({})
    with pytest.raises(UrlNotAllowed):
        await UrlGuard(resolver=dns).vet(url)
    assert dns.asked == []  # IP literals are never resolved


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/x", "gopher://x", "data:image/png;base64,AAAA", "/x"],
)
async def test_only_http_and_https(url: str) -> None:
    with pytest.raises(UrlNotAllowed):
        await UrlGuard(resolver=FakeDns({})).vet(url)


async def test_credentials_in_url_are_refused() -> None:
    with pytest.raises(UrlNotAllowed):
        await UrlGuard(resolver=FakeDns({"cdn.test": ["93.184.216.34"]})).vet(
            "https://user:pw@cdn.test/a.png"
        )


@pytest.mark.parametrize(
    ("host", "addresses"),
    [
        ("rebind.test", ["10.0.0.7"]),
        ("mixed.test", ["93.184.216.34", "127.0.0.1"]),  # one bad address is enough
        ("v6.test", ["::1"]),
    ],
)
async def test_names_resolving_to_private_addresses_are_refused(
    host: str, addresses: list[str]
) -> None:
    guard = UrlGuard(resolver=FakeDns({host: addresses}))
    with pytest.raises(UrlNotAllowed) as caught:
        await guard.vet(f"http://{host}/a.png")
    assert caught.value.code == "URL_NOT_ALLOWED"


@pytest.mark.parametrize(
    "host", ["metadata.google.internal", "METADATA.google.internal.", "metadata", "metadata.goog"]
)
async def test_metadata_names_are_refused_even_if_allow_listed(host: str) -> None:
    dns = FakeDns({host.lower().rstrip("."): ["169.254.169.254"]})
    guard = UrlGuard([host], resolver=dns)
    with pytest.raises(UrlNotAllowed):
        await guard.vet(f"http://{host}/computeMetadata/v1/")
    assert dns.asked == []


async def test_metadata_address_is_refused_even_if_allow_listed() -> None:
    guard = UrlGuard(
        ["169.254.169.254", "imds.test"], resolver=FakeDns({"imds.test": ["169.254.169.254"]})
    )
    for url in ("http://169.254.169.254/latest/", "http://imds.test/latest/"):
        with pytest.raises(UrlNotAllowed):
            await guard.vet(url)


async def test_allow_listed_host_may_be_private_and_is_pinned_to_the_vetted_address() -> None:
    guard = UrlGuard(["Assets.Test"], resolver=FakeDns({"assets.test": ["127.0.0.1"]}))
    vetted = await guard.vet("http://assets.test:8080/a.png?sig=1")
    assert str(vetted.connect_url) == "http://127.0.0.1:8080/a.png?sig=1"
    assert vetted.headers == {"Host": "assets.test:8080"}
    assert vetted.extensions == {}


async def test_public_https_keeps_the_name_for_tls() -> None:
    guard = UrlGuard(resolver=FakeDns({"cdn.test": ["2606:4700::6810:84e5"]}))
    vetted = await guard.vet("https://cdn.test/a.png")
    assert str(vetted.connect_url) == "https://[2606:4700::6810:84e5]/a.png"
    assert vetted.headers == {"Host": "cdn.test"}
    assert vetted.extensions == {"sni_hostname": "cdn.test"}


async def test_unresolvable_host_is_a_fetch_failure() -> None:
    with pytest.raises(FetchFailed):
        await UrlGuard(resolver=FakeDns({})).vet("http://nowhere.test/a.png")


async def test_default_resolver_resolves_localhost_and_refuses_it() -> None:
    with pytest.raises(UrlNotAllowed) as caught:
        await UrlGuard().vet("http://localhost:1/x")
    assert caught.value.details["reason"] == "a loopback address"


@pytest.mark.parametrize(
    ("entry", "host", "port"),
    [
        ("127.0.0.1:8910", "127.0.0.1", 8910),
        (" Media.Internal.:443 ", "media.internal", 443),
        ("[::1]:8910", "::1", 8910),
        ("[::1]", "::1", None),
        ("::1", "::1", None),
        ("127.0.0.1", "127.0.0.1", None),  # the older format: every port
        ("127.0.0.1:*", "127.0.0.1", None),
    ],
)
def test_allow_list_entries_name_a_host_and_a_port(entry: str, host: str, port: int | None) -> None:
    assert AllowedHost.parse(entry) == AllowedHost(host, port)


@pytest.mark.parametrize(
    "entry", ["", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "host:http", "[::1]x", "a:b:c"]
)
def test_malformed_allow_list_entries_are_a_configuration_error(entry: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        UrlGuard([entry])
    assert caught.value.details["entry"] == entry


async def test_an_entry_with_a_port_opens_only_that_port_and_marks_it_internal() -> None:
    dns = FakeDns({"assets.test": ["10.1.2.3"], "cdn.test": ["93.184.216.34"]})
    guard = UrlGuard(["127.0.0.1:8910", "[::1]:8910", "assets.test:443"], resolver=dns)
    for url in ("http://127.0.0.1:8910/a.png", "http://[::1]:8910/a.png", "https://assets.test/a"):
        assert (await guard.vet(url)).internal, url
    for url in ("http://127.0.0.1:8911/a.png", "http://127.0.0.1/a.png", "http://assets.test/a"):
        with pytest.raises(UrlNotAllowed):
            await guard.vet(url)
    assert not (await guard.vet("http://cdn.test:8910/a.png")).internal
