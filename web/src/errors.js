// Every failure becomes one sentence: a rejected request, a revert reason (docs/SPEC.md,
// "Revert reasons"), or what went wrong on the way.

const REASONS = {
  "market: job not open": "This job is no longer open.",
  "market: deadline passed": "The job's deadline has passed.",
  "market: job not delivered": "This job has not been delivered (or was already settled).",
  "market: challenge window open": "Only the requester may settle while the challenge window is open.",
  "market: challenge window closed": "The challenge window has closed: the job can no longer be disputed.",
  "market: not requester": "Only the job's requester can do that.",
  "market: not provider": "Only the offer's provider can do that.",
  "market: not site owner": "Only the site's owner can do that.",
  "market: site not active": "The site is not active (the registrar has not activated it, or suspended it).",
  "market: offer not active": "That offer is closed.",
  "market: offer closed": "That offer is closed.",
  "market: offer not green": "That offer does not serve green jobs.",
  "market: base price above max": "The offer's base price is above your max price.",
  "market: width above offer": "The offer does not serve images that wide.",
  "market: height above offer": "The offer does not serve images that tall.",
  "market: steps above offer": "The offer does not serve that many steps.",
  "market: size not a multiple of 8": "Width and height must be multiples of 8.",
  "market: deadline too soon": "The deadline must be at least a minute away.",
  "market: deadline too far": "The deadline may be at most 30 days away.",
  "market: empty prompt": "Write a prompt first.",
  "market: bad max price": "The max price must be above 0.",
  "market: exceeds free stake": "You cannot withdraw more than your free (unlocked) stake.",
  "market: insufficient stake": "Your free stake does not cover the offer's collateral.",
  "market: zero amount": "Enter an amount above 0.",
  "market: price too large": "That price is too large.",
  "market: collateral too large": "That collateral is too large.",
  "market: bad width": "The width must be a multiple of 8 from 64 to the offer's maximum.",
  "market: bad height": "The height must be a multiple of 8 from 64 to the offer's maximum.",
  "market: bad steps": "The steps must be from 1 to the offer's maximum.",
  "market: guidance too large": "The guidance may be at most 30.",
  "market: bad challenge window": "The challenge window must be from a minute to 7 days.",
  "market: wrong model": "The offer serves another model.",
  "market: wrong offer": "This job was posted to another offer.",
  "market: collateral too low": "The offer's collateral is below the minimum this job asks for.",
  "market: beneficiary without green": "A certificate beneficiary can only be named for a green job.",
  "market: empty model": "Name the model the offer serves.",
  "market: stake too large": "That stake is too large.",
  "market: value too large": "That number is too large.",
  "market: job not accepted": "This job is not accepted (it was delivered already, or never accepted).",
  "market: deadline not passed": "The job's deadline has not passed yet.",
  "market: job not expirable": "Only an accepted job past its deadline can be expired.",
  "market: RECs not approved": "The provider has not let the market retire its RECs for green jobs.",
  "market: provider lacks RECs": "The provider holds too few RECs for this green job.",
  "erc20: insufficient allowance": "The market may not move that much of your AKRE (allowance too low).",
  "erc20: transfer amount exceeds balance": "Your balance is too low for this.",
  "erc20: invalid signature": "The permit signature was not accepted.",
  "erc20: expired deadline": "The permit expired before the transaction was mined.",
  "pool: slippage": "The price moved past your slippage bound: nothing was swapped. Try again or allow more slippage.",
  "pool: expired": "The swap's deadline passed before it was mined: nothing was swapped.",
  "pool: insufficient liquidity": "The pool does not hold enough for that swap.",
  "pool: zero output": "That amount is too small: it would buy nothing.",
  "pool: zero amount": "Enter an amount above 0.",
  "pool: amount too large": "That amount is too large for the pool.",
  "pool: not enough liquidity": "The pool does not hold enough for that swap.",
  "pool: depleted": "The pool is empty: nothing can be swapped until someone adds liquidity.",
  "pool: zero liquidity": "The pool holds no liquidity yet.",
  "pool: first deposit too small": "The pool's first deposit must be larger.",
  "pool: window beyond history": "The pool has too little price history for that window yet.",
  "pool: bad recipient": "The swap's recipient is not allowed.",
  "pausable: contract is paused": "The market is paused by its operator.",
};

// A revert reason as the contracts word it ("pool: slippage"), found in what viem or the wallet
// said ("execution reverted: pool: slippage", a decoded Error(string), or a message).
const REASON = /((?:market|pool|router|rec|registry|certificate|erc20|pausable|access_control|ecdsa): [a-zA-Z0-9 _\-]+)/;

export function reasonOf(error) {
  const said = [];
  for (let e = error; e; e = e.cause) {
    said.push(e.reason, e.data?.errorName === "Error" ? e.data.args?.[0] : null);
  }
  said.push(error?.message ?? String(error));
  for (const text of said) {
    const match = typeof text === "string" && text.match(REASON);
    if (match) return match[1].trim();
  }
  return null;
}

function codeOf(error) {
  for (let e = error; e; e = e.cause) if (typeof e.code === "number") return e.code;
  return null;
}

export function explain(error) {
  if (codeOf(error) === 4001) return "You rejected the request in your wallet: nothing was signed or sent.";
  if (codeOf(error) === 4902) return "Your wallet does not know this chain yet.";
  const reason = reasonOf(error);
  if (reason) return REASONS[reason] ?? `The contract refused: ${reason}.`;
  if (error?.name === "TypeError" && /fetch/i.test(error.message)) return "The server could not be reached.";
  return error?.shortMessage ?? error?.message ?? String(error);
}
