// The usage screen (tokens and cost per day) and the provider screen (workers, earnings per day), drawn with uPlot
// in the theme's colours.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { Api, ProviderView, ton } from "./api";
import { clear, h } from "./dom";
import { icon } from "./icons";

function css(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function dayStamps(dates: string[]): number[] {
  return dates.map(d => Date.parse(d + "T00:00:00Z") / 1000);
}

function chart(target: HTMLElement, dates: string[], series: { label: string; values: number[]; color: string; scale: string; format: (v: number) => string }[]) {
  const text = css("--tg-theme-hint-color", "#8e8e93");
  const grid = css("--tg-theme-section-separator-color", "rgba(128,128,128,.2)");
  const width = Math.max(260, target.clientWidth || 320);
  const bars = uPlot.paths.bars!({ size: [0.6, 24] });
  const scales = [...new Set(series.map(s => s.scale))];
  return new uPlot({
    width,
    height: 200,
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true } },
    axes: [
      { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { show: false }, values: (_u, v) => v.map(t => new Date(t * 1000).toLocaleDateString("en-US", { month: "short", day: "numeric" })) },
      ...scales.map((scale, i) => ({
        scale, side: i === 0 ? 3 : 1, stroke: text, grid: { show: i === 0, stroke: grid, width: 1 }, ticks: { show: false }, size: 56,
        values: (_u: uPlot, v: number[]) => v.map(x => series.find(s => s.scale === scale)!.format(x)),
      })),
    ],
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label, scale: s.scale, stroke: s.color, width: 2,
        fill: i === 0 ? s.color + "66" : undefined, paths: i === 0 ? bars : undefined,
        points: { show: i !== 0 },
        value: (_u: uPlot, v: number | null) => (v === null ? "–" : s.format(v)),
      })),
    ],
  }, [dayStamps(dates), ...series.map(s => s.values)], target);
}

export function usageScreen(api: Api): { el: HTMLElement; shown: () => void } {
  const plot = h("div", { class: "plot", "data-testid": "usage-chart" });
  const totals = h("div", { class: "stats" });
  const el = h("section", { class: "screen usage", "data-screen": "usage" },
    h("h2", {}, "Last 14 days"), h("div", { class: "card" }, plot), totals);
  let drawn: uPlot | null = null;
  return {
    el,
    async shown() {
      try {
        const usage = await api.usage();
        const days = usage.days;
        const tokens = days.map(d => d.prompt_tokens + d.completion_tokens);
        drawn?.destroy();
        clear(plot);
        drawn = chart(plot, days.map(d => d.date), [
          { label: "Tokens", values: tokens, color: css("--tg-theme-button-color", "#2aabee"), scale: "tokens", format: v => Math.round(v).toLocaleString("en-US") },
          { label: "Cost", values: days.map(d => d.cost_nanotons / 1e9), color: css("--tg-theme-accent-text-color", "#f5a623"), scale: "ton", format: v => v.toFixed(4) },
        ]);
        const answers = days.reduce((a, d) => a + d.answers, 0);
        clear(totals,
          stat("Answers", answers.toLocaleString("en-US")),
          stat("Tokens", tokens.reduce((a, b) => a + b, 0).toLocaleString("en-US")),
          stat("Spent, 30 days", ton(usage.spent_nanotons30_days, 6)));
      } catch (e: any) {
        clear(plot, h("p", { class: "hint error" }, e.message));
      }
    },
  };
}

