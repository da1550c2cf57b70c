namespace Cocoon.Bot.MiniApp;

/// <summary>
/// The Mini App page: plain HTML and JS, no build step and nothing loaded from elsewhere. Telegram passes the init
/// data in the launch URL's fragment (<c>#tgWebAppData=…</c>), so the page reads it from there instead of loading
/// Telegram's script. It shows the request a TON Connect wallet would sign; wiring a real wallet needs @tonconnect/ui.
/// </summary>
internal static class MiniAppPage
{
    public const string Html = """
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cocoon</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 1rem; max-width: 40rem; }
  .kind { font-size: .8rem; padding: 0 .4rem; border-radius: .3rem; background: #eee; }
  .kind.tdx { background: #cfc; }
  pre { white-space: pre-wrap; word-break: break-all; background: #f6f6f6; padding: .5rem; }
  .error { color: #b00; }
</style>
</head>
<body>
<h1>Cocoon</h1>
<p id="status">Loading…</p>
<section id="account" hidden>
  <p>Balance: <strong id="balance"></strong> TON</p>
  <p>Wallet: <span id="wallet">not linked</span></p>
</section>
<section>
  <h2>Models and workers</h2>
  <ul id="models"></ul>
</section>
<section>
  <h2>Top up with TON</h2>
  <input id="amount" type="number" min="0.1" step="0.1" value="1"> TON
  <button id="topup">Create top-up</button>
  <p>This page shows the TON Connect <code>sendTransaction</code> request for the invoice; a wallet connection
     (@tonconnect/ui) is not bundled yet, so send it from a wallet using the link below.</p>
  <pre id="request" hidden></pre>
  <p><a id="link" hidden>Open in wallet</a></p>
</section>
<script>
"use strict";
const initData = new URLSearchParams(location.hash.slice(1)).get("tgWebAppData") || "";
const status = document.getElementById("status");
const ton = n => (Number(BigInt(n)) / 1e9).toFixed(4);

async function api(method, path, body) {
  const response = await fetch("api/" + path, {
    method,
    headers: { "Authorization": "tma " + initData, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(json.error ? json.error.message : response.statusText);
  return json;
}

function fail(e) { status.textContent = e.message; status.className = "error"; }

async function load() {
  if (!initData) { fail(new Error("Open this page from the Cocoon bot in Telegram.")); return; }
  const me = await api("GET", "me");
  document.getElementById("balance").textContent = ton(me.balance_nanotons);
  if (me.wallet) document.getElementById("wallet").textContent = me.wallet;
  document.getElementById("account").hidden = false;
  status.textContent = "Hello" + (me.first_name ? ", " + me.first_name : "") + ".";
  const list = document.getElementById("models");
  for (const model of (await api("GET", "workers")).models) {
    const item = document.createElement("li");
    item.textContent = model.name + " ";
    for (const worker of model.workers) {
      const tag = document.createElement("span");
      tag.className = "kind " + worker.attestation_kind;
      tag.textContent = worker.worker_id + ": " + worker.attestation_kind;
      item.append(tag, " ");
    }
    list.append(item);
  }
}

document.getElementById("topup").addEventListener("click", async () => {
  try {
    const tons = document.getElementById("amount").value;
    const [whole, frac = ""] = String(tons).split(".");
    const nanotons = BigInt(whole || "0") * 1000000000n + BigInt((frac + "000000000").slice(0, 9));
    const invoice = await api("POST", "topup/ton", { amount_nanotons: Number(nanotons) });
    const request = document.getElementById("request");
    request.textContent = JSON.stringify(invoice.transaction, null, 2);
    request.hidden = false;
    const link = document.getElementById("link");
    link.href = invoice.transfer_link;
    link.hidden = false;
  } catch (e) { fail(e); }
});

load().catch(fail);
</script>
</body>
</html>
""";
}
