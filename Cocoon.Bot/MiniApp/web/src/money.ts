// The balance screen: the balance, Telegram Stars top-up (openInvoice with a link from the gateway), and TON:
// connect a wallet with @tonconnect/ui, prove it with ton_proof (checked by the gateway), top up with
// sendTransaction; the balance refreshes until the deposit watcher credits it.
import { THEME, TonConnectUI } from "@tonconnect/ui";
import { Api, Me, ton } from "./api";
import { clear, h } from "./dom";
import { icon } from "./icons";
import type { Shell } from "./telegram";

export function balanceScreen(api: Api, shell: Shell, me: () => Me | null, refresh: () => Promise<Me>): { el: HTMLElement; shown: () => void } {
  const balance = h("div", { class: "amount", "data-testid": "balance" }, "…");
  const status = h("p", { class: "hint", role: "status", "data-testid": "money-status" });
  const stars = h("div", { class: "chips" });
  const walletLine = h("p", { class: "hint", "data-testid": "wallet" });
  const amount = h("input", { type: "number", min: "0.1", step: "0.1", value: "1", inputmode: "decimal", "aria-label": "TON amount" });
  const payTon = h("button", { class: "primary", "data-testid": "ton-topup", disabled: true }, "Top up with TON");
  const connectRoot = h("div", { id: "ton-connect" });
  let selectedStars = 0;

  function say(text: string, kind: "ok" | "error" | "" = "") { status.textContent = text; status.className = "hint " + kind; }

  function render(m: Me | null) {
    balance.textContent = m ? ton(m.balance_nanotons) : "…";
    walletLine.textContent = m?.wallet ? "Linked wallet: " + short(m.wallet) : "No wallet linked yet.";
  }

  async function buyStars(n: number) {
    try {
      shell.impact();
      const { invoice_link } = await api.starsInvoice(n);
      const result = await shell.openInvoice(invoice_link);
      if (result === "paid") {
        shell.notify("success");
        say("Paid. Your balance updates in a moment.", "ok");
        pollBalance();
      } else {
        say(result === "cancelled" ? "Payment cancelled." : "Payment " + result + ".");
      }
    } catch (e: any) {
      shell.notify("error");
      say(e.message, "error");
    }
  }

  api.starsOptions().then(options => {
    clear(stars, ...options.map(o => h("button", {
      class: "chip", "data-testid": "stars-" + o.stars,
      onClick: () => { selectedStars = o.stars; buyStars(o.stars); },
    }, h("strong", {}, icon("star", 15), ` ${o.stars}`), h("span", {}, ton(o.nanotons, 2)))));
    selectedStars = options[0]?.stars ?? 0;
  }).catch(e => say(e.message, "error"));

  // TON Connect: the manifest is served by this gateway; the proof payload is a gateway nonce.
  let tc: TonConnectUI | null = null;
  async function startTonConnect() {
    if (tc) return;
    try {
      tc = new TonConnectUI({
        manifestUrl: new URL("tonconnect-manifest.json", location.href).toString(),
        buttonRootId: "ton-connect",
        uiPreferences: { theme: shell.isDark ? THEME.DARK : THEME.LIGHT },
      });
    } catch (e: any) {
      say("TON Connect could not start: " + e.message, "error");
      return;
    }

    tc.setConnectRequestParameters({ state: "loading" });
    try {
      const { payload } = await api.proofPayload();
      tc.setConnectRequestParameters({ state: "ready", value: { tonProof: payload } });
    } catch (e: any) {
      tc.setConnectRequestParameters(null);
      say(e.message, "error");
    }

    tc.onStatusChange(async wallet => {
      payTon.disabled = !wallet;
      if (!wallet) return;
      const proof = wallet.connectItems?.tonProof;
      if (proof && "proof" in proof) {
        try {
          const linked = await api.proofCheck({
            address: wallet.account.address,
            network: wallet.account.chain,
            public_key: wallet.account.publicKey,
            walletStateInit: wallet.account.walletStateInit,
            proof: { ...proof.proof, state_init: wallet.account.walletStateInit },
          });
          shell.notify("success");
          say("Wallet verified and linked: " + short(linked.address_friendly), "ok");
          render(await refresh());
        } catch (e: any) {
          shell.notify("error");
          say("The wallet's proof was refused: " + e.message, "error");
        }
      }
    });
  }

  payTon.addEventListener("click", async () => {
    if (!tc?.connected) return;
    const nanotons = Math.round(parseFloat(amount.value || "0") * 1e9);
    try {
      shell.impact("medium");
      const invoice = await api.tonTopUp(nanotons);
      say("Confirm the transfer in your wallet…");
      await tc.sendTransaction(invoice.transaction);
      say(`Sent ${ton(invoice.amount_nanotons)}. It is credited once the chain confirms it.`, "ok");
      pollBalance();
    } catch (e: any) {
      shell.notify("error");
      say(e.message, "error");
    }
  });

  let polling = false;
  async function pollBalance() {
    if (polling) return;
    polling = true;
    const before = me()?.balance_nanotons ?? 0;
    try {
      for (let i = 0; i < 60; i++) {
        await new Promise(r => setTimeout(r, 2000));
        const now = await refresh();
        render(now);
        if (now.balance_nanotons > before) {
          shell.notify("success");
          say(`Credited: +${ton(now.balance_nanotons - before)}.`, "ok");
          return;
        }
      }
    } finally {
      polling = false;
    }
  }

  const el = h("section", { class: "screen balance", "data-screen": "balance" },
    h("div", { class: "card hero" }, h("div", { class: "label" }, "Balance"), balance, walletLine),
    h("h2", {}, "Top up with Telegram Stars"),
    h("div", { class: "card" }, stars, h("p", { class: "hint" }, "Paid inside Telegram; credited right away.")),
    h("h2", {}, "Top up with TON"),
    h("div", { class: "card" },
      connectRoot,
      h("div", { class: "row" }, amount, h("span", { class: "unit" }, "TON"), payTon),
      h("p", { class: "hint" }, "Connect a wallet (you sign a login proof), then send. The balance rises when the deposit is confirmed on chain.")),
    status);

  return {
    el,
    shown() {
      render(me());
      startTonConnect();
      shell.setMainButton(selectedStars ? { text: `Top up ${selectedStars} Stars`, onClick: () => buyStars(selectedStars) } : null);
    },
  };
}

function short(address: string): string {
  return address.length > 16 ? address.slice(0, 6) + "…" + address.slice(-6) : address;
}
