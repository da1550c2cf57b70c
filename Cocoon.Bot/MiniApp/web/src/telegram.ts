// The Telegram shell: launch parameters and init data, theme (Telegram's theme params bound to CSS variables, so
// light and dark follow the user's Telegram), viewport, back button, main button, haptics and invoices, all through
// @telegram-apps/sdk. Each call is guarded: an older Telegram client without a feature keeps working without it.
import {
  backButton, hapticFeedback, init, initData, invoice, isTMA, mainButton, miniApp, retrieveRawInitData, themeParams, viewport,
} from "@telegram-apps/sdk";

function attempt(what: string, fn: () => unknown): void {
  try {
    const result = fn();
    if (result instanceof Promise) result.catch(e => console.warn(`telegram: ${what}:`, e));
  } catch (e) {
    console.warn(`telegram: ${what}:`, e);
  }
}

export interface Shell {
  initData: string;
  isDark: boolean;
  setBack(handler: (() => void) | null): void;
  setMainButton(params: { text: string; onClick: () => void } | null): void;
  impact(style?: "light" | "medium" | "heavy"): void;
  notify(type: "success" | "error" | "warning"): void;
  openInvoice(url: string): Promise<string>;
}

/** Null when the page is not running inside Telegram (no launch parameters): the caller explains instead. */
export function startShell(): Shell | null {
  if (!isTMA()) return null;
  const raw = retrieveRawInitData();
  if (!raw) return null;

  init();
  attempt("init data", () => initData.restore());
  attempt("theme", () => {
    themeParams.mountSync();
    themeParams.bindCssVars();
  });
  attempt("mini app", () => {
    miniApp.mountSync();
    miniApp.bindCssVars();
  });
  attempt("viewport", async () => {
    await viewport.mount();
    viewport.bindCssVars();
    if (!viewport.isExpanded()) viewport.expand();
  });
  attempt("back button", () => backButton.mount());
  attempt("main button", () => mainButton.mount());
  attempt("ready", () => miniApp.ready());

  let back: (() => void) | null = null;
  let main: (() => void) | null = null;
  attempt("back button click", () => backButton.onClick(() => back?.()));
  attempt("main button click", () => mainButton.onClick(() => main?.()));

  const dark = (() => { try { return themeParams.isDark(); } catch { return false; } })();
  return {
    initData: raw,
    isDark: dark,
    setBack(handler) {
      back = handler;
      attempt("back button", () => (handler ? backButton.show() : backButton.hide()));
    },
    setMainButton(params) {
      main = params?.onClick ?? null;
      attempt("main button", () => mainButton.setParams(params
        ? { text: params.text, isVisible: true, isEnabled: true }
        : { isVisible: false }));
    },
    impact(style = "light") { attempt("haptics", () => hapticFeedback.impactOccurred.ifAvailable(style)); },
    notify(type) { attempt("haptics", () => hapticFeedback.notificationOccurred.ifAvailable(type)); },
    async openInvoice(url) {
      if (!invoice.open.isAvailable()) throw new Error("This Telegram version cannot open invoices; use /topup in the bot.");
      return await invoice.open(url, "url");
    },
  };
}
