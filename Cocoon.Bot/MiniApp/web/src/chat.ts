// The chat screen: a conversation kept in this page only (the gateway stores no text), streamed answers from
// POST api/chat (server-sent events), model choice, cost per answer, a stop button, and an honest sealing badge.
import { Api, ApiError, ModelView, ton } from "./api";
import { clear, h } from "./dom";
import { icon } from "./icons";
import { describe, freshNonce, Refused, Reservation, SealedError, sealForWorker, sealingPlan, verifyWorker } from "./seal";
import type { Shell } from "./telegram";

interface Turn { role: "user" | "assistant"; content: string }

export function chatScreen(api: Api, shell: Shell, onSpent: () => void): HTMLElement {
  const turns: Turn[] = [];
  let models: ModelView[] = [];
  let running: AbortController | null = null;

  const select = h("select", { class: "model", "aria-label": "Model" }, h("option", {}, "Loading models…"));
  const badge = h("div", { class: "badge gateway", "data-testid": "seal-badge" }, "Sealed by the gateway");
  const badgeDetail = h("div", { class: "hint" });
  const log = h("div", { class: "messages", "data-testid": "messages" },
    h("div", { class: "empty" }, h("div", { class: "empty-icon" }, icon("chat", 44)), h("p", {}, "Ask anything. Your message goes to an attested worker, sealed; the operators can't read it.")));
  const input = h("textarea", { rows: 1, placeholder: "Message", "aria-label": "Message", "data-testid": "prompt" });
  const send = h("button", { class: "send", "aria-label": "Send", "data-testid": "send" }, "↑");
  const stop = h("button", { class: "stop", hidden: true, "aria-label": "Stop", "data-testid": "stop" }, "■");

  function renderBadge() {
    const model = models.find(m => m.name === select.value);
    const plan = sealingPlan(model?.workers ?? []);
    badge.className = "badge " + plan.by;
    badge.replaceChildren(icon("lock", 13), plan.by === "browser" ? "Sealed in this browser" : "Sealed by the gateway");
    badgeDetail.textContent = plan.detail;
  }

  api.models().then(list => {
    models = list.filter(m => m.workers.length > 0);
    clear(select, ...(models.length ? models.map(m => h("option", { value: m.name }, `${m.name} · ${m.workers.map(w => w.attestation_kind).join(", ")}`)) : [h("option", {}, "No model online")]));
    renderBadge();
  }).catch(e => clear(select, h("option", {}, e.message)));
  select.addEventListener("change", () => { shell.impact(); renderBadge(); });

  function bubble(role: "user" | "assistant", text: string): HTMLElement {
    log.querySelector(".empty")?.remove();
    const el = h("div", { class: "bubble " + role }, h("div", { class: "text" }, text));
    log.append(el);
    el.scrollIntoView({ block: "end" });
    return el;
  }

  function setRunning(controller: AbortController | null) {
    running = controller;
    send.hidden = controller !== null;
    stop.hidden = controller === null;
    input.disabled = controller !== null;
  }

  async function ask() {
    const text = input.value.trim();
    if (!text || running) return;
    shell.impact("medium");
    input.value = "";
    turns.push({ role: "user", content: text });
    bubble("user", text);
    const answer = bubble("assistant", "");
    answer.classList.add("streaming");
    answer.dataset.testid = "answer";
    const body = answer.querySelector(".text")!;
    const controller = new AbortController();
    setRunning(controller);
    let received = "";
    try {
      if (sealingPlan([]).by === "browser") {
        const outcome = await askSealed(controller, text => { received = text; body.textContent = text; answer.scrollIntoView({ block: "end" }); }, answer);
        if (outcome === "answered") { turns.push({ role: "assistant", content: received }); return; }
        // Not sealed here (the reason is on the badge): the gateway seals instead, and the badge says so.
      }
      const response = await fetch("api/chat", {
        method: "POST",
        headers: { Authorization: api.authorization, "Content-Type": "application/json" },
        body: JSON.stringify({ model: select.value || undefined, messages: turns }),
        signal: controller.signal,
      });
      if (!response.ok || !response.body) await Api.read(response);
      for await (const event of serverSentEvents(response.body!)) {
        if (event.type === "piece") {
          received += event.text;
          body.textContent = received;
          answer.scrollIntoView({ block: "end" });
        } else if (event.type === "done") {
          answer.append(h("div", { class: "meta", "data-testid": "answer-meta" },
            `${ton(event.cost_nanotons, 6)} · ${event.prompt_tokens}+${event.completion_tokens} tokens · ${event.attestation_kind} worker · sealed by the ${event.sealed_by}`));
          shell.notify("success");
          onSpent();
        } else if (event.type === "error") {
          throw new ApiError(502, event.code, event.message);
        }
      }
      turns.push({ role: "assistant", content: received });
    } catch (e: any) {
      if (controller.signal.aborted) {
        answer.append(h("div", { class: "meta" }, "Stopped."));
        if (received) turns.push({ role: "assistant", content: received });
        else turns.pop();
        onSpent();
      } else {
        shell.notify("error");
        answer.classList.add("error");
        if (!received) body.textContent = e.message;
        else answer.append(h("div", { class: "meta" }, e.message));
        turns.pop();
      }
    } finally {
      answer.classList.remove("streaming");
      setRunning(null);
      input.focus();
    }
  }

  /**
   * The browser-sealed turn: reserve a worker, verify its attestation here, seal, relay, open. Returns "fallback" (with
   * the reason on the badge) when this browser cannot verify (a gap in the page, not a failed check); a worker whose
   * attestation does not verify is refused and nothing is sent (the badge says why). Gateway errors (funds, busy) are
   * thrown as usual. A retryable relay failure before any text is re-sealed once to another worker: the gateway cannot
   * re-seal a job it never saw, so a new reservation (new request id, new hold) is the only retry; nothing is billed twice.
   */
  async function askSealed(controller: AbortController, show: (text: string) => void, answer: HTMLElement): Promise<"answered" | "fallback"> {
    const headers = { Authorization: api.authorization, "Content-Type": "application/json" };
    const exclude: string[] = [];
    for (let attempt = 0; ; attempt++) {
      // A fresh nonce per reservation: the worker signs a statement over it, so the page knows it is live now.
      const nonce = freshNonce();
      const reserved = await fetch("api/sealed/reserve", {
        method: "POST", headers, body: JSON.stringify({ model: select.value || undefined, exclude_workers: exclude, nonce }), signal: controller.signal,
      });
      if (reserved.status === 503) {
        const failed = await reserved.clone().json().catch(() => ({}));
        // The worker gave no statement over this nonce in time: nothing was reserved; another worker may answer.
        if (failed?.error?.worker_id && failed.error.retryable && attempt < 2) { exclude.push(failed.error.worker_id); continue; }
      }
      const r = await Api.read<Reservation>(reserved);
      let job;
      try {
        const worker = await verifyWorker(r, nonce);
        job = await sealForWorker(r, worker, turns);
        badge.className = "badge browser";
        badge.dataset.state = "verified";
        badge.replaceChildren(icon("lock", 13), describe(worker));
        badgeDetail.textContent = "Only this page and the attested worker can read the message and the answer; the gateway relays ciphertext.";
      } catch (e: any) {
        if (e instanceof Refused) {
          badge.className = "badge refused";
          badge.dataset.state = "refused";
          badge.replaceChildren(icon("lock", 13), `Refused worker ${r.worker_id.slice(0, 16)}: its attestation does not verify`);
          badgeDetail.textContent = `This page checked the worker's attestation and it failed: ${e.message}. Your message was not sent, to this worker or the gateway.`;
          throw new ApiError(0, "attestation_refused", `Not sent: the worker's attestation does not verify (${e.message}).`);
        }
        badge.className = "badge gateway";
        badge.dataset.state = "gateway";
        badge.replaceChildren(icon("lock", 13), "Sealed by the gateway (not in this browser)");
        badgeDetail.textContent = `This browser could not seal to a verified worker: ${e?.message ?? e}. The gateway seals to the worker's attested key instead.`;
        return "fallback";
      }
      const response = await fetch("api/sealed/chat", { method: "POST", headers, body: job.body, signal: controller.signal });
      let failure: SealedError | null = null;
      if (!response.ok || !response.body) {
        const failed = await response.json().catch(() => ({}));
        if (!failed?.error?.worker_id) throw new ApiError(response.status, failed?.error?.code ?? "http_" + response.status, failed?.error?.message ?? `The gateway answered ${response.status}.`);
        failure = failed.error;
      }
      let text = "";
      if (!failure) {
        for await (const event of serverSentEvents(response.body!)) {
          if (event.error) { failure = event.error; continue; }
          if (event.receipt_json) {
            const u = event.usage;
            const receipt: string = event.receipt_json;
            answer.append(h("div", { class: "meta", "data-testid": "answer-meta" },
              `${ton(u.total_cost, 6)} · ${u.prompt_tokens}+${u.completion_tokens} tokens · sealed in this browser, receipt signed by the worker`));
            // One tap: the page checks the receipt itself, with the bytes only it holds.
            const verify = h("button", { class: "link", "data-testid": "verify-answer", type: "button" }, "Verify this answer") as HTMLButtonElement;
            verify.addEventListener("click", async () => {
              verify.disabled = true;
              const lines = await job.checkReceipt(receipt);
              const all = lines.every(l => l.ok);
              const anchorView = h("div", { class: "meta", "data-testid": "anchor-check", "data-state": "pending" }, "Looking for the receipt's anchor on TON…");
              verify.replaceWith(h("div", { class: all ? "meta verified" : "meta error", "data-testid": "receipt-check", "data-ok": String(all) },
                ...lines.map(l => h("div", {}, `${l.ok ? "✔" : "✘"} ${l.name}`))), anchorView);
              await watchAnchor(api, r.request_id, receipt, anchorView);
            });
            answer.append(verify);
            shell.notify("success");
            onSpent();
            continue;
          }
          text += await job.open(event);
          show(text);
        }
      }
      if (!failure) return "answered";
      // Only this page can tell whether a refusal is the worker's: its MAC is keyed from this page's HPKE context.
      const who = await job.authentic(failure) ? "the worker refused" : "the attempt failed";
      if (failure.retryable && attempt === 0 && !text) { exclude.push(failure.worker_id); continue; }
      throw new ApiError(502, failure.code, `Not answered: ${who} (${failure.code}); nothing was charged.`);
    }
  }

  send.addEventListener("click", ask);
  stop.addEventListener("click", () => { shell.impact("heavy"); running?.abort(); });
  input.addEventListener("keydown", e => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); ask(); } });
  input.addEventListener("input", () => { input.style.height = "auto"; input.style.height = Math.min(input.scrollHeight, 140) + "px"; });

  return h("section", { class: "screen chat", "data-screen": "chat" },
    h("div", { class: "chat-head" }, select, h("div", { class: "seal" }, badge, badgeDetail)),
    log,
    h("div", { class: "composer" }, input, send, stop));
}

