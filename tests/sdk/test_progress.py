"""What a requester reads from a provider's endpoint before and while a job runs (its measured
speed, the denoising step) comes from anyone's server: only well-formed answers are used,
served here by a real HTTP server on 127.0.0.1."""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest

from degen import requester
from degen.models import GenerationParams, Offer, Speed


@pytest.fixture
def endpoint():
    """An HTTP server answering every GET with the JSON body the test sets."""
    answer = {"body": None}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            data = json.dumps(answer["body"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", answer
    server.shutdown()


@pytest.mark.parametrize("body, expected", [
    ({"job_id": 1, "state": "generating", "step": 7, "steps": 20, "eta_s": 13.5}, requester.Progress("generating", 7, 20, 13.5)),
    ({"job_id": 1, "state": "generating", "step": 0, "steps": 20, "eta_s": None}, requester.Progress("generating", 0, 20, None)),
    ({"job_id": 1, "state": "delivered"}, requester.Progress("delivered")),
    ({"state": "generating", "step": 21, "steps": 20}, None),
    ({"state": "generating", "step": "x", "steps": 20}, None),
    ({"state": "generating", "step": 1}, None),
    ({"state": "generating", "step": 1, "steps": 2, "eta_s": -1}, None),
    ({"state": "x" * 100}, None),
    ([1, 2], None),
    (None, None),
])
def test_only_a_well_formed_progress_is_read(endpoint, body, expected):
    url, answer = endpoint
    answer["body"] = body
    assert requester.progress(url, 1) == expected


class Registry:
    def __init__(self, url):
        self.url = url

    def endpoint_of(self, site_id):
        return self.url


class Deployed:
    def __init__(self, url):
        self.registry = Registry(url)


OFFER = Offer(offer_id=1, provider="0x" + "11" * 20, site_id=1, active=True, green=False, model_id=b"\x01" * 32,
              max_width=1024, max_height=1024, max_steps=50, base_price=2 * 10**18, price_per_kwh=30 * 10**18, collateral=1)


@pytest.mark.parametrize("speed, expected", [
    ({"seconds_per_megapixel_step": 0.5, "watts": 360.0}, requester.Estimate(2.5, 250, 2 * 10**18 + 250 * 30 * 10**18 // 10**6)),
    ({"seconds_per_megapixel_step": 0.5, "watts": None}, requester.Estimate(2.5, None, 2 * 10**18)),
    (None, None),
    ({"seconds_per_megapixel_step": 0, "watts": 360.0}, None),
    ({"seconds_per_megapixel_step": "fast", "watts": 360.0}, None),
    ({"seconds_per_megapixel_step": 0.5, "watts": 1e12}, None),
])
def test_an_estimate_comes_only_from_a_plausible_measured_speed(endpoint, speed, expected):
    url, answer = endpoint
    answer["body"] = {"status": "ok", "speed": speed}
    params = GenerationParams(width=1000, height=1000, steps=5, seed=1)  # 5 megapixel-steps
    measured = requester.site_speed(Deployed(url), 1)
    assert (None if measured is None else requester.estimate(OFFER, params, 10 * 10**18, measured)) == expected


@pytest.mark.parametrize("per_step, shape", [
    (None, (512, 512, 20)),  # no measured speed: the usual image
    (10.0, (512, 512, 20)),  # 5.24 megapixel-steps at 10 s: 52 s, inside the 2-minute budget
    (30.0, (256, 256, 20)),  # 157 s at 512 px; 39 s at 256
    (600.0, (64, 64, 20)),  # 196 s at 128 px; 49 s at 64
    (3_000.0, (64, 64, 5)),  # at 64 px 245 s, at 10 steps 123 s, at 5 steps 61 s
])
def test_unasked_sizes_fit_the_site_and_the_offer(per_step, shape):
    speed = None if per_step is None else Speed(seconds_per_megapixel_step=per_step)
    assert requester.default_shape(OFFER, speed) == shape
    slowest = Speed(seconds_per_megapixel_step=3_600)  # 59 s even at 64 px and 4 steps: over a 10 s budget
    assert requester.default_shape(OFFER, slowest, budget_s=10) == (64, 64, 4)  # nothing fits: the least it asks
    small_offer = OFFER.model_copy(update={"max_width": 300, "max_height": 1024, "max_steps": 8})
    assert requester.default_shape(small_offer, None) == (296, 296, 8)
