// Browser wallets: EIP-6963 discovery (every wallet that announces itself), window.ethereum as
// the fallback, and the account and chain followed live through EIP-1193 events.

export function discoverWallets(onChange) {
  const wallets = new Map();
  window.addEventListener("eip6963:announceProvider", (event) => {
    const { info, provider } = event.detail ?? {};
    if (!info?.uuid || !provider?.request) return;
    wallets.set(info.uuid, { name: info.name, icon: info.icon, rdns: info.rdns, provider });
    onChange([...wallets.values()]);
  });
  window.dispatchEvent(new Event("eip6963:requestProvider"));
  // A wallet that only injects window.ethereum (no EIP-6963) is offered once none announced.
  setTimeout(() => {
    if (wallets.size === 0 && window.ethereum?.request) {
      wallets.set("injected", { name: "Browser wallet", icon: null, rdns: "injected", provider: window.ethereum });
      onChange([...wallets.values()]);
    }
  }, 300);
  return () => [...wallets.values()];
}

export const hexChain = (id) => `0x${Number(id).toString(16)}`;

export class Wallet {
  constructor(entry, { onAccount, onChain }) {
    this.entry = entry;
    this.provider = entry.provider;
    this.account = null;
    this.chainId = null;
    this.provider.on?.("accountsChanged", (accounts) => { this.account = accounts[0] ?? null; onAccount(this.account); });
    this.provider.on?.("chainChanged", (chainId) => { this.chainId = Number(chainId); onChain(this.chainId); });
  }

  // The account the wallet lets the page see (it asks the user), or, `silent`, the one it
  // already lets it see (no prompt; null when none).
  async connect({ silent = false } = {}) {
    const accounts = await this.provider.request({ method: silent ? "eth_accounts" : "eth_requestAccounts" });
    this.account = accounts[0] ?? null;
    if (!this.account) return null;
    this.chainId = Number(await this.provider.request({ method: "eth_chainId" }));
    return this.account;
  }

  // Asks the wallet to switch to the page's chain, adding it first when the wallet lacks it
  // (with `rpcUrl`, the node the wallet is to send through; null when the page knows none).
  async switchTo(chainId, rpcUrl, name) {
    try {
      await this.provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: hexChain(chainId) }] });
    } catch (error) {
      if (error?.code !== 4902) throw error;
      if (!rpcUrl) throw new Error(`Your wallet does not know chain ${chainId}: add it in the wallet with a JSON-RPC URL of that network.`);
      await this.provider.request({
        method: "wallet_addEthereumChain",
        params: [{ chainId: hexChain(chainId), chainName: name, rpcUrls: [rpcUrl],
                   nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 } }],
      });
    }
    this.chainId = Number(await this.provider.request({ method: "eth_chainId" }));
  }
}
