"""`degen channel` as real processes against the test chain: a requester opens a channel with a
permit, tops it up, reads it, closes it and withdraws after the notice; every refusal is one
sentence and a non-zero exit."""

from __future__ import annotations

import functools
import re

import pytest

from degen import channels as channel_sdk
from degen.models import Voucher
from tests.conftest import AKRE


@pytest.fixture
def cli(cli):
    """`degen channel …` on the test chain."""
    return functools.partial(cli, "channel")


def test_a_channel_from_opening_to_withdrawal(cli, contracts, site_id, requester, provider, token, chain):
    channels = contracts.channels
    assert token.allowance(requester, channels) == 0  # the deposit comes with a permit
    opened = cli("open", str(site_id), "20", "--account", "TEST::1")
    assert opened.returncode == 0, opened.stderr
    channel_id = int(re.search(r"channel (\d+) open with site", opened.stdout).group(1))
    assert channels.channel(channel_id).deposit == 20 * AKRE

    topped = cli("top-up", str(channel_id), "2.5", "--account", "TEST::1")
    assert topped.returncode == 0 and "22.5 AKRE deposited" in topped.stdout, topped.stderr
    voucher = Voucher(channel_id=channel_id, jobs=3, amount=6 * AKRE, energy_mwh=4_500, green_mwh=0)
    channels.redeem(voucher.as_tuple(), channel_sdk.sign(voucher, requester.private_key, chain.chain_id, channels.address),
                    sender=provider)

    shown = cli("show", str(channel_id))
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"deposit\s+22.5 AKRE \(16.5 AKRE not yet redeemed\)", shown.stdout)
    assert re.search(r"redeemed\s+6 AKRE for 3 jobs, 4,500 mWh", shown.stdout)
    assert f"channel {channel_id}:" in cli("show", "--account", "TEST::1").stdout

    closed = cli("close", str(channel_id), "--account", "TEST::1")
    assert closed.returncode == 0 and f"degen channel withdraw {channel_id}" in closed.stdout, closed.stderr
    early = cli("withdraw", str(channel_id), "--account", "TEST::1")
    assert early.returncode == 1 and "notice not over" in early.stderr
    chain.pending_timestamp += channels.NOTICE_PERIOD()
    before = token.balanceOf(requester)
    withdrawn = cli("withdraw", str(channel_id), "--account", "TEST::1")
    assert withdrawn.returncode == 0 and "16.5 AKRE back to you" in withdrawn.stdout, withdrawn.stderr
    assert token.balanceOf(requester) == before + 16_500_000_000_000_000_000
    assert "closed (withdrawn)" in cli("show", str(channel_id)).stdout


def test_channel_refusals_are_one_sentence(cli, contracts, site_id, registry, provider, meter):
    pending = registry.register_site(meter.address, 1_000, 0, 100, "BR", sender=provider).return_value
    cases = [
        (("open", str(pending), "1", "--account", "TEST::1"), f"site {pending} is not active"),
        (("open", str(site_id), "0.0000000000000000001", "--account", "TEST::1"), "more than 18 decimals"),
        (("open", str(site_id), "10000000", "--account", "TEST::1"), "insufficient balance"),
        (("show", "999999"), "there is no channel 999999"),
        (("show",), "name a CHANNEL_ID or an --account"),
    ]
    opened = cli("open", str(site_id), "1", "--account", "TEST::1")
    channel_id = re.search(r"channel (\d+) open", opened.stdout).group(1)
    cases.append((("close", channel_id, "--account", "TEST::3"), "not 0x"))
    for args, said in cases:
        result = cli(*args)
        assert result.returncode != 0 and said in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