/**
 * Shows the anchor check and repeats it while the receipt waits for its batch (every 3 s, for up to 10 minutes): the
 * user sees progress instead of a dead end, and the final state (on TON, failed, or not readable from this browser).
 */
async function watchAnchor(api: Api, requestId: string, receipt: string, view: HTMLElement): Promise<void> {
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    let state: string, lines: { name: string; ok: boolean }[] = [], note: string;
    try {
      const document = await api.call<any>("GET", "receipts/" + encodeURIComponent(requestId));
      // Loaded on the first tap only: the BoC reader (@ton/core) is most of its size.
      const { checkAnchor } = await import("./anchor");
      ({ state, lines, note } = await checkAnchor(receipt, document));
    } catch (e: any) {
      state = "unavailable";
      note = `Could not fetch the receipt (${e?.message ?? e}).`;
    }
    view.dataset.state = state;
    view.className = state === "ok" ? "meta verified" : state === "failed" ? "meta error" : "meta";
    view.replaceChildren(...lines.map(l => h("div", {}, `${l.ok ? "✔" : "✘"} ${l.name}`)), h("div", {}, note));
    if (state !== "pending" || Date.now() > deadline) return;
    await new Promise(resolve => setTimeout(resolve, 3000));
  }
}

/** The JSON of each `data:` event of a server-sent event stream, in order (the closing `[DONE]` is not an event). */
async function* serverSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<any> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (line.startsWith("data: ") && line !== "data: [DONE]") yield JSON.parse(line.slice(6));
    }
  }
}
