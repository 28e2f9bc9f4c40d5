"""The worker's Prometheus metrics, in a registry of its own (served at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class WorkerMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.jobs = Counter("degen_worker_jobs", "Jobs by the journal step they reached", ["step"], registry=r)
        self.skipped = Counter("degen_worker_jobs_skipped", "Jobs the worker declined", registry=r)
        self.failed = Counter("degen_worker_jobs_failed", "Accepted jobs the worker could not finish", registry=r)
        self.queue = Gauge("degen_worker_queue_depth", "Accepted jobs waiting for the GPU", registry=r)
        self.batch_size = Histogram("degen_worker_batch_size", "Jobs per pipeline call", buckets=(1, 2, 4, 8, 16, 32, 64), registry=r)
        self.generation_seconds = Histogram("degen_worker_generation_seconds", "Wall time of a pipeline call", registry=r)
        self.step_progress = Gauge("degen_worker_generation_step", "Denoising step of the running pipeline call", registry=r)
        self.step_total = Gauge("degen_worker_generation_steps", "Denoising steps of the running pipeline call", registry=r)
        self.energy_mwh = Counter("degen_worker_energy_mwh", "Metered energy claimed in delivered receipts, mWh", registry=r)
        self.recs_bought_mwh = Counter("degen_worker_recs_bought_mwh", "RECs bought through the GreenRouter for green deliveries, mWh", registry=r)
        self.recs_paid_akre = Counter("degen_worker_recs_paid_akre", "AKRE paid for those RECs", registry=r)
        self.rec_premium_pct = Gauge("degen_worker_rec_premium_pct", "Price of the last REC purchase above the pool's TWAP, percent", registry=r)
        self.head = Gauge("degen_worker_chain_head", "Latest block seen", registry=r)
        self.processed_block = Gauge("degen_worker_processed_block", "Last block whose events were processed", registry=r)
        self.reorgs = Counter("degen_worker_reorgs", "Reorgs that rewound the follower", registry=r)
        self.pv_watts = Gauge("degen_site_pv_watts", "PV output read from the inverter", registry=r)
        self.battery_soc = Gauge("degen_site_battery_soc_pct", "Battery state of charge", registry=r)
        self.site_errors = Counter("degen_site_read_errors", "Failed reads of the site over Modbus", registry=r)
        self.http_errors = Counter("degen_worker_http_errors", "HTTP requests refused as malformed (422) or failed (5xx)", ["status"], registry=r)
