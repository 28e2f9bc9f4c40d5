"""`degen pool` as real processes against the test chain: show, add, swap, remove and the
chart, and each refusal in one sentence; the slippage refusal through the SDK with a stale
quote, as a front-run would leave it."""

import functools
import re

import pytest
from PIL import Image

from degen import pool
from tests.pool.conftest import REC


@pytest.fixture
def cli(cli):
    """`degen pool …` on the test chain."""
    return functools.partial(cli, "pool")


def test_pool_commands_work_on_chain(cli, contracts, rec_holders, requester, deployer, tmp_path):
    shown = cli("show")
    assert shown.returncode == 0, shown.stderr
    assert "no RECs in the pool" in shown.stdout and "not enough history for 3600 s" in shown.stdout
    assert "88,930,531 s (1,029.3 days): 2.00% of the REC reserve decays a month" in shown.stdout

    added = cli("add", "100", "5", "--account", "TEST::0")
    assert added.returncode == 0, added.stderr
    assert re.search(r"deposited 100 REC and 5 AKRE for 22\.36\d+ DGLP", added.stdout), added.stdout
    assert contracts.pool.balanceOf(deployer) > 0

    rec_before = contracts.rec.balanceOf(requester)
    swapped = cli("swap", "1", "rec", "--slippage", "0.5", "--account", "TEST::1")
    assert swapped.returncode == 0, swapped.stderr
    assert re.search(r"sold 1 REC for 0\.049\d+ AKRE", swapped.stdout), swapped.stdout
    assert contracts.rec.balanceOf(requester) == rec_before - REC

    shown = cli("show")
    assert re.search(r"REC reserve\s+10[01],\d{3},\d{3} mWh", shown.stdout), shown.stdout
    assert re.search(r"spot price\s+0\.04\d+ AKRE per REC", shown.stdout), shown.stdout

    removed = cli("remove", "50", "--account", "TEST::0")
    assert removed.returncode == 0 and re.search(r"burned 11\.\d+ DGLP for 50\.\d+ REC and 2\.4\d+ AKRE", removed.stdout), removed

    png = tmp_path / "week.png"
    charted = cli("chart", "--out", str(png), "--days", "7", "--half-life-days", "7")
    assert charted.returncode == 0, charted.stderr
    assert re.search(r"wrote .*week\.png: 7 days, REC reserve 5\d\.\d{3} → \d+\.\d{3} kWh \(\d+\.\d{3} dissipated\)", charted.stdout)
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size[0] > 500


@pytest.mark.parametrize("args, message", [
    (("swap", "100000", "akre", "--account", "TEST::1"), "AKRE but the action needs 100,000 AKRE"),
    (("swap", "1", "rec", "--slippage", "60", "--account", "TEST::1"), "slippage must be between 0 and 50 %"),
    (("swap", "1", "rec", "--account", "TEST::1"), "the pool refused: pool: insufficient liquidity"),
    (("remove", "10", "--account", "TEST::1"), "holds no liquidity in the pool to remove"),
    (("add", "0.000001", "0.000000000000000001", "--account", "TEST::0"), "the pool refused: pool: first deposit too small"),
    (("chart",), "the pool has no liquidity to simulate; add some first"),
])
def test_refusals_are_one_sentence(cli, rec_holders, args, message):
    result = cli(*args)
    assert result.returncode == 1 and message in result.stderr, result
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (("swap", "abc", "rec"), "'abc' is not a number"),
    (("swap", "0.0000001", "rec"), "0.0000001 REC has more than 6 decimals (the smallest amount is 0.000001 REC)"),
    (("add", "0", "1"), "0 REC: the amount must be more than 0"),
    (("swap", "-5", "akre"), "-5 AKRE: the amount must be more than 0"),
    (("remove", "-10"), "-10.0 is not in the range 0<x<=100"),
])
def test_bad_amounts_are_usage_errors_that_say_why(cli, args, message):
    result = cli(*args, "--account", "TEST::1")
    assert result.returncode == 2 and message in result.stderr, result


def test_a_stale_quote_is_refused_by_the_slippage_bound(contracts, make_pool, rec_holders, requester, monkeypatch):
    """A front-run between the quote and the swap: the pool refuses, the SDK says why."""
    from degen.contracts import Deployed

    deployed = contracts._replace(pool=make_pool())
    stale = pool.read(deployed)
    deployed.pool.swap_exact_in(deployed.token, 10**18, 0, requester, 2**64, sender=requester)  # the front-run
    monkeypatch.setattr(pool, "read", lambda *_: stale)
    with pytest.raises(pool.PoolActionError, match="the price moved beyond your slippage bound"):
        pool.swap(deployed, requester, "akre", 10**17, 0.5)
