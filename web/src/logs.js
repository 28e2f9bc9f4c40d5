// Event logs as hosted JSON-RPC providers serve them (degen/chain/logs.py does the same for
// the CLI and the daemons): eth_getLogs is capped to a block range and a result count, and
// rate limited. readLogs pages a range, halves a page the node refuses as too large (down to
// one block) and waits out rate limits and timeouts. What was read is kept in localStorage,
// so a visit reads only the blocks since the last one.

const MAX_RANGE = 2000n; // blocks per query
const RETRIES = 6;
const STABLE_DEPTH = 64n; // blocks this far below the head are kept (a reorg may still change newer ones)
const CACHE_PREFIX = "degen.logs.";
const TOO_OFTEN = /rate limit|too many requests|exceeded the quota|capacity|throttl|timed? ?out|does not answer/;
const TOO_MUCH = /more than|block range|range is too|range too|exceed|too large|response size|limit|too many results|max results/;

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const said = (error) => `${error?.details ?? ""} ${error?.shortMessage ?? ""} ${error?.message ?? ""}`.toLowerCase();

export function transient(error) {
  const status = error?.status ?? error?.cause?.status;
  return status === 429 || status >= 500 || TOO_OFTEN.test(said(error));
}

export function tooMuch(error) {
  return !TOO_OFTEN.test(said(error)) && TOO_MUCH.test(said(error));
}

// Everything query(fromBlock, toBlock) answers over [from, to], in block order.
export async function readLogs(query, from, to) {
  const found = [];
  let size = MAX_RANGE;
  while (from <= to) {
    const end = from + size - 1n < to ? from + size - 1n : to;
    try {
      found.push(...await patiently(() => query(from, end)));
      from = end + 1n;
    } catch (error) {
      if (end === from || !(tooMuch(error) || transient(error))) throw error;
      size = (end - from + 1n) / 2n;
    }
  }
  return found;
}

async function patiently(call) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!transient(error) || attempt === RETRIES) throw error;
      await wait(Math.min(8000, 500 * 2 ** attempt));
    }
  }
}

// ---- what this browser read before -------------------------------------------------------

const toJson = (_, value) => (typeof value === "bigint" ? { $big: value.toString() } : value);
const fromJson = (_, value) => (value && typeof value === "object" && typeof value.$big === "string" ? BigInt(value.$big) : value);

export function cacheKey(...parts) {
  return CACHE_PREFIX + JSON.stringify(parts, toJson);
}

// { to, logs }: the logs of blocks up to `to`, or null.
export function readCache(key) {
  try {
    const kept = JSON.parse(localStorage.getItem(key) ?? "null", fromJson);
    return kept && typeof kept.to === "bigint" && Array.isArray(kept.logs) ? kept : null;
  } catch {
    return null; // storage off, or a value this page did not write
  }
}

export function writeCache(key, logs, head) {
  const to = head - STABLE_DEPTH;
  if (to < 0n) return;
  try {
    localStorage.setItem(key, JSON.stringify({ to, logs: logs.filter((log) => log.blockNumber <= to) }, toJson));
  } catch {
    // storage full or off: the next visit reads the chain again
  }
}
