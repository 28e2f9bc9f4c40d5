"""Content-addressed result storage and the requester-signed download permission."""

import hashlib

import pytest
from eth_account import Account

from degen import downloads
from degen.errors import InvalidInput
from worker.results import ResultStore, cid_v1

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
MARKET = "0x" + "cd" * 20


def test_cid_matches_ipfs():
    # `ipfs add --cid-version 1 --raw-leaves` of the five bytes "hello"
    assert cid_v1(b"hello") == "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"


def test_store_is_content_addressed_and_idempotent(tmp_path):
    store = ResultStore(tmp_path)
    stored = store.put(PNG)
    assert stored.sha256 == hashlib.sha256(PNG).digest() and stored.cid == cid_v1(PNG)
    assert stored.path == tmp_path / "results" / f"{stored.sha256.hex()}.png"
    assert store.put(PNG) == stored
    assert ResultStore(tmp_path).get(stored.sha256) == PNG  # after a restart
    assert store.get(b"\x01" * 32) is None
    assert not list(store.directory.glob("*.tmp"))


def test_store_refuses_what_is_not_a_png_and_detects_corruption(tmp_path):
    store = ResultStore(tmp_path)
    with pytest.raises(InvalidInput, match="PNG"):
        store.put(b"GIF89a")
    stored = store.put(PNG)
    stored.path.write_bytes(PNG + b"tampered")
    with pytest.raises(InvalidInput, match="corrupt"):
        store.get(stored.sha256)
    with pytest.raises(InvalidInput):
        store.path_of(b"short")


def test_download_permission():
    requester, attacker = Account.from_key(b"\x41" * 32), Account.from_key(b"\x42" * 32)
    now, expiry = 1_000_000, 1_000_600
    signature = downloads.sign(requester, 7, expiry, 31337, MARKET)
    downloads.check(requester.address, 7, expiry, signature, chain_id=31337, market=MARKET, now=now)

    with pytest.raises(downloads.DownloadDenied):  # 403: someone else's signature
        downloads.check(requester.address, 7, expiry, downloads.sign(attacker, 7, expiry, 31337, MARKET),
                        chain_id=31337, market=MARKET, now=now)
    with pytest.raises(downloads.DownloadDenied):  # a signature for job 7 opens no other job
        downloads.check(requester.address, 8, expiry, signature, chain_id=31337, market=MARKET, now=now)
    with pytest.raises(downloads.DownloadDenied):  # nor the same job on another market
        downloads.check(requester.address, 7, expiry, signature, chain_id=31337, market="0x" + "ee" * 20, now=now)
    with pytest.raises(downloads.DownloadExpired):  # 401: expired
        downloads.check(requester.address, 7, expiry, signature, chain_id=31337, market=MARKET, now=expiry + 1)
    far = now + downloads.MAX_VALIDITY + 1
    with pytest.raises(downloads.DownloadExpired):  # 401: reaches too far ahead
        downloads.check(requester.address, 7, far, downloads.sign(requester, 7, far, 31337, MARKET),
                        chain_id=31337, market=MARKET, now=now)
    with pytest.raises(downloads.DownloadExpired):  # 401: malformed
        downloads.check(requester.address, 7, expiry, signature[:64], chain_id=31337, market=MARKET, now=now)
    with pytest.raises(downloads.DownloadExpired):
        downloads.check(requester.address, 7, expiry, b"\x00" * 65, chain_id=31337, market=MARKET, now=now)


def test_the_market_arbiter_may_download_too():
    requester, arbiter, attacker = (Account.from_key(bytes([b]) * 32) for b in (0x41, 0x43, 0x42))
    now, expiry = 1_000_000, 1_000_600
    is_arbiter = lambda address: address == arbiter.address  # noqa: E731 - the worker asks the market's roles
    signer = downloads.check(requester.address, 7, expiry, downloads.sign(arbiter, 7, expiry, 31337, MARKET),
                             chain_id=31337, market=MARKET, now=now, is_arbiter=is_arbiter)
    assert signer == arbiter.address
    with pytest.raises(downloads.DownloadDenied, match="requester or the market's arbiter"):
        downloads.check(requester.address, 7, expiry, downloads.sign(attacker, 7, expiry, 31337, MARKET),
                        chain_id=31337, market=MARKET, now=now, is_arbiter=is_arbiter)
