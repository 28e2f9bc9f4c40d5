"""The oracle's Prometheus metrics, in a registry of its own (served at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class OracleMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.samples = Counter("degen_oracle_samples", "Meter samples posted, by HTTP status answered", ["status"], registry=r)
        self.http_errors = Counter("degen_oracle_http_errors", "HTTP requests refused as malformed (422) or failed (5xx)", ["status"], registry=r)
        self.site_periods = Counter("degen_oracle_site_periods_issued", "Site-periods RECs were issued for", registry=r)
        self.issued_mwh = Counter("degen_oracle_issued_mwh", "Energy issued as RECs, mWh", registry=r)
        self.keeper = Counter("degen_oracle_keeper_actions", "Keeper transactions, by function", ["action"], registry=r)
        self.keeper_gas = Counter("degen_oracle_keeper_gas", "Gas used by keeper transactions", registry=r)
        self.verified = Counter("degen_oracle_verifications", "Delivered results checked, by outcome", ["outcome"], registry=r)
        self.disputes = Counter("degen_oracle_disputes_resolved", "Disputes decided, by winner", ["winner"], registry=r)
        self.receipt_mismatches = Counter(
            "degen_oracle_receipt_telemetry_mismatches", "Receipts claiming more energy than the site's telemetry allows", registry=r,
        )
        self.signatures_sent = Counter("degen_oracle_committee_signatures_sent", "This member's signatures sent to its peers, "
                                       "by how the peer answered", ["answer"], registry=r)
        self.signature_bytes = Counter("degen_oracle_committee_signature_bytes_sent", "Bytes of the signature requests sent to peers",
                                       registry=r)
        self.signatures_received = Counter("degen_oracle_committee_signatures_received", "Signatures peers sent, by the status "
                                           "answered", ["status"], registry=r)
        self.reports = Counter("degen_oracle_committee_reports", "Reports this member signed and transmitted, by kind and step",
                               ["kind", "step"], registry=r)
        self.head = Gauge("degen_oracle_chain_head", "Latest block seen", registry=r)
        self.processed_block = Gauge("degen_oracle_processed_block", "Last block whose events were processed", registry=r)
