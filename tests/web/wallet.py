"""A test wallet for the page: an EIP-1193 provider injected into the page before its scripts
run, announced over EIP-6963, whose every request is answered here in Python (Playwright's
`expose_function`) with a real private key: transactions are signed with eth-account and sent
raw to anvil, typed data is signed as `eth_signTypedData_v4` does, reads go to the node. No
contract call and no HTTP request of the page is mocked. `reject` makes it refuse the next
request of a method as a user would (EIP-1193 code 4001); `front_run` lets another account's
transaction in just before the page's; `chain_id` is the chain it is on."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import requests
from eth_account import Account

INJECTED = """
((bridge, info) => {
  const listeners = {};
  const provider = {
    async request({ method, params }) {
      const answer = JSON.parse(await window[bridge](JSON.stringify({ method, params: params ?? [] })));
      for (const [event, value] of answer.emit ?? []) setTimeout(() => (listeners[event] ?? []).forEach((fn) => fn(value)));
      if (answer.error) { const error = new Error(answer.error.message); error.code = answer.error.code; throw error; }
      return answer.result;
    },
    on(event, fn) { (listeners[event] ??= []).push(fn); return provider; },
    removeListener(event, fn) { listeners[event] = (listeners[event] ?? []).filter((f) => f !== fn); return provider; },
  };
  const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail: Object.freeze({ info, provider }) }));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
})(%s, %s);
"""
ICON = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 1 1'%3E%3Crect width='1' height='1' fill='green'/%3E%3C/svg%3E"

REJECTED = {"code": 4001, "message": "User rejected the request."}


class TestWallet:
    __test__ = False  # not a test class

    def __init__(self, private_key: str, rpc_url: str, node_chain_id: int, chain_id: int | None = None, name: str = "Test Wallet"):
        self.account = Account.from_key(private_key)
        self.name = name
        self.slug = "".join(c for c in name.lower() if c.isalnum())
        self.rpc_url, self.node_chain_id = rpc_url, node_chain_id
        self.chain_id = node_chain_id if chain_id is None else chain_id
        self.rejecting: set[str] = set()
        self.front_runs: dict[str, Callable[[], object]] = {}  # lowercase address -> what runs before the next transaction to it
        self.requests: list[str] = []  # every method the page asked, in order

    @property
    def address(self) -> str:
        return self.account.address

    def install(self, page) -> None:
        """Injects the provider and announces it as `name` (several wallets may share a page)."""
        bridge = f"__degenWallet_{self.slug}"
        info = {"uuid": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{self.slug}.degen.org")), "name": self.name,
                "rdns": f"org.degen.{self.slug}", "icon": ICON}
        page.expose_function(bridge, self.answer)
        page.add_init_script(INJECTED % (json.dumps(bridge), json.dumps(info)))

    def reject(self, method: str) -> None:
        self.rejecting.add(method)

    def front_run(self, address: str, action) -> None:
        """Runs `action` (someone else's transaction) once, just before the wallet sends the
        page's next transaction to `address`: what the page signed meets a chain that moved."""
        self.front_runs[address.lower()] = action

    def _node(self, method: str, params: list):
        answer = requests.post(self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=30).json()
        if "error" in answer:
            raise WalletError(answer["error"])
        return answer["result"]

    def answer(self, request: str) -> str:
        call = json.loads(request)
        method, params = call["method"], call["params"]
        self.requests.append(method)
        if method in self.rejecting:
            self.rejecting.discard(method)
            return json.dumps({"error": REJECTED})
        try:
            return json.dumps(self._handle(method, params))
        except WalletError as exc:
            return json.dumps({"error": exc.args[0]})

    def _handle(self, method: str, params: list) -> dict:
        if method in ("eth_requestAccounts", "eth_accounts"):
            return {"result": [self.address]}
        if method == "eth_chainId":
            return {"result": hex(self.chain_id)}
        if method == "wallet_switchEthereumChain":
            wanted = int(params[0]["chainId"], 16)
            if wanted != self.node_chain_id:
                return {"error": {"code": 4902, "message": f"Unrecognized chain {wanted}"}}
            self.chain_id = wanted
            return {"result": None, "emit": [["chainChanged", hex(wanted)]]}
        if method == "eth_sendTransaction":
            return {"result": self._send(params[0])}
        if method == "eth_signTypedData_v4":
            signed = self.account.sign_typed_data(full_message=json.loads(params[1]))
            return {"result": "0x" + signed.signature.hex().removeprefix("0x")}
        return {"result": self._node(method, params)}

    def _send(self, tx: dict) -> str:
        if self.chain_id != self.node_chain_id:
            raise WalletError({"code": -32000, "message": "the wallet is on another chain"})
        if action := self.front_runs.pop(tx["to"].lower(), None):
            action()
        base = {"from": self.address, "to": tx["to"], "data": tx.get("data", "0x"), "value": tx.get("value", "0x0")}
        gas = int(tx.get("gas") or self._node("eth_estimateGas", [base]), 16)
        price = int(self._node("eth_gasPrice", []), 16)
        signed = self.account.sign_transaction({
            "chainId": self.chain_id, "nonce": int(self._node("eth_getTransactionCount", [self.address, "pending"]), 16),
            "to": tx["to"], "data": base["data"], "value": int(base["value"], 16), "gas": gas + gas // 5,
            "maxFeePerGas": price * 2 + 10**9, "maxPriorityFeePerGas": 10**9,
        })
        return self._node("eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex().removeprefix("0x")])


class WalletError(Exception):
    """A JSON-RPC error the wallet answers with."""
