// The gateway's Mini App API (/miniapp/api/*), authenticated by Telegram's signed init data.

export interface Me { user_id: number; first_name?: string; username?: string; balance_nanotons: number; wallet?: string }
export interface WorkerView { worker_id: string; provider_id: string; attestation_kind: string; price_coefficient: number; running: number; max_concurrency: number; hpke_public_key?: string }
export interface ModelView { name: string; sha256: string; workers: WorkerView[] }
export interface UsageDay { date: string; prompt_tokens: number; completion_tokens: number; cost_nanotons: number; answers: number }
export interface Usage { days: UsageDay[]; spent_nanotons30_days: number }
export interface StarsOption { stars: number; nanotons: number }
export interface TonConnectTransaction { validUntil: number; messages: { address: string; amount: string; payload?: string }[]; network?: string }
export interface TopUp { invoice_id: string; comment: string; amount_nanotons: number; deposit_address: string; transfer_link: string; transaction: TonConnectTransaction }
export interface ProviderView {
  provider_id: string; name: string; paused: boolean; price_coefficient: number; payout_address?: string;
  pending_nanotons: number; total_nanotons: number;
  workers: { worker_id: string; model: string; attestation_kind: string; running: number; max_concurrency: number; price_coefficient: number; reputation?: number }[];
  earnings_by_day: { date: string; nanotons: number }[];
  // Present when the gateway reads stakes from the chain (Ton:StakeContract).
  stake?: { address?: string; stake: number; pending_withdrawal: number; unbonding_end: number; slashed_total: number; last_slash_reason?: string; minimum: number; sufficient: boolean };
  slashes?: { reason_hash: string; fault: string; worker_id: string; amount: number; to_user: number; state: string; transaction_hash?: string; at: string }[];
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
}

export class Api {
  constructor(private readonly initData: string) {}

  get authorization(): string { return "tma " + this.initData; }

  async call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const response = await fetch("api/" + path, {
      method,
      headers: { Authorization: this.authorization, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return Api.read<T>(response);
  }

  static async read<T>(response: Response): Promise<T> {
    const text = await response.text();
    let json: any = undefined;
    try { json = text ? JSON.parse(text) : undefined; } catch { /* not JSON: reported below */ }
    if (!response.ok) {
      throw new ApiError(response.status, json?.error?.code ?? "http_" + response.status, json?.error?.message ?? `The gateway answered ${response.status}.`);
    }
    return json as T;
  }

  me() { return this.call<Me>("GET", "me"); }
  models() { return this.call<{ models: ModelView[] }>("GET", "workers").then(r => r.models); }
  usage() { return this.call<Usage>("GET", "usage"); }
  starsOptions() { return this.call<{ options: StarsOption[] }>("GET", "topup/stars").then(r => r.options); }
  starsInvoice(stars: number) { return this.call<{ invoice_link: string }>("POST", "topup/stars", { stars }); }
  tonTopUp(amountNanotons: number) { return this.call<TopUp>("POST", "topup/ton", { amount_nanotons: amountNanotons }); }
  proofPayload() { return this.call<{ payload: string }>("POST", "ton-proof/payload"); }
  proofCheck(login: unknown) { return this.call<{ address: string; address_friendly: string }>("POST", "ton-proof/check", login); }
  providers() { return this.call<{ providers: ProviderView[] }>("GET", "provider").then(r => r.providers); }
  payout(providerId: string) { return this.call<{ status: string; amount_nanotons: number; address?: string; request_id?: string; message: string }>("POST", "provider/" + encodeURIComponent(providerId) + "/payout"); }
}

/** Nanotons as TON with up to 4 decimals (BigInt-free: balances fit doubles well below 2^53 nanotons). */
export function ton(nanotons: number, digits = 4): string {
  const value = nanotons / 1e9;
  return value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: digits }) + " TON";
}
