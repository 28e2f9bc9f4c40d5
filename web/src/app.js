// The page: a wallet bar, then one view at a time chosen by the URL's hash — #offers (post a
// job), #jobs, #job/N (follow, receive, settle or dispute), #certificates, #site (a DER
// owner's site), #pool. One function per user action; every failure is a sentence.
import { keccak256, stringToHex } from "viem";
import { h, replace, say } from "./dom.js";
import { explain } from "./errors.js";
import { akre, count, energy, lp, memberNames, parseAkre, rec, short, stateName, SITE_STATUSES, time } from "./format.js";
import { InstantChannel, sha256Hex } from "./instant.js";
import { Market } from "./market.js";
import { discoverWallets, Wallet } from "./wallet.js";
import { lineChart } from "./chart.js";

const root = document.getElementById("view");
const state = { market: null, wallet: null, wallets: [], timer: null, screen: root };

async function boot() {
  const config = await (await fetch("/config.json")).json();
  state.market = new Market(config);
  state.config = config;
  discoverWallets((wallets) => { state.wallets = wallets; renderWalletBar(); reconnect(); });
  renderWalletBar();
  window.addEventListener("hashchange", route);
  await route();
}

// ---- wallet -------------------------------------------------------------------------------

function renderWalletBar() {
  const bar = document.getElementById("wallet");
  const { wallet, config } = state;
  if (wallet?.account) {
    const wrongChain = wallet.chainId !== config.chain_id;
    replace(bar,
      h("span", { class: "account", "data-testid": "account" }, short(wallet.account)),
      wrongChain && h("span", { class: "warning", "data-testid": "wrong-chain" },
        `Your wallet is on chain ${wallet.chainId}; this market is on chain ${config.chain_id}. `,
        h("button", { onclick: act(switchChain), "data-testid": "switch-chain" }, "Switch network")));
    return;
  }
  if (state.wallets.length === 0) {
    replace(bar, h("span", { class: "hint" }, "No browser wallet found: install one (MetaMask, Rabby, …) to post jobs."));
    return;
  }
  replace(bar, ...state.wallets.map((entry) =>
    h("button", { onclick: act(() => connect(entry)), "data-testid": "connect" },
      entry.icon && h("img", { src: entry.icon, alt: "", class: "icon" }), `Connect ${entry.name}`)));
}

// The wallet last connected on this page (its EIP-6963 rdns): on a later visit it is asked,
// without a prompt, whether the page may still see the account.
const REMEMBERED = "degen.wallet";

async function connect(entry, { silent = false } = {}) {
  const wallet = new Wallet(entry, {
    onAccount: (account) => {
      if (!account) localStorage.removeItem(REMEMBERED); // disconnected in the wallet
      state.market.useWallet(wallet.provider, wallet.account); renderWalletBar(); route();
    },
    onChain: () => { renderWalletBar(); route(); },
  });
  if (!(await wallet.connect({ silent }))) return;
  localStorage.setItem(REMEMBERED, entry.rdns);
  state.wallet = wallet;
  state.market.useWallet(wallet.provider, wallet.account);
  say("");
  await route(); // the account shows once the view reflects it
  renderWalletBar();
}

function reconnect() {
  const entry = state.wallets.find((wallet) => wallet.rdns === localStorage.getItem(REMEMBERED));
  if (!entry || state.wallet || state.reconnecting) return;
  state.reconnecting = true;
  connect(entry, { silent: true }).catch(() => localStorage.removeItem(REMEMBERED));
}

async function switchChain() {
  await state.wallet.switchTo(state.config.chain_id, state.config.wallet_rpc, state.market.chain.name);
  renderWalletBar();
  say("Your wallet is on the market's chain now.", "ok");
}

// A signer on the right chain, or a sentence saying what is missing.
function signer() {
  const { wallet, config } = state;
  if (!wallet?.account) throw new Error("Connect a wallet first.");
  if (wallet.chainId !== config.chain_id) throw new Error(`Switch your wallet to chain ${config.chain_id} first (the button at the top).`);
  return wallet.account;
}

// Wraps a user action: busy while it runs, its failure said calmly, never thrown at the page.
function act(action) {
  return async (event) => {
    event?.preventDefault?.();
    const button = event?.currentTarget;
    if (button) button.disabled = true;
    try {
      await action(event);
    } catch (error) {
      say(explain(error), "error");
    } finally {
      if (button) button.disabled = false;
    }
  };
}

// ---- routing ------------------------------------------------------------------------------

// Each visit of a view renders into a screen of its own: what an older visit, or an action
// taken in it, renders after the user moved on lands on a screen no longer on the page. A
// message belongs to the visit it was said in.
async function route() {
  clearInterval(state.timer);
  say("");
  const screen = h("div", { class: "screen" });
  state.screen = screen;
  replace(root, screen);
  const [name, arg] = (location.hash.slice(1) || "offers").split("/");
  const views = { offers: offersView, jobs: jobsView, job: () => jobView(BigInt(arg || 0)), certificates: certificatesView,
                  channels: channelsView,
                  site: siteView, pool: poolView };
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("current", a.getAttribute("href") === `#${name}`));
  try {
    await (views[name] ?? offersView)();
  } catch (error) {
    if (screen === state.screen) say(explain(error), "error");
  }
}

// After an action: the view it was taken in shows the result, if the user is still there.
async function rerender(view, screen) {
  if (screen === state.screen) await view();
}

// ---- Alice: offers and posting ------------------------------------------------------------

const TYPICAL_MWH = 2_000n; // the energy estimate shown before posting: ~2 Wh for an image

async function siteReading(siteId) {
  if (!state.config.oracle) return null;
  try {
    const answer = await fetch(`/oracle/sites/${siteId}`);
    return answer.ok ? (await answer.json()).latest : null;
  } catch {
    return null;
  }
}

// A PV-only site's samples carry this state of charge (SunSpec's "not implemented" for a uint16).
const NO_BATTERY = 0xffff;

function batteryText(reading) {
  if (!reading) return "–";
  return reading.battery_soc_permille === NO_BATTERY ? "no battery" : `${(reading.battery_soc_permille / 10).toFixed(1)}%`;
}

