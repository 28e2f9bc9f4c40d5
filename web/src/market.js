// The deployment's contracts through viem: reads over the page server's node relay, writes and
// signatures through the user's wallet. ABIs are the compiled contracts' (abi/, `make abi`).
import { createPublicClient, createWalletClient, custom, defineChain, http, pad, parseSignature, toEventSelector, toHex,
         zeroAddress } from "viem";
import JobMarket from "../../abi/JobMarket.json";
import SiteRegistry from "../../abi/SiteRegistry.json";
import AkreToken from "../../abi/AkreToken.json";
import RECToken from "../../abi/RECToken.json";
import RetirementCertificate from "../../abi/RetirementCertificate.json";
import EnergyPool from "../../abi/EnergyPool.json";
import OracleCommittee from "../../abi/OracleCommittee.json";
import JobChannels from "../../abi/JobChannels.json";
import { cacheKey, readCache, readLogs, writeCache } from "./logs.js";

export const ABIS = { JobMarket, SiteRegistry, AkreToken, RECToken, RetirementCertificate, EnergyPool, OracleCommittee, JobChannels };
const REPORT_KINDS = { issuance: 1, site: 2, verdict: 3 }; // OracleCommittee's ReportAccepted.kind
const PERMIT_VALIDITY_S = 3600n;
const JOB_EVENTS = JobMarket.filter((entry) => entry.type === "event" && entry.inputs.find((input) => input.indexed)?.name === "job_id")
  .map((entry) => toEventSelector(entry));

