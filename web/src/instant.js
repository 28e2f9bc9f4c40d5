// Instant jobs: the requester's side of a channel with a site's worker, over the site's endpoint
// (docs/SPEC.md, "Channels"; the same protocol as degen/instant.py). The wallet signs each
// JobOrder, and signs the voucher for everything owed only after the image is checked against
// its meter-signed receipt. The worker keeps the latest voucher and the receipts' leaves it
// covers, so this page needs no records of its own: it checks them against its own signature.
import { concat, hashTypedData, keccak256, recoverTypedDataAddress, stringToHex } from "viem";

const ORDER_VALIDITY_S = 300n;
const ZERO_ROOT = `0x${"00".repeat(32)}`;
const MWH_PER_KWH = 1_000_000n;
const TYPES = {
  JobOrder: [["channel_id", "uint256"], ["nonce", "uint64"], ["model_id", "bytes32"], ["prompt_hash", "bytes32"],
             ["width", "uint16"], ["height", "uint16"], ["steps", "uint16"], ["guidance_x100", "uint16"], ["seed", "uint64"],
             ["max_price", "uint96"], ["green", "bool"], ["expiry", "uint64"]],
  Voucher: [["channel_id", "uint256"], ["jobs", "uint32"], ["amount", "uint96"], ["energy_mwh", "uint64"], ["green_mwh", "uint64"],
            ["receipts_root", "bytes32"]],
  EnergyReceipt: [["job_id", "uint256"], ["result_hash", "bytes32"], ["started_at", "uint64"], ["finished_at", "uint64"],
                  ["energy_mwh", "uint64"], ["meter_start", "uint64"], ["meter_end", "uint64"]],
};
const fieldsOf = (kind) => TYPES[kind].map(([name, type]) => ({ name, type }));

// Structs as the endpoints carry them in JSON: integers wider than 32 bits as decimal strings.
function toWire(kind, values) {
  return Object.fromEntries(TYPES[kind].map(([name, type]) => {
    const value = values[name];
    return [name, type.startsWith("uint") && Number(type.slice(4)) > 32 ? value.toString() : typeof value === "bigint" ? Number(value) : value];
  }));
}

function fromWire(kind, wire) {
  if (typeof wire !== "object" || wire === null) throw new Error(`the site sent no ${kind}`);
  return Object.fromEntries(TYPES[kind].map(([name, type]) => {
    const value = wire[name];
    if (value === undefined) throw new Error(`the site's ${kind} lacks ${name}`);
    return [name, type.startsWith("uint") ? BigInt(value) : value];
  }));
}

// Merkle root as degen/merkle.py builds it: sorted pairs, an unpaired node moves up unchanged.
export function merkleRoot(leaves) {
  if (leaves.length === 0) return ZERO_ROOT;
  let level = leaves.map((leaf) => leaf.toLowerCase());
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i < level.length; i += 2) {
      if (i + 1 === level.length) { next.push(level[i]); continue; }
      const [a, b] = level[i] < level[i + 1] ? [level[i], level[i + 1]] : [level[i + 1], level[i]];
      next.push(keccak256(concat([a, b])));
    }
    level = next;
  }
  return level[0];
}