async function offersView() {
  const main = state.screen;
  const offers = await state.market.offers();
  const readings = await Promise.all(offers.map((o) => siteReading(o.site_id)));
  offers.forEach((o, i) => { o.reading = readings[i]; });
  const sort = (sessionStorage.getItem("sort") ?? "price");
  const soc = (o) => (o.reading && o.reading.battery_soc_permille !== NO_BATTERY ? o.reading.battery_soc_permille : -1);
  const key = { price: (o) => Number(o.base_price), battery: (o) => -soc(o), pv: (o) => -(o.reading?.pv_watts ?? -1) }[sort];
  offers.sort((a, b) => key(a) - key(b));
  const sortBy = (name) => () => { sessionStorage.setItem("sort", name); offersView(); };
  const cell = (label, attrs, ...content) => h("td", { "data-label": label, ...attrs }, ...content);
  const table = h("table", { "data-testid": "offers", class: "reflow" },
    h("thead", {}, h("tr", {}, h("th", {}, "Offer"), h("th", {}, "Provider"), h("th", {}, "Site"), h("th", {}, "Model"),
      h("th", {}, "Max size / steps"), h("th", {}, h("button", { class: "link", onclick: sortBy("price") }, "Base price")),
      h("th", {}, "Per kWh"), h("th", {}, "Green"),
      h("th", {}, h("button", { class: "link", onclick: sortBy("battery") }, "Battery")),
      h("th", {}, h("button", { class: "link", onclick: sortBy("pv") }, "PV")), h("th", {}, "Action"))),
    h("tbody", {}, offers.map((o) => h("tr", { "data-offer": o.id },
      cell("Offer", {}, `#${o.id}`), cell("Provider", { title: o.provider }, short(o.provider)),
      cell("Site", {}, `${o.site_id} ${o.site.region}`), cell("Model", { title: o.model_id }, modelName(o.model_id)),
      cell("Max size / steps", {}, `${o.max_width}×${o.max_height} / ${o.max_steps}`),
      cell("Base price", {}, akre(o.base_price)), cell("Per kWh", {}, akre(o.price_per_kwh)), cell("Green", {}, o.green ? "yes" : "no"),
      cell("Battery", { "data-testid": "battery" }, batteryText(o.reading)),
      cell("PV", {}, o.reading ? `${o.reading.pv_watts.toLocaleString("en-US")} W` : "–"),
      cell("Action", {}, h("button", { onclick: () => postForm(o), "data-testid": `choose-${o.id}` }, "Choose"))))));
  replace(main, h("h2", {}, "Offers"),
    offers.length ? table : h("p", {}, "No active offers yet."),
    h("div", { id: "post" }));
}

const KNOWN_MODELS = ["tiny-sd", "sd-turbo", "sdxl-turbo", "stable-diffusion-v1-5"];
function modelName(modelId) {
  return KNOWN_MODELS.find((name) => keccak256(stringToHex(name)) === modelId) ?? short(modelId);
}

function field(label, input) {
  return h("label", {}, h("span", {}, label), input);
}

function postForm(offer) {
  const input = (name, attrs) => h("input", { name, id: `post-${name}`, ...attrs });
  const form = h("form", { class: "card", "data-testid": "post-form" },
    h("h3", {}, `Post a job to offer #${offer.id} (${modelName(offer.model_id)}, site ${offer.site_id} ${offer.site.region})`),
    field("Prompt", h("textarea", { name: "prompt", id: "post-prompt", required: true, maxlength: 1000, rows: 2 })),
    h("div", { class: "row" },
      field("Width", input("width", { type: "number", value: 64, min: 64, max: offer.max_width, step: 8 })),
      field("Height", input("height", { type: "number", value: 64, min: 64, max: offer.max_height, step: 8 })),
      field("Steps", input("steps", { type: "number", value: Math.min(10, offer.max_steps), min: 1, max: offer.max_steps })),
      field("Guidance", input("guidance", { type: "number", value: 7.5, min: 0, max: 30, step: 0.5 })),
      field("Seed", input("seed", { type: "number", value: 42, min: 0 }))),
    h("div", { class: "row" },
      field("Max price (AKRE)", input("max_price", { type: "text", value: "10", inputmode: "decimal" })),
      field("Deadline (minutes)", input("minutes", { type: "number", value: 60, min: 2, max: 43200 })),
      offer.green ? field("Green (retire RECs for it)", input("green", { type: "checkbox", checked: true })) : null),
    h("p", { class: "estimate", "data-testid": "estimate" }),
    h("button", { type: "submit", "data-testid": "post" }, "Post job"));
  const estimate = () => {
    try {
      const max = parseAkre(form.max_price.value);
      const typical = offer.base_price + (TYPICAL_MWH * offer.price_per_kwh) / 1_000_000n;
      form.querySelector(".estimate").textContent =
        `Estimate: ${akre(typical < max ? typical : max)} (base ${akre(offer.base_price)} + about ${energy(TYPICAL_MWH)} × ${akre(offer.price_per_kwh)}/kWh, at most your max price). ` +
        `${akre(max)} is escrowed; what the job does not cost comes back.`;
    } catch {
      form.querySelector(".estimate").textContent = "Enter the max price in AKRE, e.g. 10 or 2.5.";
    }
  };
  form.addEventListener("input", estimate);
  form.addEventListener("submit", act(() => postJob(offer, form)));
  estimate();
  replace(document.getElementById("post"), form);
  form.prompt.focus();
}

async function postJob(offer, form) {
  signer();
  const prompt = form.prompt.value.trim();
  if (!prompt) throw new Error("Write a prompt first.");
  const params = { width: Number(form.width.value), height: Number(form.height.value), steps: Number(form.steps.value),
                   guidance_x100: Math.round(Number(form.guidance.value) * 100), seed: BigInt(form.seed.value || 0) };
  for (const side of ["width", "height"]) {
    if (params[side] % 8 || params[side] < 64 || params[side] > offer[`max_${side}`]) {
      throw new Error(`The ${side} must be a multiple of 8 between 64 and ${offer[`max_${side}`]}.`);
    }
  }
  let maxPrice;
  try { maxPrice = parseAkre(form.max_price.value); } catch { throw new Error("Enter the max price in AKRE, e.g. 10 or 2.5."); }
  if (maxPrice < offer.base_price) throw new Error(`The offer's base price is ${akre(offer.base_price)}, above your max price of ${akre(maxPrice)}.`);
  say("Check your wallet: sign the permit for the escrow (if asked), then confirm the transaction.");
  const posted = await state.market.postJob({ offer, prompt, params, maxPrice, minutes: Number(form.minutes.value),
                                              green: Boolean(form.green?.checked) });
  if (posted.short !== undefined) {
    throw new Error(`Your balance is ${akre(posted.short)}; this job escrows up to ${akre(maxPrice)}. Get more AKRE or lower the max price.`);
  }
  say(`Job ${posted.jobId} posted.`, "ok");
  location.hash = `#job/${posted.jobId}`;
}

// ---- Alice: following, receiving, settling ------------------------------------------------

