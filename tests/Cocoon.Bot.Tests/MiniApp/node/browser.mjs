// Drives Debian's chromium (headless, through playwright-core; no browser download) through the Mini App as a
// Telegram user would. stdin: {"url": ".../miniapp/", "initData": "..."?, "flow": "outside" | "tour" | "chat" | "stop" | "tampered" | "wallet",
// "prompt": "..."?, "screenshots": "<folder>"}. Inside "Telegram" the page gets the launch parameters Telegram puts
// in the URL fragment and a TelegramWebviewProxy (as Telegram's mobile clients inject) that records the events the
// page posts and answers viewport and theme requests. stdout: one JSON object with what the page showed.
import { chromium } from "playwright-core";
import { mkdtemp, mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestWallet, injectedBridge } from "./test-wallet.mjs";

const input = JSON.parse(await new Promise(resolve => {
  let text = "";
  process.stdin.on("data", chunk => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));

// Telegram's own palettes (the iOS client's day and night themes).
const themes = {
  light: {
    bg_color: "#ffffff", text_color: "#000000", hint_color: "#8e8e93", link_color: "#007aff", button_color: "#007aff",
    button_text_color: "#ffffff", secondary_bg_color: "#efeff4", header_bg_color: "#f7f7f7", accent_text_color: "#007aff",
    section_bg_color: "#ffffff", section_header_text_color: "#6d6d72", subtitle_text_color: "#8e8e93",
    destructive_text_color: "#ff3b30", section_separator_color: "#c8c7cc", bottom_bar_bg_color: "#f2f2f2",
  },
  dark: {
    bg_color: "#000000", text_color: "#ffffff", hint_color: "#98989e", link_color: "#3e88f7", button_color: "#3e88f7",
    button_text_color: "#ffffff", secondary_bg_color: "#1c1c1d", header_bg_color: "#1a1a1a", accent_text_color: "#3e88f7",
    section_bg_color: "#2c2c2e", section_header_text_color: "#8d8e93", subtitle_text_color: "#98989e",
    destructive_text_color: "#eb5545", section_separator_color: "#3d3d41", bottom_bar_bg_color: "#1d1d1d",
  },
};

function launchUrl(theme) {
  const params = new URLSearchParams({
    tgWebAppData: input.initData,
    tgWebAppVersion: "8.0",
    tgWebAppPlatform: "ios",
    tgWebAppThemeParams: JSON.stringify(themes[theme]),
  });
  return input.url + "#" + params.toString();
}

// Runs in the page before its scripts: the native side of Telegram's bridge.
function telegramWebview(theme) {
  window.__tgEvents = [];
  const answer = (type, data) => setTimeout(() => window.Telegram?.WebView?.receiveEvent?.(type, data), 0);
  window.TelegramWebviewProxy = {
    postEvent(type, json) {
      const data = json ? JSON.parse(json) : undefined;
      window.__tgEvents.push({ type, data });
      if (type === "web_app_request_viewport") {
        answer("viewport_changed", { height: window.innerHeight, width: window.innerWidth, is_expanded: true, is_state_stable: true });
      } else if (type === "web_app_request_theme") {
        answer("theme_changed", { theme_params: theme });
      } else if (type === "web_app_request_safe_area" || type === "web_app_request_content_safe_area") {
        answer(type === "web_app_request_safe_area" ? "safe_area_changed" : "content_safe_area_changed", { top: 0, bottom: 0, left: 0, right: 0 });
      } else if (type === "web_app_open_invoice") {
        answer("invoice_closed", { slug: data.slug, status: "cancelled" });
      }
    },
  };
}

const profile = await mkdtemp(join(tmpdir(), "cocoon-chromium-"));
const result = { screenshots: [], console: [] };
let context;
try {
  await mkdir(input.screenshots, { recursive: true });
  context = await chromium.launchPersistentContext(profile, {
    executablePath: input.executablePath || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
    viewport: { width: 390, height: 780 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });

  async function open(theme, inTelegram, before) {
    const page = await context.newPage();
    if (before) await before(page);
    page.on("console", m => { if (m.type() === "error") result.console.push(m.text()); });
    page.on("pageerror", e => result.console.push("pageerror: " + e.message));
    await page.emulateMedia({ colorScheme: theme });
    if (inTelegram) await page.addInitScript(telegramWebview, themes[theme]);
    await page.goto(inTelegram ? launchUrl(theme) : input.url, { waitUntil: "load" });
    return page;
  }

  async function shot(page, name) {
    const path = join(input.screenshots, name + ".png");
    await page.screenshot({ path });
    result.screenshots.push(path);
  }

  if (input.flow === "outside") {
    for (const theme of ["light", "dark"]) {
      const page = await open(theme, false);
      await page.getByTestId("outside").waitFor();
      result.outsideText = await page.getByTestId("outside").innerText();
      await shot(page, `outside-${theme}`);
      await page.close();
    }
  } else if (input.flow === "tour") {
    result.themes = {};
    for (const theme of ["light", "dark"]) {
      const page = await open(theme, true);
      const pill = page.getByTestId("header-balance");
      await page.waitForFunction(() => /TON/.test(document.querySelector("[data-testid=header-balance]")?.textContent ?? ""));
      await page.locator("select.model option[value]").first().waitFor({ state: "attached" });
      const seen = { headerBalance: await pill.innerText(), background: await page.evaluate(() => getComputedStyle(document.body).backgroundColor) };
      await shot(page, `chat-${theme}`);
      await page.getByTestId("tab-balance").click();
      await page.getByTestId("stars-50").waitFor();
      seen.balance = await page.getByTestId("balance").innerText();
      await page.locator("#ton-connect button").first().waitFor({ timeout: 20000 }).catch(() => {});
      await shot(page, `balance-${theme}`);
      await page.getByTestId("tab-usage").click();
      await page.locator("[data-testid=usage-chart] canvas").waitFor();
      seen.usageText = await page.locator("[data-screen=usage]").innerText();
      await shot(page, `usage-${theme}`);
      await page.getByTestId("tab-provider").click();
      await page.locator("[data-screen=provider] .card").first().waitFor();
      seen.providerText = await page.locator("[data-screen=provider]").innerText();
      await shot(page, `provider-${theme}`);
      seen.bodyText = await page.locator("body").innerText();
      seen.events = (await page.evaluate(() => window.__tgEvents)).map(e => e.type);
      result.themes[theme] = seen;
      await page.close();
    }
  } else if (input.flow === "chat") {
    const page = await open("light", true);
    await page.locator("select.model option[value]").first().waitFor({ state: "attached" });
    // Count the distinct texts the answer bubble shows while it streams.
    await page.evaluate(() => {
      window.__answerStates = [];
      new MutationObserver(() => {
        const text = document.querySelector("[data-testid=answer] .text")?.textContent ?? "";
        if (text && window.__answerStates[window.__answerStates.length - 1] !== text) window.__answerStates.push(text);
      }).observe(document.querySelector("[data-testid=messages]"), { subtree: true, childList: true, characterData: true });
    });
    await page.getByTestId("prompt").fill(input.prompt);
    await page.getByTestId("send").click();
    await page.getByTestId("stop").waitFor({ state: "visible" });
    result.stopShownWhileStreaming = true;
    await page.getByTestId("answer-meta").waitFor({ timeout: 120000 });
    result.answer = await page.locator("[data-testid=answer] .text").innerText();
    result.meta = await page.getByTestId("answer-meta").innerText();
    result.badge = await page.getByTestId("seal-badge").innerText();
    result.answerStates = await page.evaluate(() => window.__answerStates.length);
    // One tap verifies the answer in the page: the receipt's signature and the hashes only the page can recompute.
    await page.getByTestId("verify-answer").click();
    await page.getByTestId("receipt-check").waitFor();
    result.receiptCheck = await page.getByTestId("receipt-check").innerText();
    result.receiptOk = await page.getByTestId("receipt-check").getAttribute("data-ok");
    // The anchor: pending until the gateway's next batch is on the chain, then read from the chain by the page.
    result.anchorFirstText = await page.getByTestId("anchor-check").innerText();
    await page.waitForFunction(() => document.querySelector("[data-testid=anchor-check]")?.getAttribute("data-state") !== "pending", null, { timeout: 90_000 });
    result.anchorState = await page.getByTestId("anchor-check").getAttribute("data-state");
    result.anchorText = await page.getByTestId("anchor-check").innerText();
    await page.waitForFunction(() => /TON/.test(document.querySelector("[data-testid=header-balance]")?.textContent ?? ""));
    result.headerBalance = await page.getByTestId("header-balance").innerText();
    await shot(page, "chat-answered-light");
    await page.close();
  } else if (input.flow === "stop") {
    // A sealed answer that is still streaming, stopped with the stop button.
    const page = await open("light", true);
    await page.locator("select.model option[value]").first().waitFor({ state: "attached" });
    await page.getByTestId("prompt").fill(input.prompt);
    await page.getByTestId("send").click();
    await page.waitForFunction(() => /a time/.test(document.querySelector("[data-testid=answer] .text")?.textContent ?? ""));
    result.badge = await page.getByTestId("seal-badge").innerText();
    result.badgeState = await page.getByTestId("seal-badge").getAttribute("data-state");
    result.streamed = await page.locator("[data-testid=answer] .text").innerText();
    await shot(page, "chat-sealed-streaming-light");
    await page.getByTestId("stop").click();
    await page.locator("[data-testid=answer] .meta").filter({ hasText: "Stopped." }).waitFor();
    result.sendVisibleAgain = await page.getByTestId("send").isVisible();
    result.answer = await page.locator("[data-testid=answer]").innerText();
    await page.close();
  } else if (input.flow === "tampered") {
    // Whoever hands the page a worker's attestation (the gateway, or anything between) alters it: once the document
    // itself (another HPKE key inside, so the worker's signature no longer covers it), once the key the reservation
    // names beside a genuine document, once the worker's statement (a genuine one, replayed from an earlier
    // reservation's nonce). The page must refuse all three and send the prompt nowhere.
    const page = await open("light", true);
    const sent = [];
    page.on("request", r => { if (/\/api\/(sealed\/chat|chat)$/.test(new URL(r.url()).pathname)) sent.push(r.url()); });
    let mode = "document";
    let earlierStatement = null;
    await page.route("**/api/sealed/reserve", async route => {
      const response = await route.fetch();
      const reservation = await response.json();
      const attacker = Buffer.alloc(32, 7).toString("base64");
      if (mode === "statement") {
        reservation.statement = earlierStatement;
      } else if (mode === "document") {
        earlierStatement = reservation.statement;
        const doc = JSON.parse(Buffer.from(reservation.attestation.document, "base64").toString("utf8"));
        doc.hpkePublicKey = attacker;
        reservation.attestation.document = Buffer.from(JSON.stringify(doc)).toString("base64");
        reservation.hpke_public_key = Buffer.alloc(32, 7).toString("hex");
      } else {
        reservation.hpke_public_key = Buffer.alloc(32, 7).toString("hex");
      }
      await route.fulfill({ response, json: reservation });
    });
    await page.locator("select.model option[value]").first().waitFor({ state: "attached" });
    result.refusals = [];
    for (const m of ["document", "key", "statement"]) {
      mode = m;
      await page.getByTestId("prompt").fill(input.prompt);
      await page.getByTestId("send").click();
      await page.locator("[data-testid=seal-badge][data-state=refused]").waitFor();
      await page.locator("[data-testid=answer].error").last().waitFor();
      result.refusals.push({
        mode: m,
        badge: await page.getByTestId("seal-badge").innerText(),
        detail: await page.locator(".seal .hint").innerText(),
        answer: await page.locator("[data-testid=answer].error").last().innerText(),
      });
      await page.getByTestId("send").waitFor({ state: "visible" });
      if (m === "document") await shot(page, "chat-refused-worker-light");
      // The next turn starts from a clean badge state so the second wait sees its own refusal.
      await page.evaluate(() => document.querySelector("[data-testid=seal-badge]").removeAttribute("data-state"));
    }
    result.sent = sent;
    await page.close();
  } else if (input.flow === "wallet") {
    // TON Connect for real: @tonconnect/ui in the page finds the injected test wallet (window.tonkeeper.tonconnect,
    // as an in-wallet browser injects it), connects with a ton_proof the gateway checks, and sends the top-up, which
    // the wallet signs (v5r1) and sends to the local chain; the page shows the balance once the deposit watcher credits it.
    const wallet = await createTestWallet(input.chainUrl);
    result.walletAddress = wallet.address;
    const page = await open("light", true, async p => {
      await p.exposeFunction("__walletConnect", request => wallet.connect(request));
      await p.exposeFunction("__walletSend", params => wallet.sendTransaction(params));
      await p.addInitScript(injectedBridge);
    });
    await page.waitForFunction(() => /TON/.test(document.querySelector("[data-testid=header-balance]")?.textContent ?? ""));
    await page.getByTestId("tab-balance").click();
    await page.waitForFunction(() => /TON/.test(document.querySelector("[data-testid=balance]")?.textContent ?? ""));
    result.balanceBefore = await page.getByTestId("balance").innerText();
    const connect = page.locator("#ton-connect button").first();
    await connect.waitFor({ timeout: 30000 });
    await connect.click();
    // An embedded wallet connects at once; otherwise the modal lists it among the injected wallets.
    const linked = page.getByTestId("money-status").filter({ hasText: "Wallet verified and linked" });
    const listed = page.getByText("Tonkeeper").first();
    // The modal lists injected wallets among all wallets: open the full list if it is not on the first screen.
    const all = page.getByText(/View all/).first();
    const first = await Promise.race([
      linked.waitFor({ timeout: 30000 }).then(() => "linked"),
      listed.waitFor({ timeout: 30000 }).then(() => "listed"),
      all.waitFor({ timeout: 30000 }).then(() => "all"),
    ]).catch(() => "none");
    result.connectPath = [first];
    if (first === "all" && !(await listed.isVisible())) { await all.click(); await listed.waitFor({ timeout: 15000 }).catch(() => {}); result.connectPath.push("all-wallets"); }
    if (first !== "linked" && await listed.isVisible()) { await listed.click(); result.connectPath.push("clicked-wallet"); }
    try {
      await linked.waitFor({ timeout: 30000 });
    } catch (e) {
      result.walletCalls = wallet.calls;
      result.modalText = await page.locator("body").innerText().catch(() => null);
      result.status = await page.getByTestId("money-status").innerText().catch(() => null);
      await shot(page, "wallet-debug");
      throw new Error(`not linked: ${JSON.stringify({ path: result.connectPath, calls: wallet.calls, status: result.status, modal: result.modalText?.slice(-600) })}`);
    }
    result.linkedStatus = await page.getByTestId("money-status").innerText();
    result.walletLine = await page.getByTestId("wallet").innerText();
    await shot(page, "balance-wallet-linked-light");
    await page.getByLabel("TON amount").fill(String(input.amountTon ?? 2));
    await page.getByTestId("ton-topup").click({ force: true });
    await page.getByTestId("money-status").filter({ hasText: /Credited: \+/ }).waitFor({ timeout: 150000 });
    result.creditedStatus = await page.getByTestId("money-status").innerText();
    result.balanceAfter = await page.getByTestId("balance").innerText();
    result.sent = wallet.sent;
    await shot(page, "balance-ton-credited-light");
    await page.close();
  } else {
    throw new Error("unknown flow " + input.flow);
  }
  process.stdout.write(JSON.stringify(result));
} catch (e) {
  result.error = String(e && e.stack || e);
  process.stdout.write(JSON.stringify(result));
  process.exitCode = 2;
} finally {
  await context?.close().catch(() => {});
  await rm(profile, { recursive: true, force: true });
}