export class Market {
  constructor(config) {
    this.config = config;
    const d = config.deployment;
    this.rpcUrl = new URL(config.rpc, location.href).href;
    this.chain = defineChain({ id: config.chain_id, name: `DeGEN (${config.network})`,
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [this.rpcUrl] } } });
    // Reads that start together go to the relay as one JSON-RPC batch (it takes up to 20 calls).
    this.reader = createPublicClient({ chain: this.chain, transport: http(this.rpcUrl, { batch: { batchSize: 20 } }) });
    this.addresses = { JobMarket: d.market, SiteRegistry: d.registry, AkreToken: d.token, RECToken: d.rec_token,
                       RetirementCertificate: d.certificate, EnergyPool: d.pool, OracleCommittee: d.committee,
                       JobChannels: d.channels };
    this.fromBlock = BigInt(d.block ?? 0) > 50n ? BigInt(d.block) - 50n : 0n;
    this.writer = null;
  }

  useWallet(provider, account) {
    this.writer = provider ? createWalletClient({ account, chain: this.chain, transport: custom(provider) }) : null;
    this.account = account;
  }

  read(contract, functionName, args = []) {
    return this.reader.readContract({ address: this.addresses[contract], abi: ABIS[contract], functionName, args });
  }

  // An event's logs since the deployment: what this browser read before (per chain, market,
  // event and filter) and the blocks since, paged as hosted nodes need (logs.js).
  async events(contract, eventName, args) {
    const [head, deployedIn] = await Promise.all([this.head(), this.deploymentBlockHash()]);
    const key = cacheKey(deployedIn, contract, eventName, args);
    const kept = readCache(key);
    const cached = kept && kept.to < head ? kept : null; // newer than the head: another chain at these addresses
    const from = cached ? cached.to + 1n : this.fromBlock;
    const query = (fromBlock, toBlock) => this.reader.getContractEvents({ address: this.addresses[contract], abi: ABIS[contract],
                                                                         eventName, args, fromBlock, toBlock });
    const logs = [...(cached?.logs ?? []), ...(from <= head ? await readLogs(query, from, head) : [])];
    writeCache(key, logs, head);
    return logs;
  }

  // The chain's head as of now (viem would answer a block number up to 4 s old).
  head() {
    return this.reader.getBlockNumber({ cacheTime: 0 });
  }

  // Everything the market logged about a job in blocks [fromBlock, toBlock], in one query a
  // page: topic 0 lists every event whose first indexed argument is the job's id.
  jobLogs(jobId, fromBlock, toBlock) {
    const topics = [JOB_EVENTS, pad(toHex(jobId), { size: 32 })];
    const query = (from, to) => this.reader.request({ method: "eth_getLogs", params: [{ address: this.addresses.JobMarket, topics,
                                                                                       fromBlock: toHex(from), toBlock: toHex(to) }] });
    return readLogs(query, fromBlock, toBlock);
  }

  // The hash of the deployment's block names this chain and deployment in the cache: a local
  // chain started again holds the same addresses and chain id, but not the same blocks.
  deploymentBlockHash() {
    this.deployedIn ??= this.reader.getBlock({ blockNumber: BigInt(this.config.deployment.block ?? 0) }).then((block) => block.hash)
      .catch((error) => { this.deployedIn = null; throw error; });
    return this.deployedIn;
  }

  // Simulates first (a revert is refused before the wallet opens), then sends and waits.
  async write(contract, functionName, args = []) {
    if (!this.writer) throw new Error("Connect a wallet first.");
    const { request } = await this.reader.simulateContract({ address: this.addresses[contract], abi: ABIS[contract],
                                                             functionName, args, account: this.account });
    const hash = await this.writer.writeContract(request);
    const receipt = await this.reader.waitForTransactionReceipt({ hash, pollingInterval: 250 });
    if (receipt.status !== "success") throw new Error(`the transaction ${hash} reverted`);
    return receipt;
  }

  async now() {
    return (await this.reader.getBlock({ blockTag: "latest" })).timestamp;
  }

  async offers() {
    const count = await this.read("JobMarket", "offer_count");
    const ids = Array.from({ length: Number(count) }, (_, i) => BigInt(i + 1));
    const offers = await Promise.all(ids.map(async (id) => ({ id, ...(await this.read("JobMarket", "offer", [id])) })));
    const active = offers.filter((o) => o.active);
    const sites = new Map();
    for (const o of active) if (!sites.has(o.site_id)) sites.set(o.site_id, this.site(o.site_id));
    for (const o of active) o.site = await sites.get(o.site_id);
    return active;
  }

  async site(siteId) {
    const [site, endpoint] = await Promise.all([this.read("SiteRegistry", "site", [siteId]),
                                                this.read("SiteRegistry", "endpoint_of", [siteId])]);
    return { id: siteId, ...site, endpoint };
  }

  async job(jobId) {
    const [job, created] = await Promise.all([this.read("JobMarket", "job", [jobId]),
                                              this.events("JobMarket", "JobCreated", { job_id: jobId })]);
    return { id: jobId, ...job, created: created[0]?.args };
  }

  // The pool's reserves after each of its last `limit` changes (Sync events), with their block times.
  async poolHistory(limit = 100) {
    const syncs = (await this.events("EnergyPool", "Sync", {})).slice(-limit);
    const blocks = [...new Set(syncs.map((log) => log.blockNumber))];
    const times = new Map(await Promise.all(blocks.map(async (number) =>
      [number, (await this.reader.getBlock({ blockNumber: number })).timestamp])));
    return syncs.map((log) => ({ timestamp: times.get(log.blockNumber), rec: log.args.reserve_rec, akre: log.args.reserve_akre }));
  }

  async delivery(jobId) {
    const [log] = await this.events("JobMarket", "JobDelivered", { job_id: jobId });
    return log?.args ?? null;
  }

  async settlement(jobId) {
    const [log] = await this.events("JobMarket", "JobSettled", { job_id: jobId });
    return log?.args ?? null;
  }

  // The members who signed the committee's last accepted report of `kind` ("site", "verdict")
  // about `subject` (a site id, a job id): [{ address, endpoint }], or null when none was.
  async attesters(kind, subject) {
    const accepted = await this.events("OracleCommittee", "ReportAccepted", { kind: REPORT_KINDS[kind], subject });
    return accepted.length === 0 ? null : this.members(accepted.at(-1).args.signers);
  }

  // Who attested each of `issued` (RECToken Issued logs): the issuance report accepted in the
  // same transaction (its subject is the report's first issuance id); null for RECs another
  // issuer minted. One array, in the order of `issued`.
  async issuanceAttesters(issued) {
    const accepted = issued.length === 0 ? [] : await this.events("OracleCommittee", "ReportAccepted", { kind: REPORT_KINDS.issuance });
    return Promise.all(issued.map((log) => {
      const reports = accepted.filter((r) => r.transactionHash === log.transactionHash && r.args.subject <= log.args.issuance_id);
      return reports.length === 0 ? null : this.members(reports.at(-1).args.signers);
    }));
  }

  async members(addresses) {
    return Promise.all(addresses.map(async (address) => ({ address, endpoint: await this.read("OracleCommittee", "endpoint_of", [address]) })));
  }

  async myJobs(account) {
    const created = await this.events("JobMarket", "JobCreated", { requester: account });
    const jobs = await Promise.all(created.map(async (log) => ({ id: log.args.job_id, created: log.args,
                                                                 ...(await this.read("JobMarket", "job", [log.args.job_id])) })));
    return jobs.reverse();
  }

  async certificates(account) {
    const retired = await this.events("RECToken", "Retired", { beneficiary: account });
    return Promise.all(retired.map(async (log) => {
      const id = log.args.certificate_id;
      const uri = await this.read("RetirementCertificate", "tokenURI", [id]);
      return { id, uri, metadata: decodeTokenUri(uri) };
    }));
  }

  // Posts a job; with a permit (EIP-2612, signed by the wallet) when the allowance is short.
  async postJob({ offer, prompt, params, maxPrice, minutes, green }) {
    const account = this.account;
    const [balance, allowance, now] = await Promise.all([this.read("AkreToken", "balanceOf", [account]),
      this.read("AkreToken", "allowance", [account, this.addresses.JobMarket]), this.now()]);
    if (balance < maxPrice) return { short: balance };
    const terms = { offer_id: offer.id, model_id: offer.model_id, max_price: maxPrice, min_collateral: 0n,
                    deadline: now + BigInt(minutes * 60), challenge_window: 3600n, green, beneficiary: zeroAddress };
    const receipt = allowance >= maxPrice ? await this.write("JobMarket", "create_job", [terms, prompt, params])
      : await this.write("JobMarket", "create_job_with_permit", [terms, prompt, params, ...await this.permit("JobMarket", maxPrice, now)]);
    const [log] = await this.reader.getContractEvents({ address: this.addresses.JobMarket, abi: JobMarket, eventName: "JobCreated",
                                                        fromBlock: receipt.blockNumber, toBlock: receipt.blockNumber, args: { requester: account } });
    return { jobId: log.args.job_id };
  }

  // The wallet's EIP-2612 permit for `contract` to take `value` AKRE: [deadline, v, r, s].
  async permit(contract, value, now) {
    const account = this.account;
    const deadline = now + PERMIT_VALIDITY_S;
    const nonce = await this.read("AkreToken", "nonces", [account]);
    const signature = await this.writer.signTypedData({
      account,
      domain: { name: "AkreToken", version: "1", chainId: this.config.chain_id, verifyingContract: this.addresses.AkreToken },
      types: { Permit: [{ name: "owner", type: "address" }, { name: "spender", type: "address" },
                        { name: "value", type: "uint256" }, { name: "nonce", type: "uint256" }, { name: "deadline", type: "uint256" }] },
      primaryType: "Permit",
      message: { owner: account, spender: this.addresses[contract], value, nonce, deadline },
    });
    const { r, s, v, yParity } = parseSignature(signature);
    return [deadline, Number(v ?? BigInt(yParity + 27)), r, s];
  }

  // The channels `account` opened (JobChannels), newest first, as they stand.
  async channels(account) {
    const opened = await this.events("JobChannels", "ChannelOpened", { requester: account });
    const found = await Promise.all(opened.map(async (log) => ({ id: log.args.channel_id,
                                                                 ...(await this.read("JobChannels", "channel", [log.args.channel_id])) })));
    return found.reverse();
  }

  // Opens a channel with `siteId` holding `deposit` AKRE: one transaction, with a permit when the allowance is short.
  async openChannel(siteId, deposit) {
    const account = this.account;
    const [balance, allowance, active, now] = await Promise.all([this.read("AkreToken", "balanceOf", [account]),
      this.read("AkreToken", "allowance", [account, this.addresses.JobChannels]), this.read("SiteRegistry", "is_active", [siteId]),
      this.now()]);
    if (!active) throw new Error(`Site ${siteId} is not active: a channel needs a site the registry lets trade.`);
    if (balance < deposit) return { short: balance };
    const receipt = allowance >= deposit ? await this.write("JobChannels", "open_channel", [siteId, deposit, zeroAddress])
      : await this.write("JobChannels", "open_channel_with_permit", [siteId, deposit, zeroAddress, ...await this.permit("JobChannels", deposit, now)]);
    const [log] = await this.reader.getContractEvents({ address: this.addresses.JobChannels, abi: JobChannels, eventName: "ChannelOpened",
                                                        fromBlock: receipt.blockNumber, toBlock: receipt.blockNumber, args: { requester: account } });
    return { channelId: log.args.channel_id };
  }

  // The requester's EIP-712 ResultDownload permission (degen/downloads.py), valid 10 minutes by
  // the clock of the worker that checks it (the wall clock, not the chain's).
  async downloadPermission(jobId) {
    const expiry = BigInt(Math.floor(Date.now() / 1000) + 600);
    const signature = await this.writer.signTypedData({
      account: this.account,
      domain: { name: "DeGEN result download", version: "1", chainId: this.config.chain_id, verifyingContract: this.addresses.JobMarket },
      types: { ResultDownload: [{ name: "job_id", type: "uint256" }, { name: "expiry", type: "uint64" }] },
      primaryType: "ResultDownload",
      message: { job_id: jobId, expiry },
    });
    return { expiry, signature };
  }
}

// A certificate's tokenURI is a data: URI holding JSON (RetirementCertificate.tokenURI).
export function decodeTokenUri(uri) {
  try {
    const [head, body] = uri.split(",", 2);
    const text = head.endsWith(";base64") ? atob(body) : decodeURIComponent(body);
    return JSON.parse(text);
  } catch {
    return null;
  }
}
