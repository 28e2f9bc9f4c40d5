"""What a DER owner does on chain, signing with the key file their worker signs with (plain
JSON-RPC, no Ape): create the keys, register the site, publish its endpoint, stake (with the
approval it needs), open and close offers, and tell what the site still needs before it can
serve a job. Every refusal is a ProviderError with one sentence, raised before anything is
sent; a transaction the contracts would refuse is simulated first and refused with their
reason (`TxRejected`)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import requests
from eth_account import Account

from degen import eip712, limits
from degen.chain.market import MarketClient
from degen.committee import CommitteeView, site_report
from degen.deployments import Deployment
from degen.errors import DegenError, InvalidSignature
from degen.models import Offer, Site, SiteStatus, model_id
from degen.pool import amount_text

MWH_PER_REC = 1_000_000
KEY_ROLES = ("provider", "meter")
REGION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")  # ISO 3166-1 alpha-2, optionally with an ISO 3166-2 subdivision


class ProviderError(DegenError, ValueError):
    """A DER owner's action cannot go ahead; the message says why and what to do."""


def create_keys(directory: Path) -> dict[str, tuple[Path, str]]:
    """Writes a new provider key and a new meter key into `directory` (provider.key, meter.key:
    a 0x-hex private key each, readable by the owner only) and returns {role: (file, address)}.
    Refuses to overwrite a key file: the account it holds may hold funds."""
    paths = {role: directory / f"{role}.key" for role in KEY_ROLES}
    existing = [str(path) for path in paths.values() if path.exists()]
    if existing:
        raise ProviderError(f"{' and '.join(existing)} exist already: a key file is never overwritten (its account may hold "
                            "funds); choose another folder")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = {}
    for role, path in paths.items():
        account = Account.create()
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as key_file:
            key_file.write(account.key.to_0x_hex() + "\n")
        created[role] = (path, account.address)
    return created


@dataclass(frozen=True)
class SiteSpec:
    """A site as the registry records it, in its units (W, Wh, W, region code)."""

    pv_peak_watts: int
    battery_wh: int
    max_gpu_watts: int
    region: str

    @classmethod
    def of(cls, pv_kw: float, battery_kwh: float, gpu_watts: float, country: str) -> SiteSpec:
        """From the units a DER owner knows (kW of PV, kWh of battery, the GPU's W); every bound
        the registry has, checked here first."""
        spec = cls(round(pv_kw * 1000), round(battery_kwh * 1000), round(gpu_watts), country.strip().upper())
        if not 1 <= spec.pv_peak_watts <= limits.MAX_WATTS:
            raise ProviderError(f"{pv_kw:g} kW of PV: the registry takes 0.001 to {limits.MAX_WATTS // 1000:,} kW")
        if not 0 <= spec.battery_wh <= limits.MAX_BATTERY_WH:
            raise ProviderError(f"{battery_kwh:g} kWh of battery: the registry takes 0 (none) to "
                                f"{limits.MAX_BATTERY_WH // 1000:,} kWh")
        if not 1 <= spec.max_gpu_watts <= limits.MAX_WATTS:
            raise ProviderError(f"{gpu_watts:g} W of GPU: the registry takes 1 to {limits.MAX_WATTS:,} W")
        if not REGION.match(spec.region):
            raise ProviderError(f"{country!r} is not a country code: two letters (ISO 3166-1, e.g. BR), optionally with "
                                "a region (BR-SP)")
        return spec


def check_endpoint(url: str) -> str:
    """A result endpoint as the registry takes it: an http(s) URL of at most 128 bytes."""
    if not re.match(r"^https?://[^\s/]+", url) or len(url.encode()) > limits.MAX_ENDPOINT_BYTES:
        raise ProviderError(f"{url!r} is not an endpoint: an http:// or https:// URL of at most {limits.MAX_ENDPOINT_BYTES} "
                            "bytes, where buyers reach your worker (its [server] port)")
    return url