async function jobsView() {
  const main = state.screen;
  const account = signer();
  const jobs = await state.market.myJobs(account);
  replace(main, h("h2", {}, "My jobs"), jobs.length === 0 ? h("p", {}, "You have posted no jobs yet.") :
    h("table", { "data-testid": "jobs" }, h("thead", {}, h("tr", {}, h("th", {}, "Job"), h("th", {}, "State"), h("th", {}, "Prompt"),
      h("th", {}, "Max price"), h("th", {}, "Deadline"))),
    h("tbody", {}, jobs.map((job) => h("tr", {}, h("td", {}, h("a", { href: `#job/${job.id}` }, `#${job.id}`)),
      h("td", { "data-testid": `job-state-${job.id}` }, stateName(job.state)), h("td", {}, job.created.prompt),
      h("td", {}, akre(job.max_price)), h("td", {}, time(job.deadline)))))));
}

// The job as it changes: its view is drawn again when a new block holds a log about the job
// (the head asked every 250 ms, one eth_getLogs a new block), and every second while it is
// open or accepted, from what was read, for the worker's progress and the deadline.
async function jobView(jobId) {
  const main = state.screen;
  const market = state.market;
  const panel = h("div", { class: "card", "data-testid": "job" });
  const result = h("div", { id: "result" });
  replace(main, h("h2", {}, `Job #${jobId}`), panel, result);
  let shown = false, job = null, drawnAt = 0, timer = null;
  const over = () => !job.created || ["settled", "cancelled", "expired", "refunded"].includes(stateName(job.state));
  const draw = async (read) => {
    if (read || !job) job = await market.job(jobId);
    drawnAt = Date.now();
    if (over()) clearInterval(timer);
    if (!job.created) { replace(panel, h("p", {}, `There is no job ${jobId}.`)); return; }
    const name = stateName(job.state);
    const progress = name === "accepted" ? await workerProgress(job) : null;
    const now = await market.now();
    replace(panel,
      h("p", {}, `“${job.created.prompt}”, ${job.created.params.width}×${job.created.params.height}, ${job.created.params.steps} steps, seed ${job.created.params.seed}`),
      h("ol", { class: "steps" }, ["posted", "accepted", "generating", "delivered", "settled"].map((step) =>
        h("li", { class: stepClass(step, name, progress) }, step))),
      h("p", { "data-testid": "job-state" }, describeState(name, progress, job, now)),
      ["settled", "refunded"].includes(name) && await verdictOf(jobId),
      name === "open" && job.requester === state.wallet?.account && h("button", { onclick: act(() => cancel(jobId)), "data-testid": "cancel" }, "Cancel (refund the escrow)"));
    if (!shown && ["delivered", "settled", "disputed", "refunded"].includes(name)) {
      shown = true; // once: what follows (download, settle) updates the result in place
      await receive(job, result);
    }
  };
  state.refreshJob = () => draw(true); // an action taken on the page (settle, dispute, cancel) shows at once
  let readTo = await market.head(); // read before the job: a change in between is in the next blocks' logs
  await draw(true);
  if (over()) return;
  let busy = false;
  const tick = async () => {
    const head = await market.head();
    const changed = head > readTo && (await market.jobLogs(jobId, readTo + 1n, head)).length > 0;
    readTo = head > readTo ? head : readTo;
    if (changed) await draw(true);
    else if (["open", "accepted"].includes(stateName(job.state)) && Date.now() - drawnAt >= 1000) await draw(false);
  };
  timer = setInterval(() => {
    if (busy) return;
    busy = true;
    tick().catch((error) => say(explain(error), "error")).finally(() => { busy = false; });
  }, 250);
  state.timer = timer;
}

// Who decided a disputed job: the committee's members that signed the verdict, or the
// arbiter role directly; nothing for a job that was never disputed.
async function verdictOf(jobId) {
  const [resolved] = await state.market.events("JobMarket", "JobResolved", { job_id: jobId });
  if (!resolved) return null;
  const winner = resolved.args.provider_wins ? "the provider" : "the requester";
  const attested = await state.market.attesters("verdict", jobId);
  return h("p", { "data-testid": "verdict" }, `Dispute decided for ${winner} `,
    attested ? `by the oracle committee, attested by ${memberNames(attested)}.` : `by the arbiter ${short(resolved.args.arbiter)}.`);
}

function stepClass(step, name, progress) {
  const order = ["posted", "accepted", "generating", "delivered", "settled"];
  const reached = { open: 0, accepted: progress?.state === "generating" ? 2 : 1, delivered: 3, disputed: 3, settled: 4, refunded: 3 }[name] ?? 0;
  return order.indexOf(step) <= reached ? "done" : "";
}

function describeState(name, progress, job, now) {
  if (name === "open") return now > job.deadline ? "Nobody accepted it before its deadline: cancel it to get the escrow back." : "Posted: waiting for a provider to accept it…";
  if (name === "accepted") {
    if (progress?.state === "generating") return `Generating: step ${progress.step}/${progress.steps}${progress.eta_s != null ? `, ~${Math.round(progress.eta_s)} s left` : ""}`;
    if (now > job.deadline) return "Its deadline passed undelivered: anyone may expire it, which refunds you and slashes the provider's collateral.";
    if (typeof progress?.waiting === "string") return `Accepted, waiting: ${progress.waiting.slice(0, 300)}`;
    if (progress?.problem) return `Accepted, but ${progress.problem}.`;
    return "Accepted: the provider is working on it…";
  }
  return { delivered: "Delivered.", settled: "Settled.", cancelled: "Cancelled: the escrow came back.", expired: "Expired: refunded.",
           disputed: "Disputed: the arbiter decides.", refunded: "Refunded after the dispute." }[name] ?? name;
}

// A job's result endpoint: its offer's site's, read once per job (the progress poll asks every second).
const endpoints = new Map();
function endpointOf(job) {
  if (!endpoints.has(job.id)) {
    endpoints.set(job.id, (async () => {
      const offer = await state.market.read("JobMarket", "offer", [job.offer_id]);
      return { endpoint: (await state.market.read("SiteRegistry", "endpoint_of", [offer.site_id])).replace(/\/$/, "") };
    })().catch((error) => { endpoints.delete(job.id); throw error; }));
  }
  return endpoints.get(job.id);
}

// What the provider's worker says of an accepted job, or why nothing can be said (`problem`).
async function workerProgress(job) {
  let endpoint;
  try {
    ({ endpoint } = await endpointOf(job));
  } catch {
    return null;
  }
  if (!endpoint) return { problem: "the provider's site publishes no result endpoint: its progress cannot be shown, nor the image downloaded, until it does" };
  try {
    const answer = await fetch(`${endpoint}/progress/${job.id}`);
    if (answer.ok) return await answer.json();
  } catch {
    // unreachable: said below
  }
  return { problem: `the provider's endpoint ${endpoint} does not answer about this job (yet)` };
}