export function providerScreen(api: Api): { el: HTMLElement; shown: () => void } {
  const body = h("div", {});
  const el = h("section", { class: "screen provider", "data-screen": "provider" }, body);
  return {
    el,
    async shown() {
      try {
        const providers = await api.providers();
        if (providers.length === 0) {
          clear(body, h("div", { class: "card empty" },
            h("div", { class: "empty-icon" }, icon("provider", 44)),
            h("h2", {}, "Sell inference with your GPU"),
            h("p", {}, "Register in the bot with /provider register. Your workers, their attestation and your earnings then appear here.")));
          return;
        }
        clear(body, ...providers.map(p => {
          const plot = h("div", { class: "plot" });
          const card = h("div", { class: "card", "data-testid": "provider-" + p.provider_id },
            h("div", { class: "provider-head" }, h("strong", {}, p.name), h("span", { class: "pill " + (p.paused ? "warn" : "ok") }, p.paused ? "Paused" : "Taking jobs")),
            h("div", { class: "stats" }, stat("Pending payout", ton(p.pending_nanotons)), stat("Earned in total", ton(p.total_nanotons)), stat("Price", "×" + (p.price_coefficient / 1000).toFixed(2))),
            ...stakeView(p),
            h("h3", {}, "Earnings per day"), plot,
            h("h3", {}, "Workers"),
            p.workers.length
              ? h("ul", { class: "list" }, ...p.workers.map(w => h("li", {},
                  h("span", {}, w.worker_id, h("small", {}, " · " + w.model + (w.reputation == null ? "" : ` · reputation ${w.reputation.toFixed(3)}`))),
                  h("span", { class: "pill " + (w.attestation_kind === "tdx" ? "ok" : "") }, `${w.attestation_kind} · ${w.running}/${w.max_concurrency}`))))
              : h("p", { class: "hint" }, "No worker online."),
            ...payoutView(api, p));
          requestAnimationFrame(() => chart(plot, p.earnings_by_day.map(d => d.date), [
            { label: "Earned", values: p.earnings_by_day.map(d => d.nanotons / 1e9), color: css("--tg-theme-button-color", "#2aabee"), scale: "ton", format: v => v.toFixed(4) },
          ]));
          return card;
        }));
      } catch (e: any) {
        clear(body, h("p", { class: "hint error" }, e.message));
      }
    },
  };
}

// "Request payout": the bot's /provider payout rule (whole pending balance, once a day), asked from this screen.
function payoutView(api: Api, p: ProviderView): HTMLElement[] {
  if (!p.payout_address) return [h("p", { class: "hint" }, "Set a payout address in the bot with /provider address <TON address>.")];
  const result = h("p", { class: "hint", "data-testid": "payout-result" }, "Payouts go to " + p.payout_address + " (change it in the bot with /provider address <TON address>).");
  const button = h("button", { class: "secondary", type: "button", "data-testid": "payout-" + p.provider_id }, "Request payout") as HTMLButtonElement;
  button.disabled = p.pending_nanotons <= 0;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const r = await api.payout(p.provider_id);
      result.textContent = r.message;
      result.dataset.status = r.status;
    } catch (e: any) {
      result.textContent = e.message;
      result.dataset.status = "error";
      button.disabled = false;
    }
  });
  return [button, result];
}

// The provider's stake on chain and its slashes (each with the reason hash the stake contract keeps).
function stakeView(p: ProviderView): HTMLElement[] {
  if (!p.stake) return [];
  const s = p.stake;
  const parts: HTMLElement[] = [
    h("h3", {}, "Stake"),
    h("div", { class: "stats", "data-testid": "stake-" + p.provider_id },
      stat("Staked", ton(s.stake)),
      stat("Withdrawing", ton(s.pending_withdrawal)),
      stat("Slashed", ton(s.slashed_total))),
    h("p", { class: "hint" + (s.sufficient ? "" : " error") }, s.sufficient
      ? "Your stake meets the " + ton(s.minimum) + " minimum."
      : "Below the " + ton(s.minimum) + " minimum: workers in staked tiers get no jobs. Stake from " + (s.address ?? "your payout address") + "."),
  ];
  if (p.slashes && p.slashes.length) {
    parts.push(h("ul", { class: "list" }, ...p.slashes.map(x => h("li", {},
      h("span", {}, x.fault, h("small", {}, " · " + x.worker_id + " · " + x.reason_hash.slice(0, 16) + "…")),
      h("span", { class: "pill " + (x.state === "applied" ? "warn" : "") }, ton(x.amount) + " · " + x.state)))));
  }
  return parts;
}

function stat(label: string, value: string): HTMLElement {
  return h("div", { class: "stat" }, h("div", { class: "value" }, value), h("div", { class: "label" }, label));
}