class Provider:
    """A DER owner's account on one deployment: reads, and transactions it signs."""

    def __init__(self, web3, deployment: Deployment, account, abis: dict[str, list]):
        self.web3, self.deployment, self.account = web3, deployment, account
        self.client = MarketClient(web3, deployment.market, abis["JobMarket"], deployment.registry, abis["SiteRegistry"], account)
        self.registry, self.market = self.client.registry, self.client.market
        self.token = web3.eth.contract(address=deployment.token, abi=abis["AkreToken"])
        self.rec = web3.eth.contract(address=deployment.rec_token, abi=abis["RECToken"])
        self.committee = CommitteeView(web3.eth.contract(address=deployment.committee, abi=abis["OracleCommittee"]), self.client.retry)
        self.address = account.address

    # ---- reads ---------------------------------------------------------------------------

    def gas_balance(self) -> int:
        return self.client.retry(lambda: self.web3.eth.get_balance(self.address))

    def akre_balance(self) -> int:
        return self.client.call(self.token.functions.balanceOf(self.address))

    def stake(self) -> tuple[int, int]:
        """(free, locked) AKRE base units of this account's stake."""
        return tuple(self.client.call(self.market.functions.stake_of(self.address)))

    def rec_balance(self) -> int:
        return self.client.call(self.rec.functions.balanceOf(self.address))

    def rec_allowance(self) -> int:
        return self.client.call(self.rec.functions.allowance(self.address, self.market.address))

    def site(self, site_id: int) -> Site:
        record = self.client.site(site_id)
        if int(record["owner"], 16) == 0:
            raise ProviderError(f"there is no site {site_id} on this deployment")
        return Site(site_id=site_id, **record)

    def endpoint(self, site_id: int) -> str:
        """Where the site's worker serves results, as the registry publishes it ('' for none)."""
        return self.client.call(self.registry.functions.endpoint_of(site_id))

    def my_sites(self) -> list[int]:
        """The ids of the sites this account owns, oldest first."""
        logs = self.client.logs(self.registry.events.SiteRegistered, self.deployment.block, owner=self.address)
        return sorted({log["args"]["site_id"] for log in logs if self.client.site(log["args"]["site_id"])["owner"] == self.address})

    def offers(self, site_id: int) -> list[Offer]:
        """Every offer on `site_id` (open and closed), oldest first."""
        count = self.client.call(self.market.functions.offer_count())
        offers = (self.client.offer(offer_id) for offer_id in range(1, count + 1))
        return [offer for offer in offers if offer.site_id == site_id]

    def attested(self, site_id: int) -> list[str]:
        """The committee members that signed the activation of the site exactly as registered
        (its meter key and limits, current nonce and configuration): each signature the members'
        APIs hold for that report, recovered here, so neither a member that does not answer nor
        one that lies about its peers counts."""
        state, site = self.committee.state(), self.site(site_id)
        nonce = self.client.call(self.committee.contract.functions.site_nonce(site_id))
        wanted = site_report(state.config, site_id, nonce, True, meter=site.meter, pv_peak_watts=site.pv_peak_watts,
                                       battery_wh=site.battery_wh, max_gpu_watts=site.max_gpu_watts,
                                       chain_id=self.client.chain_id, committee=self.committee.address)
        signed = set()
        for endpoint in {state.endpoints[member] for member in state.members if state.endpoints[member]}:
            try:
                answer = requests.get(f"{endpoint}/committee/reports", params={"kind": "site", "subject": site_id}, timeout=5)
                held = answer.json()["reports"] if answer.status_code == 200 else []
                signatures = [signature for report in held for signature in report["signatures"].values()]
            except (requests.RequestException, ValueError, KeyError, TypeError, AttributeError):
                continue
            for signature in signatures:
                try:
                    signer = eip712.recover(wanted, bytes.fromhex(str(signature).removeprefix("0x")))
                except (InvalidSignature, ValueError):
                    continue
                if signer in state.members:
                    signed.add(signer)
        return sorted(signed)

    def needs(self, site: Site) -> list[str]:
        """What the site still needs before its worker can serve a job, each with the command
        that gives it (empty: ready)."""
        needs = []
        if self.gas_balance() == 0:
            needs.append(f"gas money: the account {self.address} holds no native token on chain {self.client.chain_id} "
                         "to pay for transactions")
        if site.status == SiteStatus.PENDING:
            signed, threshold = self.attested(site.site_id), self.committee.state().threshold
            so_far = f"{len(signed)} of the {threshold} needed so far ({', '.join(signed)})" if signed else f"none of the {threshold} needed yet"
            needs.append(f"activation: members of the oracle committee check the installation (meter key {site.meter}, PV peak, "
                         f"battery, GPU bound: send them the site id and evidence of the installation) and attest it; {so_far}")
        elif site.status == SiteStatus.SUSPENDED:
            needs.append(f"reactivation: the operator suspended site {site.site_id}; ask them why")
        open_offers = [offer for offer in self.offers(site.site_id) if offer.active]
        free, _ = self.stake()
        most_collateral = max((offer.collateral for offer in open_offers), default=0)
        if free < max(most_collateral, 1):
            needs.append("stake: deposit AKRE to cover your offers' collateral (`degen site stake AMOUNT`)")
        if not open_offers:
            needs.append(f"an offer: what you sell and at what price (`degen site offer create {site.site_id} --model NAME …`)")
        if any(offer.green for offer in open_offers):
            if self.rec_allowance() == 0:
                needs.append("RECs approved to the market: a green delivery retires them (`degen site offer create … --green` "
                             "approves them)")
            if self.rec_balance() == 0:
                needs.append("RECs for green jobs: your telemetry earns them hour by hour ([telemetry] oracle_url), or the "
                             "worker buys a job's from the EnergyPool ([green] section); until then green jobs wait")
        if not self.endpoint(site.site_id):
            needs.append("an endpoint where buyers download results: the worker's [server] public_url publishes it at start "
                         f"(or `degen site endpoint {site.site_id} URL`)")
        return needs

    # ---- transactions --------------------------------------------------------------------

    def _needs_gas(self) -> None:
        if self.gas_balance() == 0:
            raise ProviderError(f"the account {self.address} holds no native token on chain {self.client.chain_id} for gas: "
                                "send it some first")

    def register(self, spec: SiteSpec, meter: str, endpoint: str | None = None) -> int:
        """Registers a site (PENDING until the operator activates it); returns its id."""
        if endpoint is not None:
            check_endpoint(endpoint)
        for site_id in self.my_sites():
            if self.client.site(site_id)["meter"].lower() == meter.lower():
                raise ProviderError(f"your site {site_id} is registered with this meter key already: one meter key per site "
                                    "(`degen site status` shows it)")
        self._needs_gas()
        receipt = self.client.send("register_site", meter, spec.pv_peak_watts, spec.battery_wh, spec.max_gpu_watts, spec.region,
                                   to=self.registry)
        site_id = self.registry.events.SiteRegistered().process_receipt(receipt)[0]["args"]["site_id"]
        if endpoint is not None:
            self.set_endpoint(site_id, endpoint)
        return site_id

    def set_endpoint(self, site_id: int, url: str) -> None:
        self._own(site_id)
        self._needs_gas()
        self.client.send("set_endpoint", site_id, check_endpoint(url), to=self.registry)

    def deposit(self, amount_akre: int) -> list[str]:
        """Deposits stake: approves the market for exactly what is missing of `amount_akre`,
        then deposits it; what was done, in words."""
        if amount_akre <= 0:
            raise ProviderError("a stake deposit is more than 0 AKRE")
        balance = self.akre_balance()
        if balance < amount_akre:
            raise ProviderError(f"the account holds {_akre(balance)}, less than the {_akre(amount_akre)} to stake")
        self._needs_gas()
        done = []
        allowance = self.client.call(self.token.functions.allowance(self.address, self.market.address))
        if allowance < amount_akre:
            self.client.send("approve", self.market.address, amount_akre, to=self.token)
            done.append(f"approved the market for {_akre(amount_akre)}")
        self.client.send("deposit_stake", amount_akre)
        done.append(f"deposited {_akre(amount_akre)}")
        return done

    def withdraw(self, amount_akre: int) -> None:
        free, locked = self.stake()
        if not 0 < amount_akre <= free:
            raise ProviderError(f"{_akre(amount_akre)} is not withdrawable: {_akre(free)} of your stake is free "
                                f"({_akre(locked)} is locked as collateral of accepted jobs)")
        self._needs_gas()
        self.client.send("withdraw_stake", amount_akre)

    def create_offer(self, site_id: int, model_name: str, *, max_width: int, max_height: int, max_steps: int, base_price: int,
                     price_per_kwh: int, collateral: int, green: bool, rec_allowance_mwh: int) -> tuple[int, list[str]]:
        """Opens an offer on an active site of this account; for a green one, also lets the
        market retire up to `rec_allowance_mwh` of its RECs. Returns the offer id and what
        was done."""
        site = self._own(site_id)
        if site.status != SiteStatus.ACTIVE:
            raise ProviderError(f"site {site_id} is {site.status.name.lower()}: offers open on active sites only "
                                "(the operator activates it)")
        for side, what in ((max_width, "width"), (max_height, "height")):
            if side % 8 or not limits.MIN_IMAGE_SIDE <= side <= limits.MAX_IMAGE_SIDE:
                raise ProviderError(f"a max {what} of {side} px: a side is a multiple of 8 from {limits.MIN_IMAGE_SIDE} to "
                                    f"{limits.MAX_IMAGE_SIDE}")
        if not 1 <= max_steps <= limits.MAX_STEPS:
            raise ProviderError(f"{max_steps} steps: an offer takes 1 to {limits.MAX_STEPS}")
        if base_price > limits.MAX_BASE_PRICE or price_per_kwh > limits.MAX_PRICE_PER_KWH or collateral > limits.MAX_COLLATERAL:
            raise ProviderError("a price or the collateral is above what the market takes")
        if not model_name.strip():
            raise ProviderError("name the model the offer serves (the name requesters ask for, e.g. sd-turbo)")
        self._needs_gas()
        receipt = self.client.send("create_offer", site_id, model_id(model_name), max_width, max_height, max_steps, base_price,
                                   price_per_kwh, collateral, green)
        offer_id = self.market.events.OfferCreated().process_receipt(receipt)[0]["args"]["offer_id"]
        done = [f"opened offer {offer_id}"]
        if green and self.rec_allowance() < rec_allowance_mwh:
            self.client.send("approve", self.market.address, rec_allowance_mwh, to=self.rec)
            done.append(f"let the market retire up to {rec_allowance_mwh / MWH_PER_REC:,g} REC of yours (green deliveries)")
        return offer_id, done

    def close_offer(self, offer_id: int) -> Offer:
        offer = self.client.offer(offer_id)
        if offer.provider != self.address:
            raise ProviderError(f"offer {offer_id} is {offer.provider}'s, not this account's ({self.address})")
        if not offer.active:
            raise ProviderError(f"offer {offer_id} is closed already")
        self._needs_gas()
        self.client.send("close_offer", offer_id)
        return offer

    def _own(self, site_id: int) -> Site:
        site = self.site(site_id)
        if site.owner != self.address:
            raise ProviderError(f"site {site_id} is {site.owner}'s, not this account's ({self.address})")
        return site


def _akre(base_units: int) -> str:
    return amount_text(base_units, "akre")
