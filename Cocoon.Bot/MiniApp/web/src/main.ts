// Cocoon's Mini App: the Telegram shell, a header with the balance, four screens (Chat, Balance, Usage, Provider)
// behind a bottom tab bar, and, outside Telegram, a page that says what this is and how to open it.
import "./styles.css";
import { Api, ApiError, Me, ton } from "./api";
import { chatScreen } from "./chat";
import { providerScreen, usageScreen } from "./charts";
import { clear, h } from "./dom";
import { balanceScreen } from "./money";
import { icon } from "./icons";
import { startShell } from "./telegram";

const app = document.getElementById("app")!;

function outsideTelegram(): void {
  document.documentElement.classList.add("standalone");
  clear(app, h("main", { class: "outside", "data-testid": "outside" },
    h("img", { src: "icon.svg", alt: "", class: "logo" }),
    h("h1", {}, "Cocoon"),
    h("p", { class: "lead" }, "Private AI answers from attested GPUs, paid with Telegram Stars or TON."),
    h("div", { class: "card" },
      h("h2", {}, "Open it in Telegram"),
      h("p", {}, "This is a Telegram Mini App: it knows who you are from the data Telegram signs when it opens the app, so it does not work in a plain browser."),
      h("ol", {},
        h("li", {}, "Open the Cocoon bot in Telegram."),
        h("li", {}, "Tap the menu button next to the message field (or send /topup and choose the Mini App)."),
        h("li", {}, "Chat, top up and see your usage there."))),
    h("p", { class: "hint" }, "Running a gateway? Point the bot's menu button at this page's address (Telegram:MiniAppUrl).")));
  app.classList.remove("loading");
}

async function main(): Promise<void> {
  const shell = startShell();
  if (!shell) {
    outsideTelegram();
    return;
  }

  const api = new Api(shell.initData);
  let me: Me | null = null;
  const headerBalance = h("button", { class: "balance-pill", "data-testid": "header-balance" }, "…");
  const hello = h("div", { class: "hello" }, "Cocoon");
  const refresh = async () => {
    me = await api.me();
    headerBalance.textContent = ton(me.balance_nanotons, 3);
    hello.textContent = me.first_name ? `Hi, ${me.first_name}` : "Cocoon";
    return me;
  };

  const chat = chatScreen(api, shell, () => { refresh().catch(() => {}); });
  const balance = balanceScreen(api, shell, () => me, refresh);
  const usage = usageScreen(api);
  const provider = providerScreen(api);
  const screens: Record<string, { el: HTMLElement; shown?: () => void; title: string }> = {
    chat: { el: chat, title: "Chat" },
    balance: { ...balance, title: "Balance" },
    usage: { ...usage, title: "Usage" },
    provider: { ...provider, title: "Provider" },
  };

  const tabs = h("nav", { class: "tabs" });
  const content = h("div", { class: "content" });
  function show(name: string) {
    for (const [key, screen] of Object.entries(screens)) screen.el.hidden = key !== name;
    for (const tab of tabs.querySelectorAll("button")) tab.classList.toggle("active", tab.dataset.tab === name);
    document.documentElement.dataset.active = name;
    shell.setBack(name === "chat" ? null : () => show("chat"));
    if (name !== "balance") shell.setMainButton(null);
    screens[name].shown?.();
  }
  for (const [key, screen] of Object.entries(screens)) {
    content.append(screen.el);
    tabs.append(h("button", { dataset: { tab: key }, "data-testid": "tab-" + key, onClick: () => { shell.impact(); show(key); } },
      icon(key), h("span", {}, screen.title)));
  }
  headerBalance.addEventListener("click", () => show("balance"));

  clear(app, h("header", { class: "top" }, hello, headerBalance), content, tabs);
  app.classList.remove("loading");
  const start = new URLSearchParams(location.search).get("screen");
  show(start && start in screens ? start : "chat");
  try {
    await refresh();
  } catch (e) {
    const message = e instanceof ApiError && e.status === 401
      ? "Telegram's sign-in data was refused (" + e.message + "). Close the app and open it again from the bot."
      : (e as Error).message;
    clear(app, h("main", { class: "outside" }, h("h1", {}, "Can't open Cocoon"), h("p", { class: "lead", "data-testid": "fatal" }, message)));
  }
}

main().catch(e => {
  clear(app, h("main", { class: "outside" }, h("h1", {}, "Something went wrong"), h("p", { class: "lead" }, String(e?.message ?? e))));
  app.classList.remove("loading");
});
