// The chat screen: a conversation kept in this page only (the gateway stores no text), streamed answers from
// POST api/chat (server-sent events), model choice, cost per answer, a stop button, and an honest sealing badge.
import { Api, ApiError, ModelView, ton } from "./api";
import { clear, h } from "./dom";
import { icon } from "./icons";
import { sealingPlan } from "./seal";
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
      const response = await fetch("api/chat", {
        method: "POST",
        headers: { Authorization: api.authorization, "Content-Type": "application/json" },
        body: JSON.stringify({ model: select.value || undefined, messages: turns }),
        signal: controller.signal,
      });
      if (!response.ok || !response.body) await Api.read(response);
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const line = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!line.startsWith("data: ")) continue;
          const event = JSON.parse(line.slice(6));
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

  send.addEventListener("click", ask);
  stop.addEventListener("click", () => { shell.impact("heavy"); running?.abort(); });
  input.addEventListener("keydown", e => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); ask(); } });
  input.addEventListener("input", () => { input.style.height = "auto"; input.style.height = Math.min(input.scrollHeight, 140) + "px"; });

  return h("section", { class: "screen chat", "data-screen": "chat" },
    h("div", { class: "chat-head" }, select, h("div", { class: "seal" }, badge, badgeDetail)),
    log,
    h("div", { class: "composer" }, input, send, stop));
}
