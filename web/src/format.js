// Units as the CLI prints them: AKRE has 18 decimals, RECs 6 (1 REC = 1 kWh = 10^6 mWh).
import { formatUnits, parseUnits } from "viem";

export const akre = (amount) => `${trim(formatUnits(amount, 18))} AKRE`;
export const parseAkre = (text) => parseUnits(String(text).trim(), 18);
export const rec = (mwh) => `${trim(formatUnits(mwh, 6))} REC`;
export const lp = (units) => `${trim(formatUnits(units, 12))} DGLP`; // the pool's LP token has 12 decimals
export const energy = (mwh) => `${Number(mwh).toLocaleString("en-US")} mWh`;
export const count = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;
export const short = (address) => `${address.slice(0, 6)}…${address.slice(-4)}`;
// Oracle committee members as the page names them: a short address and the host they serve at.
export const memberNames = (members) => members.map(({ address, endpoint }) => `${short(address)}${hostOf(endpoint)}`).join(", ");
export const time = (seconds) => new Date(Number(seconds) * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";

function hostOf(endpoint) {
  try {
    return ` (${new URL(endpoint).host})`;
  } catch {
    return ""; // no endpoint published, or not a URL
  }
}

function trim(decimal) {
  const [whole, fraction = ""] = decimal.split(".");
  const digits = fraction.slice(0, 6).replace(/0+$/, "");
  return digits ? `${whole}.${digits}` : whole;
}

// JobState is a Vyper flag: one bit per state.
export const JOB_STATES = { 1: "open", 2: "accepted", 4: "delivered", 8: "settled", 16: "cancelled", 32: "expired", 64: "disputed", 128: "refunded" };
export const SITE_STATUSES = { 1: "pending", 2: "active", 4: "suspended" };
export const stateName = (state) => JOB_STATES[Number(state)] ?? `state ${state}`;