// Downloads the image with a signed permission, checks its hash against the chain, shows it
// with its energy receipt, and offers what fits the job's state.
async function receive(job, box) {
  const market = state.market;
  const delivered = await market.delivery(job.id);
  const mine = state.wallet?.account && job.requester.toLowerCase() === state.wallet.account.toLowerCase();
  const { endpoint } = await endpointOf(job);
  const facts = h("dl", { class: "receipt", "data-testid": "receipt" },
    h("dt", {}, "Energy"), h("dd", {}, `${energy(delivered.energy_mwh)} (${rec(delivered.energy_mwh)})`),
    h("dt", {}, "Meter"), h("dd", { "data-testid": "meter" }, `${delivered.meter_end - delivered.energy_mwh}..${delivered.meter_end}`),
    h("dt", {}, "Computed"), h("dd", {}, `${time(delivered.started_at)}, ${delivered.finished_at - delivered.started_at} s`),
    h("dt", {}, "Result hash"), h("dd", { class: "hash" }, delivered.result_hash));
  if (endpoint) try {
    // The worker records the delivery just after the chain has it: wait for its /progress to
    // say so (it answers for every job it took) rather than asking /receipts into a 404 the
    // console would show.
    for (let tries = 0; tries < 30; tries++) {
      const progress = await fetch(`${endpoint}/progress/${job.id}`).then((r) => (r.ok ? r.json() : null)).catch(() => null);
      if (progress === null || ["delivered", "settled"].includes(progress.state)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const answer = await fetch(`${endpoint}/receipts/${job.id}`);
    const metadata = answer.ok ? (await answer.json()).metadata : null;
    if (typeof metadata?.meter === "string") {
      facts.append(h("dt", {}, "Meter kind"), h("dd", { "data-testid": "meter-kind" }, meterKind(metadata)));
    }
  } catch { /* the receipt's metadata is a courtesy of the worker; the chain holds the rest */ }
  const actions = h("div", { class: "actions" });
  replace(box, h("h3", {}, "Result"), facts, actions);
  if (!mine) return;
  if (!endpoint) {
    actions.append(h("p", { class: "hint", "data-testid": "no-endpoint" },
      "The provider's site publishes no result endpoint: the image cannot be downloaded until it does."));
    offerDispute(job, actions);
  } else {
    actions.append(h("button", { onclick: act(() => download(job, endpoint, delivered, box, actions)), "data-testid": "download" },
      job.state === 4n ? "Sign and download the image" : "Download again"));
  }
  if (job.state === 8n) await showSettlement(job.id, actions);
}

function meterKind({ meter, estimated }) {
  if (!estimated) return `${meter} (measured)`;
  return meter.includes("estimate") ? meter : `${meter} (an estimate)`;
}

async function download(job, endpoint, delivered, box, actions) {
  signer();
  say("Check your wallet: sign the download permission (free: nothing is sent).");
  const { expiry, signature } = await state.market.downloadPermission(job.id);
  let answer;
  try {
    answer = await fetch(`${endpoint}/results/${job.id}?expiry=${expiry}&signature=${signature}`);
  } catch {
    say(`The provider's endpoint ${endpoint} is unreachable. Try again later; if it stays down past the challenge window, dispute the job.`, "error");
    offerDispute(job, actions);
    return;
  }
  if (!answer.ok) {
    const reason = (await answer.json().catch(() => ({}))).detail ?? answer.statusText;
    throw new Error(`The endpoint refused the download (${answer.status}): ${reason}`);
  }
  const bytes = await answer.arrayBuffer();
  const hash = await sha256Hex(bytes);
  replace(actions);
  if (hash !== delivered.result_hash) {
    say(`Hash mismatch: the image served has sha256 ${hash}, the chain says ${delivered.result_hash}. Do not settle: dispute it.`, "error");
    box.append(h("p", { class: "mismatch", "data-testid": "mismatch" }, "The image does not match the delivered hash."));
    offerDispute(job, actions);
    return;
  }
  const url = URL.createObjectURL(new Blob([bytes], { type: "image/png" }));
  box.insertBefore(h("figure", {}, h("img", { src: url, alt: job.created.prompt, "data-testid": "image" }),
    h("figcaption", { "data-testid": "verified" }, `sha256 ${hash.slice(0, 18)}… matches the chain`)), actions);
  say("The image matches the hash delivered on chain.", "ok");
  if (job.state === 8n) await showSettlement(job.id, actions);
  if (job.state === 4n) {
    actions.append(h("button", { onclick: act(() => settle(job.id, actions)), "data-testid": "settle" }, "Settle (pay the provider)"));
    offerDispute(job, actions);
  }
}

function offerDispute(job, actions) {
  if (job.state !== 4n) return;
  actions.append(h("button", { class: "secondary", onclick: act(() => dispute(job.id, actions)), "data-testid": "dispute" },
    "Dispute (a bond is escrowed; the arbiter decides)"));
}

async function settle(jobId, actions) {
  signer();
  say("Confirm the settlement in your wallet.");
  await state.market.write("JobMarket", "settle", [jobId]);
  replace(actions);
  await Promise.all([showSettlement(jobId, actions), state.refreshJob()]);
  say(`Job ${jobId} settled.`, "ok");
}

async function showSettlement(jobId, actions) {
  const paid = await state.market.settlement(jobId);
  const job = await state.market.read("JobMarket", "job", [jobId]);
  const certificates = job.green ? (await state.market.events("RECToken", "Retired", {})).filter((log) => log.args.job_id === jobId) : [];
  actions.append(h("dl", { class: "receipt", "data-testid": "settlement" },
    h("dt", {}, "Paid"), h("dd", {}, `${akre(paid.price)} (${akre(paid.price - paid.fee)} to the provider, ${akre(paid.fee)} protocol fee)`),
    h("dt", {}, "Refunded"), h("dd", { "data-testid": "refund" }, akre(paid.refund)),
    certificates.map((log) => [h("dt", {}, "Certificate"), h("dd", { "data-testid": "certificate" },
      h("a", { href: "#certificates" }, `#${log.args.certificate_id}`), `: ${energy(log.args.amount_mwh)} retired in your name`)])));
}

async function cancel(jobId) {
  signer();
  await state.market.write("JobMarket", "cancel", [jobId]);
  await state.refreshJob();
  say(`Job ${jobId} cancelled: the escrow is back in your wallet.`, "ok");
}

async function dispute(jobId, actions) {
  signer();
  const bond = await state.market.read("JobMarket", "dispute_bond");
  const allowance = await state.market.read("AkreToken", "allowance", [state.wallet.account, state.market.addresses.JobMarket]);
  if (allowance < bond) await state.market.write("AkreToken", "approve", [state.market.addresses.JobMarket, bond]);
  await state.market.write("JobMarket", "dispute", [jobId]);
  replace(actions);
  await state.refreshJob();
  say(`Job ${jobId} disputed (bond ${akre(bond)}): the arbiter re-runs it and decides.`, "ok");
}

async function certificatesView() {
  const main = state.screen;
  const account = signer();
  const certificates = await state.market.certificates(account);
  replace(main, h("h2", {}, "My certificates"), certificates.length === 0 ? h("p", {}, "No retirement certificates in your name yet.") :
    h("div", { class: "cards" }, certificates.map(({ id, metadata }) => {
      const trait = (name) => metadata?.attributes?.find((a) => a.trait_type === name)?.value;
      return h("div", { class: "card certificate", "data-testid": `certificate-${id}` },
        h("h3", {}, metadata?.name ?? `Certificate #${id}`),
        h("p", {}, `${energy(trait("amount_mwh"))} (${rec(BigInt(trait("amount_mwh") ?? 0))}) of renewable energy retired`),
        h("p", {}, `${trait("channel_id") !== undefined ? `for the jobs of channel #${trait("channel_id")} (receipts root ${short(trait("receipts_root"))})`
          : `for job #${trait("job_id")}`}, beneficiary ${short(trait("beneficiary") ?? "0x")}`),
        h("p", {}, `on ${time(trait("retired_at") ?? 0)}; soulbound (it cannot be transferred)`));
    })));
}

// ---- Alice: her channels ------------------------------------------------------------------

// Pay-as-you-go channels with a site (JobChannels): open one with a permit, order instant jobs
// through it (no transaction: the wallet signs the order, then a voucher once the image is
// checked), see the vouchers signed and what the site redeemed, close it and withdraw the rest
// after the notice.
async function channelsView() {
  const main = state.screen;
  const account = signer();
  const market = state.market;
  const [channels, notice, now] = await Promise.all([market.channels(account), market.read("JobChannels", "NOTICE_PERIOD"), market.now()]);
  const sites = new Map(await Promise.all([...new Set(channels.map((c) => c.site_id))].map(async (id) => [id, await market.site(id)])));
  const signed = new Map(await Promise.all(channels.map(async (c) => [c.id, await heldVoucher(sites.get(c.site_id), c.id)])));
  const form = h("form", { class: "card", "data-testid": "channel-form" }, h("h3", {}, "Open a channel"),
    h("div", { class: "row" },
      field("Site", h("input", { name: "site", type: "number", min: 1, required: true })),
      field("Deposit (AKRE)", h("input", { name: "deposit", value: "20", inputmode: "decimal", required: true }))),
    h("p", { class: "hint" }, `Closing a channel gives the site ${Number(notice) / 3600} h to redeem what you signed before the rest comes back.`),
    h("button", { type: "submit", "data-testid": "open-channel" }, "Open (sign a permit, one transaction)"));
  form.addEventListener("submit", act(async (event) => {
    event.preventDefault();
    const deposit = parseAkre(form.deposit.value);
    say("Check your wallet: sign the permit for the deposit, then confirm the transaction.");
    const opened = await market.openChannel(BigInt(form.site.value), deposit);
    if (opened.short !== undefined) throw new Error(`Your balance is ${akre(opened.short)}: the deposit is ${akre(deposit)}.`);
    await rerender(channelsView, main);
    say(`Channel #${opened.channelId} open: ${akre(deposit)} deposited.`, "ok");
  }));
  const action = (label, id, call, testid) => h("button", { class: "secondary", "data-testid": `${testid}-${id}`, onclick: act(async () => {
    signer();
    await market.write("JobChannels", call, [id]);
    await rerender(channelsView, main);
    say(`Channel #${id}: ${label.toLowerCase()} done.`, "ok");
  }) }, label);
  const stateOf = (c) => (c.closed ? "closed (withdrawn)" : c.closes_at === 0n ? "open"
    : `closing: withdraw from ${time(c.closes_at)}`);
  const open = channels.filter((c) => !c.closed && c.closes_at === 0n && sites.get(c.site_id).endpoint);
  const offers = open.length ? await market.offers() : [];
  const chainClock = chainClockFrom(now);
  replace(main, h("h2", {}, "My channels"), form, open.length ? instantForm(open, sites, offers, chainClock) : null,
    h("div", { id: "instant-result" }), channels.length === 0 ? h("p", {}, "No channels yet.") :
    h("table", { class: "reflow", "data-testid": "channels" },
      h("thead", {}, h("tr", {}, ["Channel", "Site", "Deposit", "Not yet redeemed", "Vouchers signed", "Redeemed", "State", "Action"]
        .map((name) => h("th", {}, name)))),
      h("tbody", {}, channels.map((c) => h("tr", { "data-channel": String(c.id) },
        h("td", { "data-label": "Channel" }, `#${c.id}`), h("td", { "data-label": "Site" }, `#${c.site_id}`),
        h("td", { "data-label": "Deposit" }, akre(c.deposit)), h("td", { "data-label": "Not yet redeemed" }, akre(c.deposit - c.redeemed)),
        h("td", { "data-label": "Vouchers signed", "data-testid": `channel-signed-${c.id}` }, signed.get(c.id)),
        h("td", { "data-label": "Redeemed" }, `${akre(c.redeemed)} for ${c.jobs} jobs`),
        h("td", { "data-label": "State", "data-testid": `channel-state-${c.id}` }, stateOf(c)),
        h("td", { "data-label": "Action" }, c.closed ? "" : c.closes_at === 0n ? action("Close", c.id, "close", "close")
          : now >= c.closes_at ? action("Withdraw", c.id, "withdraw", "withdraw") : ""))))));
}

// The latest voucher the channel's site holds from this wallet, in words ("—" when its site
// publishes no endpoint or does not answer).
async function heldVoucher(site, channelId) {
  if (!site.endpoint) return "— (the site publishes no endpoint)";
  try {
    const response = await fetch(`${site.endpoint.replace(/\/+$/, "")}/channels/${channelId}`);
    const view = response.ok ? await response.json() : null;
    if (!view?.voucher) return view ? "none yet" : "—";
    const voucher = view.voucher.voucher;
    return `${voucher.jobs} jobs, ${akre(BigInt(voucher.amount))} owed, ${energy(BigInt(voucher.energy_mwh))}`;
  } catch {
    return "— (the site's endpoint does not answer)";
  }
}

// The chain's time from now on, estimated from its latest block's timestamp read at `now`
// and the wall clock since (an order's expiry counts from it; no read when the user acts).
function chainClockFrom(now) {
  const readAt = Date.now();
  return () => now + BigInt(Math.floor((Date.now() - readAt) / 1000));
}

// The form for an instant job on one of the open channels (the site's cheapest offer prices it,
// the worker's rule: docs/SPEC.md, "Channels"). Everything it needs is read with the view, so
// an order goes out as soon as the wallet signs it.
function instantForm(open, sites, allOffers, chainClock) {
  const input = (name, attrs) => h("input", { name, id: `instant-${name}`, ...attrs });
  const form = h("form", { class: "card", "data-testid": "instant-form" }, h("h3", {}, "Instant job"),
    h("p", { class: "hint" }, "No transaction: your wallet signs the order, the site generates at once, and after the image is checked against its meter-signed receipt your wallet signs a voucher for what you owe so far."),
    field("Channel", h("select", { name: "channel", id: "instant-channel" },
      open.map((c) => h("option", { value: String(c.id) }, `#${c.id} with site ${c.site_id}`)))),
    field("Prompt", h("textarea", { name: "prompt", id: "instant-prompt", required: true, maxlength: 1000, rows: 2 })),
    h("div", { class: "row" },
      field("Width", input("width", { type: "number", value: 64, min: 64, step: 8 })),
      field("Height", input("height", { type: "number", value: 64, min: 64, step: 8 })),
      field("Steps", input("steps", { type: "number", value: 10, min: 1 })),
      field("Seed", input("seed", { type: "number", value: 42, min: 0 })),
      field("Max price (AKRE)", input("max_price", { type: "text", value: "3", inputmode: "decimal" })),
      field("Green (RECs retired when the site redeems)", input("green", { type: "checkbox" }))),
    h("button", { type: "submit", "data-testid": "instant-post" }, "Generate instantly"));
  form.addEventListener("submit", act(async (event) => {
    const began = performance.now(); // the job's time as the user meets it: from the click to the image shown
    event.preventDefault();
    signer();
    const prompt = form.prompt.value.trim();
    if (!prompt) throw new Error("Write a prompt first.");
    const channel = open.find((c) => String(c.id) === form.channel.value);
    const site = sites.get(channel.site_id);
    const green = form.green.checked;
    const offers = allOffers.filter((o) => o.site_id === channel.site_id && (!green || o.green))
      .sort((a, b) => (a.base_price === b.base_price ? (a.price_per_kwh < b.price_per_kwh ? -1 : 1) : a.base_price < b.base_price ? -1 : 1));
    if (offers.length === 0) throw new Error(`Site ${channel.site_id} has no active ${green ? "green " : ""}offer.`);
    let maxPrice;
    try { maxPrice = parseAkre(form.max_price.value); } catch { throw new Error("Enter the max price in AKRE, e.g. 3 or 2.5."); }
    const params = { width: Number(form.width.value), height: Number(form.height.value), steps: Number(form.steps.value),
                     guidance_x100: 750, seed: BigInt(form.seed.value || 0) };
    say("Check your wallet: sign the order; once the image is checked, sign the voucher.");
    const instant = new InstantChannel(state.market, channel.id, site, offers[0]);
    const done = await instant.order({ prompt, params, maxPrice, green, now: chainClock() });
    const url = URL.createObjectURL(new Blob([done.png], { type: "image/png" }));
    const receipt = done.served.receipt;
    const card = h("div", { class: "card", "data-testid": "instant-result", "data-job": String(done.jobId),
                            "data-timings": JSON.stringify(done.timings) },
      h("h3", {}, `Instant job on channel #${channel.id} (order ${done.served.order.nonce})`),
      h("figure", {}, h("img", { src: url, alt: prompt, "data-testid": "instant-image" })),
      h("p", {}, `${energy(receipt.energy_mwh)} metered from ${time(receipt.started_at)} to ${time(receipt.finished_at)}, signed by the site's meter; sha256 ${short(receipt.result_hash)} checked.`),
      h("p", {}, `Price ${akre(done.served.price)} by offer #${done.served.offerId}'s rule, in ${done.seconds.toFixed(2)} s.`),
      h("p", { "data-testid": "instant-voucher" }, `Voucher signed: ${done.voucher.jobs} jobs, ${akre(done.voucher.amount)} owed in all; the site redeems it on chain.`));
    replace(document.getElementById("instant-result"), card);
    card.dataset.seconds = String((performance.now() - began) / 1000);
    say(`Instant job done: voucher for ${done.voucher.jobs} jobs signed.`, "ok");
    const cell = document.querySelector(`[data-testid="channel-signed-${channel.id}"]`);
    if (cell) cell.textContent = `${done.voucher.jobs} jobs, ${akre(done.voucher.amount)} owed, ${energy(done.voucher.energy_mwh)}`;
  }));
  return form;
}

// ---- Bob: the site page -------------------------------------------------------------------

const JOBS_SHOWN = 20; // the site page lists the last jobs served
const ISSUANCES_SHOWN = 10; // and the last REC issuances, with who attested each

async function siteView() {
  const main = state.screen;
  const account = signer();
  const market = state.market;
  const registered = await market.events("SiteRegistry", "SiteRegistered", { owner: account });
  const [stake, recs, offers, accepted, settled, issued, retired] = await Promise.all([
    market.read("JobMarket", "stake_of", [account]), market.read("RECToken", "balanceOf", [account]), market.offers(),
    market.events("JobMarket", "JobAccepted", { provider: account }), market.events("JobMarket", "JobSettled", { provider: account }),
    market.events("RECToken", "Issued", { owner: account }), market.events("RECToken", "Retired", { retired_by: account })]);
  const total = (logs, field) => logs.reduce((sum, log) => sum + log.args[field], 0n);
  const paidFor = new Map(settled.map((log) => [log.args.job_id, log.args.price - log.args.fee]));
  const earned = [...paidFor.values()].reduce((sum, paid) => sum + paid, 0n);
  const served = await Promise.all(accepted.slice(-JOBS_SHOWN).reverse().map(async (log) =>
    ({ id: log.args.job_id, offer: log.args.offer_id, ...(await market.read("JobMarket", "job", [log.args.job_id])) })));
  const sites = await Promise.all(registered.map(async (log) => ({ ...(await market.site(log.args.site_id)),
                                                                    attested: await market.attesters("site", log.args.site_id) })));
  const lastIssued = issued.slice(-ISSUANCES_SHOWN).reverse();
  const issuedAttesters = await market.issuanceAttesters(lastIssued);
  const mine = offers.filter((o) => o.provider.toLowerCase() === account.toLowerCase());
  const amount = h("input", { name: "amount", value: "10", inputmode: "decimal", "aria-label": "Stake amount in AKRE" });
  replace(main, h("h2", {}, "My site"),
    sites.length === 0 ? h("p", {}, "This account has registered no site (degen site / SiteRegistry.register_site).") :
      sites.map((site) => h("div", { class: "card", "data-testid": `site-${site.id}` },
        h("h3", {}, `Site ${site.id} (${site.region}): ${SITE_STATUSES[Number(site.status)] ?? site.status}`),
        h("p", {}, `${site.pv_peak_watts.toLocaleString("en-US")} W PV peak, ${site.battery_wh.toLocaleString("en-US")} Wh battery, GPU up to ${site.max_gpu_watts} W`),
        h("p", {}, `Endpoint: ${site.endpoint || "none published"}`),
        h("p", { "data-testid": `attested-${site.id}` }, siteDecision(site)),
        h("div", { class: "chart-box", id: `chart-${site.id}` }))),
    h("div", { class: "card" }, h("h3", {}, "Stake"),
      h("p", { "data-testid": "stake" }, `${akre(stake[0])} free, ${akre(stake[1])} locked as collateral`),
      h("div", { class: "row" }, amount,
        h("button", { onclick: act(() => moveStake("deposit_stake", amount.value)) }, "Deposit"),
        h("button", { class: "secondary", onclick: act(() => moveStake("withdraw_stake", amount.value)) }, "Withdraw"))),
    h("div", { class: "card" }, h("h3", {}, "Earnings and RECs"),
      h("p", { "data-testid": "earnings" }, `${count(accepted.length, "job")} served, ${settled.length} settled: ${akre(earned)} earned`),
      h("p", { "data-testid": "recs" }, `RECs: ${rec(total(issued, "energy_mwh"))} issued to you for ${count(issued.length, "period")}, `,
        `${rec(total(retired, "amount_mwh"))} retired from your balance (${count(retired.length, "certificate")}), ${rec(recs)} held`),
      lastIssued.length > 0 && h("table", { "data-testid": "issuances" },
        h("thead", {}, h("tr", {}, h("th", {}, "Period"), h("th", {}, "RECs"), h("th", {}, "Attested by"))),
        h("tbody", {}, lastIssued.map((log, i) => h("tr", {},
          h("td", {}, `site ${log.args.site_id}, ${time(log.args.period_start)} +${(Number(log.args.period_end - log.args.period_start) / 3600).toLocaleString("en-US")} h`),
          h("td", {}, rec(log.args.energy_mwh)),
          h("td", {}, issuedAttesters[i] ? memberNames(issuedAttesters[i]) : "the issuer role directly"))))),
      served.length > 0 && h("table", { "data-testid": "served" },
        h("thead", {}, h("tr", {}, h("th", {}, "Job"), h("th", {}, "Offer"), h("th", {}, "State"), h("th", {}, "Energy"), h("th", {}, "Paid to you"))),
        h("tbody", {}, served.map((job) => h("tr", {},
          h("td", {}, h("a", { href: `#job/${job.id}` }, `#${job.id}`)), h("td", {}, `#${job.offer}`),
          h("td", { "data-testid": `served-state-${job.id}` }, stateName(job.state)),
          h("td", {}, job.energy_mwh > 0n ? energy(job.energy_mwh) : "–"),
          h("td", {}, paidFor.has(job.id) ? akre(paidFor.get(job.id)) : "–")))))),
    h("div", { class: "card" }, h("h3", {}, "Offers"),
      mine.length === 0 ? h("p", {}, "No active offers.") : h("ul", { "data-testid": "my-offers" }, mine.map((o) =>
        h("li", {}, `#${o.id} ${modelName(o.model_id)}, ${o.max_width}×${o.max_height}/${o.max_steps}, ${akre(o.base_price)} + ${akre(o.price_per_kwh)}/kWh${o.green ? ", green" : ""} `,
          h("button", { class: "secondary", onclick: act(() => closeOffer(o.id)) }, "Close")))),
      sites.length > 0 && offerForm(sites)));
  for (const site of sites) await siteChart(site);
}

// How the committee decided a site: who attested its activation (or suspension), or what the
// members check before they do while it is pending.
function siteDecision(site) {
  const status = SITE_STATUSES[Number(site.status)];
  if (site.attested) {
    const act = { active: "Activated", suspended: "Suspended" }[status] ?? "Decided";
    return `${act} by the oracle committee, attested by ${memberNames(site.attested)}.`;
  }
  if (status === "pending") {
    return "Waiting for the oracle committee: its members check the installation against the meter key and limits " +
      "registered before they attest it (degen site status says who has).";
  }
  return "Decided by the registrar role directly (no committee report).";
}

function offerForm(sites) {
  const form = h("form", { "data-testid": "offer-form" },
    h("div", { class: "row" },
      field("Site", h("select", { name: "site" }, sites.map((s) => h("option", { value: s.id }, `${s.id} ${s.region}`)))),
      field("Model name", h("input", { name: "model", value: "tiny-sd" })),
      field("Max side", h("input", { name: "side", type: "number", value: 1024, step: 8 })),
      field("Max steps", h("input", { name: "steps", type: "number", value: 50 }))),
    h("div", { class: "row" },
      field("Base price (AKRE)", h("input", { name: "base", value: "2" })),
      field("Per kWh (AKRE)", h("input", { name: "per_kwh", value: "30" })),
      field("Collateral (AKRE)", h("input", { name: "collateral", value: "5" })),
      field("Green", h("input", { name: "green", type: "checkbox" }))),
    h("button", { type: "submit", "data-testid": "create-offer" }, "Create offer"));
  form.addEventListener("submit", act(async () => {
    signer();
    const screen = state.screen;
    const side = Number(form.side.value);
    await state.market.write("JobMarket", "create_offer", [BigInt(form.site.value), keccak256(stringToHex(form.model.value.trim())),
      side, side, Number(form.steps.value), parseAkre(form.base.value), parseAkre(form.per_kwh.value), parseAkre(form.collateral.value), form.green.checked]);
    say("Offer created.", "ok");
    await rerender(siteView, screen);
  }));
  return form;
}

async function moveStake(method, text) {
  signer();
  const screen = state.screen;
  const amount = parseAkre(text);
  if (method === "deposit_stake") {
    const allowance = await state.market.read("AkreToken", "allowance", [state.wallet.account, state.market.addresses.JobMarket]);
    if (allowance < amount) await state.market.write("AkreToken", "approve", [state.market.addresses.JobMarket, amount]);
  }
  await state.market.write("JobMarket", method, [amount]);
  say(method === "deposit_stake" ? `${akre(amount)} staked.` : `${akre(amount)} withdrawn.`, "ok");
  await rerender(siteView, screen);
}

async function closeOffer(offerId) {
  signer();
  const screen = state.screen;
  await state.market.write("JobMarket", "close_offer", [offerId]);
  say(`Offer ${offerId} closed.`, "ok");
  await rerender(siteView, screen);
}

async function siteChart(site) {
  const box = document.getElementById(`chart-${site.id}`);
  if (!state.config.oracle) { replace(box, h("p", { class: "hint" }, "No oracle configured: no readings to chart.")); return; }
  const answer = await fetch(`/oracle/sites/${site.id}/samples`);
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) { replace(box, h("p", { class: "hint" }, body.detail ?? "The oracle has no readings.")); return; }
  if (body.samples.length === 0) { replace(box, h("p", { class: "hint" }, "The site reported no readings in the last day.")); return; }
  const charged = body.samples.filter((s) => s.battery_soc_permille !== NO_BATTERY);
  const series = [{ name: "PV", points: body.samples.map((s) => [s.timestamp, s.pv_watts]), format: (w) => `${w.toLocaleString("en-US")} W` }];
  if (charged.length) series.push({ name: "Battery", points: charged.map((s) => [s.timestamp, s.battery_soc_permille / 10]), format: (p) => `${p.toFixed(1)}%` });
  replace(box, h("p", {}, `The last day: ${body.samples.length} signed readings${charged.length ? "" : " (no battery)"}`),
    lineChart(series, { label: `PV power${charged.length ? " and battery state of charge" : ""} of site ${site.id}` }));
}

// ---- the pool -----------------------------------------------------------------------------

const TWAP_WINDOW_S = 3600n;

async function poolView() {
  const main = state.screen;
  const market = state.market;
  const [[recReserve, akreReserve], lpSupply] = await Promise.all([market.read("EnergyPool", "get_reserves"), market.read("EnergyPool", "totalSupply")]);
  const spot = recReserve > 0n ? (akreReserve * 10n ** 6n) / recReserve : 0n; // AKRE base units per REC
  let twap = null;
  for (const window of [TWAP_WINDOW_S, 600n, 60n, 15n]) {
    try { twap = { window, price: await market.read("EnergyPool", "consult", [window]) }; break; } catch { /* too little history */ }
  }
  const form = h("form", { class: "card", "data-testid": "swap-form" }, h("h3", {}, "Swap"),
    h("div", { class: "row" },
      field("Pay", h("input", { name: "amount", value: "0.2", inputmode: "decimal" })),
      field("in", h("select", { name: "token" }, h("option", { value: "akre" }, "AKRE (buy RECs)"), h("option", { value: "rec" }, "REC (sell RECs)"))),
      field("Slippage %", h("input", { name: "slippage", value: "1", inputmode: "decimal" })),
      field("Deadline (minutes)", h("input", { name: "minutes", type: "number", value: 20, min: 1 }))),
    h("p", { class: "quote", "data-testid": "quote" }),
    h("button", { type: "submit", "data-testid": "swap" }, "Swap"));
  const quote = async () => {
    const q = await swapQuote(form);
    form.querySelector(".quote").textContent = q.text;
    return q;
  };
  form.addEventListener("input", () => quote().catch(() => {}));
  form.addEventListener("submit", act(async () => {
    try {
      await swap(form, await quote());
    } finally {
      await quote().catch(() => {}); // a refused swap shows the price it met
    }
  }));
  replace(main, h("h2", {}, "EnergyPool (REC ↔ AKRE)"),
    h("div", { class: "card", "data-testid": "pool" },
      h("p", { "data-testid": "reserves" }, `Reserves: ${rec(recReserve)} and ${akre(akreReserve)}; LP supply ${lp(lpSupply)}`),
      h("p", { "data-testid": "spot" }, `Spot: ${akre(spot)} per REC`),
      h("p", { "data-testid": "twap" }, twap ? `TWAP over ${twap.window} s: ${akre(twap.price)} per REC (what integrators should trust)` : "No TWAP yet: the pool has too little history."),
      h("div", { class: "chart-box", id: "pool-chart" })),
    form);
  await Promise.all([quote().catch(() => {}), poolChart()]);
}

async function poolChart() {
  const history = (await state.market.poolHistory()).filter((point) => point.rec > 0n);
  const box = document.getElementById("pool-chart");
  if (history.length === 0) { replace(box, h("p", { class: "hint" }, "The pool has no liquidity yet: nothing to chart.")); return; }
  const points = (value) => history.map((point) => [Number(point.timestamp), value(point)]);
  replace(box, h("p", {}, `Its last ${history.length} changes (swaps, liquidity, decay)`), lineChart([
    { name: "Price", points: points((p) => Number(p.akre) / 1e18 / (Number(p.rec) / 1e6)), format: (price) => `${price.toFixed(4)} AKRE/REC` },
    { name: "REC reserve", points: points((p) => Number(p.rec) / 1e6), format: (recs) => `${recs.toFixed(3)} REC` },
  ], { label: "The pool's price and REC reserve over time" }));
}

async function swapQuote(form) {
  const market = state.market;
  const paysAkre = form.token.value === "akre";
  const amountIn = paysAkre ? parseAkre(form.amount.value) : BigInt(Math.round(Number(form.amount.value) * 1e6));
  const [recReserve, akreReserve] = await market.read("EnergyPool", "get_reserves");
  const out = await market.read("EnergyPool", "get_amount_out", paysAkre ? [amountIn, akreReserve, recReserve] : [amountIn, recReserve, akreReserve]);
  const slippageBps = BigInt(Math.round(Number(form.slippage.value) * 100));
  if (!(slippageBps >= 0n && slippageBps <= 5000n)) throw new Error("Slippage is a percentage from 0 to 50.");
  const minOut = (out * (10_000n - slippageBps)) / 10_000n;
  const show = paysAkre ? rec : akre;
  return { paysAkre, amountIn, minOut, deadlineMinutes: Number(form.minutes.value),
           text: `You get about ${show(out)}; at least ${show(minOut)} (slippage ${form.slippage.value} %), or nothing is swapped. Deadline ${form.minutes.value} min.` };
}

async function swap(form, q) {
  signer();
  const screen = state.screen;
  const market = state.market;
  const token = q.paysAkre ? "AkreToken" : "RECToken";
  const allowance = await market.read(token, "allowance", [state.wallet.account, market.addresses.EnergyPool]);
  if (allowance < q.amountIn) await market.write(token, "approve", [market.addresses.EnergyPool, q.amountIn]);
  const deadline = (await market.now()) + BigInt(q.deadlineMinutes * 60);
  await market.write("EnergyPool", "swap_exact_in", [market.addresses[token], q.amountIn, q.minOut, state.wallet.account, deadline]);
  say("Swapped.", "ok");
  await rerender(poolView, screen);
}

boot().catch((error) => say(`The page could not start: ${explain(error)}`, "error"));