export async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `0x${[...digest].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function base64Bytes(text) {
  const binary = atob(text);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

class Stopwatch {
  constructor() { this.started = this.last = performance.now(); this.laps = {}; }
  lap(name) { const now = performance.now(); this.laps[name] = (now - this.last) / 1000; this.last = now; }
  total() { return (performance.now() - this.started) / 1000; }
}

export class InstantChannel {
  // `site`: { id, endpoint, meter, max_gpu_watts }; `offer`: the site's offer that prices its jobs.
  constructor(market, channelId, site, offer) {
    Object.assign(this, { market, channelId: BigInt(channelId), site, offer });
    this.base = site.endpoint.replace(/\/+$/, "");
    const chainId = market.config.chain_id;
    this.domains = {
      channels: { name: "DeGEN JobChannels", version: "1", chainId, verifyingContract: market.addresses.JobChannels },
      market: { name: "DeGEN JobMarket", version: "1", chainId, verifyingContract: market.addresses.JobMarket },
    };
  }

  typed(kind, message) {
    const domain = kind === "EnergyReceipt" ? this.domains.market : this.domains.channels;
    return { domain, types: { [kind]: fieldsOf(kind) }, primaryType: kind, message };
  }

  async sign(kind, message) {
    return this.market.writer.signTypedData({ account: this.market.account, ...this.typed(kind, message) });
  }

  // What the requester owes on the channel, proven by its own signature over the voucher the
  // worker holds and the leaves it gives; a job served whose voucher never came is checked and
  // paid first. Also the worker's view (next_nonce, the voucher held).
  async tab() {
    const view = await this.call("GET", `/channels/${this.channelId}`);
    let tab = { jobs: 0n, amount: 0n, energy_mwh: 0n, green_mwh: 0n, leaves: [] };
    if (view.voucher) {
      const voucher = fromWire("Voucher", view.voucher.voucher);
      const signer = await recoverTypedDataAddress({ ...this.typed("Voucher", voucher), signature: view.voucher.signature });
      if (signer.toLowerCase() !== this.market.account.toLowerCase()) throw new Error("The voucher the site holds is not signed by you.");
      const leaves = view.leaves ?? [];
      if (voucher.channel_id !== this.channelId || BigInt(leaves.length) !== voucher.jobs || merkleRoot(leaves) !== voucher.receipts_root.toLowerCase()) {
        throw new Error("The site's record of your channel does not match the voucher you signed.");
      }
      tab = { ...voucher, leaves };
    }
    if (view.owed) {
      const owed = this.served(view.owed);
      const png = await this.download(owed.receipt.job_id);
      tab = (await this.pay(tab, owed, png)).tab;
    }
    return { tab, view };
  }

  // One instant job: the order signed and posted, the answer checked, the voucher signed and
  // posted; with the seconds each part took (`timings`).
  async order({ prompt, params, maxPrice, green, now }) {
    const clock = new Stopwatch();
    const { tab } = await this.tab();
    clock.lap("tab");
    const order = { channel_id: this.channelId, nonce: tab.jobs, model_id: this.offer.model_id,
                    prompt_hash: keccak256(stringToHex(prompt)), width: params.width, height: params.height, steps: params.steps,
                    guidance_x100: params.guidance_x100, seed: BigInt(params.seed), max_price: maxPrice, green,
                    expiry: now + ORDER_VALIDITY_S };
    const jobId = BigInt(hashTypedData(this.typed("JobOrder", order)));
    const signature = await this.sign("JobOrder", order);
    clock.lap("sign_order");
    const answer = await this.call("POST", "/channels/orders", { order: toWire("JobOrder", order), signature, prompt });
    clock.lap("post_order");
    const served = this.served(answer.served);
    if (JSON.stringify(toWire("JobOrder", served.order)) !== JSON.stringify(toWire("JobOrder", order))) {
      throw new Error("The site answered with another order than yours: nothing was signed for it.");
    }
    const png = base64Bytes(answer.image);
    const paid = await this.pay(tab, served, png, clock);
    return { jobId, png, served, voucher: paid.voucher, seconds: clock.total(), timings: clock.laps };
  }

  served(wire) {
    return { order: fromWire("JobOrder", wire.order), orderSignature: wire.order_signature, receipt: fromWire("EnergyReceipt", wire.receipt),
             meterSignature: wire.meter_signature, offerId: BigInt(wire.offer_id), price: BigInt(wire.price), cid: wire.cid };
  }

  // The checks before paying for a served job (degen/channels.py check_served), then the voucher.
  async pay(tab, served, png, clock = new Stopwatch()) {
    const { order, receipt } = served;
    if (order.nonce !== tab.jobs) throw new Error(`The site served order ${order.nonce}; your channel's next is ${tab.jobs}.`);
    const orderSigner = await recoverTypedDataAddress({ ...this.typed("JobOrder", order), signature: served.orderSignature });
    if (orderSigner.toLowerCase() !== this.market.account.toLowerCase()) throw new Error("The site answered with an order you did not sign.");
    if (receipt.job_id !== BigInt(hashTypedData(this.typed("JobOrder", order)))) throw new Error("The receipt is for another job than your order.");
    if ((await sha256Hex(png)) !== receipt.result_hash.toLowerCase()) throw new Error("The image is not the one its receipt names (sha256 differs): not paying.");
    const meter = await recoverTypedDataAddress({ ...this.typed("EnergyReceipt", receipt), signature: served.meterSignature });
    if (meter.toLowerCase() !== this.site.meter.toLowerCase()) throw new Error("The receipt is not signed by the site's registered meter: not paying.");
    const seconds = receipt.finished_at - receipt.started_at;
    if (seconds <= 0n || receipt.energy_mwh * 3600n > BigInt(this.site.max_gpu_watts) * seconds * 1000n) {
      throw new Error(`The receipt claims ${receipt.energy_mwh} mWh, more than the site's GPU can draw: not paying.`);
    }
    const rule = this.offer.base_price + (receipt.energy_mwh * this.offer.price_per_kwh) / MWH_PER_KWH;
    const price = rule < order.max_price ? rule : order.max_price;
    if (served.offerId !== this.offer.id || served.price !== price) throw new Error(`The price is not offer ${this.offer.id}'s rule for the energy: not paying.`);
    const leaf = keccak256(keccak256(concat([hashTypedData(this.typed("EnergyReceipt", receipt)), served.meterSignature])));
    const leaves = [...tab.leaves, leaf];
    const next = { jobs: tab.jobs + 1n, amount: tab.amount + price, energy_mwh: tab.energy_mwh + receipt.energy_mwh,
                   green_mwh: tab.green_mwh + (order.green ? receipt.energy_mwh : 0n), leaves };
    const voucher = { channel_id: this.channelId, jobs: next.jobs, amount: next.amount, energy_mwh: next.energy_mwh,
                      green_mwh: next.green_mwh, receipts_root: merkleRoot(leaves) };
    clock.lap("check");
    const signature = await this.sign("Voucher", voucher);
    clock.lap("sign_voucher");
    await this.call("POST", "/channels/vouchers", { voucher: toWire("Voucher", voucher), signature });
    clock.lap("post_voucher");
    return { tab: next, voucher };
  }

  async download(jobId) {
    const { expiry, signature } = await this.market.downloadPermission(jobId);
    const response = await fetch(`${this.base}/results/${jobId}?expiry=${expiry}&signature=${signature}`);
    if (!response.ok) throw new Error(`The site did not hand over the image of a job it served (${response.status}).`);
    return new Uint8Array(await response.arrayBuffer());
  }

  async call(method, path, body) {
    let response;
    try {
      response = await fetch(this.base + path, body === undefined ? { method } : {
        method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    } catch {
      throw new Error(`The site's endpoint ${this.base} does not answer (or does not let this page in: its allowed_origins).`);
    }
    const answer = await response.json().catch(() => null);
    if (!response.ok) throw new Error(`The site refused: ${answer?.detail ?? response.status}`);
    return answer;
  }
}
