using System.Globalization;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Telegram;
using Cocoon.Bot.Telegram.Payments;
using Cocoon.Ledger.Accounts;
using Cocoon.Network.Providers;
using global::Telegram.Bot;
using global::Telegram.Bot.Types.Payments;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.MiniApp;

public sealed record UsageResponse(IReadOnlyList<UsageDay> Days, long SpentNanotons30Days);

public sealed record StarsOption(int Stars, long Nanotons);

public sealed record StarsOptionsResponse(IReadOnlyList<StarsOption> Options);

public sealed record StarsBody(int Stars);

public sealed record StarsInvoiceResponse(string InvoiceLink, int Stars, long Nanotons);

/// <param name="Reputation">The worker's score (0..1) as every gateway reads it; below the network's floor it gets no jobs.</param>
public sealed record ProviderWorkerView(string WorkerId, string Model, string AttestationKind, int Running, int MaxConcurrency, int PriceCoefficient, double? Reputation = null);

/// <summary>A payout asked for from the provider screen: the outcome, the amount and address, and the same words as the bot.</summary>
public sealed record PayoutResponse(string Status, long AmountNanotons, string? Address, string? RequestId, string Message);

public sealed record EarningDay(string Date, long Nanotons);

public sealed record ProviderView(
    string ProviderId,
    string Name,
    bool Paused,
    int PriceCoefficient,
    string? PayoutAddress,
    long PendingNanotons,
    long TotalNanotons,
    IReadOnlyList<ProviderWorkerView> Workers,
    IReadOnlyList<EarningDay> EarningsByDay,
    Slashing.ProviderStakeView? Stake = null,
    IReadOnlyList<Slashing.ProviderSlashView>? Slashes = null);

public sealed record ProvidersResponse(IReadOnlyList<ProviderView> Providers);

/// <summary>
/// The Mini App's account screens beyond /me: the usage chart's data, Stars top-up invoice links (the same invoice
/// payload and crediting path as the bot's /topup), and the provider view (workers, earnings per day, pending payout)
/// read from the provider directory and the ledger.
/// </summary>
internal static class MiniAppAccount
{
    private const int ChartDays = 14;

    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/usage", async (HttpContext http, MiniAppUsage usage, TimeProvider time, CancellationToken ct) =>
        {
            var user = MiniAppEndpoints.CurrentUser(http);
            var now = time.GetUtcNow();
            var days = await usage.GetAsync(user.Id, DateOnly.FromDateTime(now.UtcDateTime), ChartDays, ct).ConfigureAwait(false);

            // Spending over all channels (bot, API, Mini App) comes from the ledger, which is the authority on money.
            var spent = http.RequestServices.GetService<ILedgerAccounts>() is { } accounts
                ? (await accounts.GetActivitySinceAsync(AccountId.User(user.Id), now.AddDays(-30), ct).ConfigureAwait(false)).Spent
                : days.Sum(d => d.CostNanotons);
            return MiniAppEndpoints.Ok(new UsageResponse(days, spent));
        });

        api.MapGet("/topup/stars", (HttpContext http) =>
        {
            var telegram = http.RequestServices.GetRequiredService<IOptions<TelegramOptions>>().Value;
            return MiniAppEndpoints.Ok(new StarsOptionsResponse([.. telegram.EffectiveTopUpStars.Select(s => new StarsOption(s, s * telegram.NanotonsPerStar))]));
        });

        api.MapPost("/topup/stars", async (HttpContext http, CancellationToken ct) =>
        {
            var user = MiniAppEndpoints.CurrentUser(http);
            var telegram = http.RequestServices.GetRequiredService<IOptions<TelegramOptions>>().Value;
            if (http.RequestServices.GetService<ITelegramBotClient>() is not { } bot)
            {
                return MiniAppEndpoints.Error(StatusCodes.Status503ServiceUnavailable, "stars_unavailable", "Stars payments need the bot: set TELEGRAM_BOT_TOKEN on the gateway.");
            }

            var body = await MiniAppEndpoints.ReadAsync<StarsBody>(http, ct).ConfigureAwait(false);
            if (body is null || !telegram.EffectiveTopUpStars.Contains(body.Stars))
            {
                return MiniAppEndpoints.Error(StatusCodes.Status400BadRequest, "invalid_amount", $"stars must be one of {string.Join(", ", telegram.EffectiveTopUpStars)}.");
            }

            var nanotons = body.Stars * telegram.NanotonsPerStar;
            var credit = (nanotons / 1e9).ToString("0.####", CultureInfo.InvariantCulture) + " TON";

            // Same payload as the bot's invoices, so the bot's pre-checkout and crediting handle it unchanged.
            var link = await bot.CreateInvoiceLink(
                title: $"Cocoon credit: {credit}",
                description: $"Adds {credit} to your Cocoon balance for private AI answers.",
                payload: StarsPayments.Payload(AccountId.User(user.Id), body.Stars),
                currency: StarsPayments.Currency,
                prices: [new LabeledPrice("Cocoon credit", body.Stars)],
                providerToken: string.Empty,
                cancellationToken: ct).ConfigureAwait(false);
            return MiniAppEndpoints.Ok(new StarsInvoiceResponse(link, body.Stars, nanotons));
        });

        api.MapGet("/provider", async (HttpContext http, IDispatcher dispatcher, ILedger ledger, TimeProvider time, CancellationToken ct) =>
        {
            var user = MiniAppEndpoints.CurrentUser(http);
            if (http.RequestServices.GetService<ProviderDirectory>() is not { } directory)
            {
                return MiniAppEndpoints.Ok(new ProvidersResponse([]));
            }

            var mine = await directory.ListByOwnerAsync(user.Id, ct).ConfigureAwait(false);
            if (mine.Count == 0)
            {
                return MiniAppEndpoints.Ok(new ProvidersResponse([]));
            }

            var served = await dispatcher.GetModelsAsync(ct).ConfigureAwait(false);
            var accounts = http.RequestServices.GetService<ILedgerAccounts>();
            var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
            var views = new List<ProviderView>(mine.Count);
            foreach (var p in mine)
            {
                var account = AccountId.Provider(p.ProviderId);
                var pending = await ledger.GetBalanceAsync(account, ct).ConfigureAwait(false);
                var byDay = new Dictionary<string, long>();
                long total = 0;
                if (accounts is not null)
                {
                    total = (await accounts.GetActivitySinceAsync(account, DateTimeOffset.UnixEpoch, ct).ConfigureAwait(false)).Received;
                    var since = new DateTimeOffset(today.AddDays(1 - ChartDays).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
                    foreach (var line in await accounts.GetRecentEntriesAsync(account, 5000, ct).ConfigureAwait(false))
                    {
                        if (line.Amount > 0 && line.At >= since)
                        {
                            var date = line.At.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
                            byDay[date] = byDay.GetValueOrDefault(date) + line.Amount;
                        }
                    }
                }

                var days = Enumerable.Range(0, ChartDays)
                    .Select(i => today.AddDays(i + 1 - ChartDays).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture))
                    .Select(d => new EarningDay(d, byDay.GetValueOrDefault(d)))
                    .ToList();
                var workers = served.SelectMany(m => m.Workers.Where(w => w.ProviderId == p.ProviderId)
                        .Select(w => new ProviderWorkerView(w.WorkerId, m.Name, w.AttestationKind, w.Running, w.MaxConcurrency, w.PriceCoefficient)))
                    .ToList();
                if (http.RequestServices.GetService<Reputation.ReputationBook>() is { } book)
                {
                    for (var i = 0; i < workers.Count; i++)
                    {
                        var score = await book.ReadAsync(workers[i].WorkerId, ct).ConfigureAwait(false);
                        workers[i] = workers[i] with { Reputation = Math.Round(score.Value, 3) };
                    }
                }

                var (stake, slashes) = await Slashing.ProviderStakeView.ReadAsync(
                    p.ProviderId, http.RequestServices.GetService<Slashing.StakeCache>(), http.RequestServices.GetService<Slashing.SlashBook>(), ct).ConfigureAwait(false);
                views.Add(new ProviderView(p.ProviderId, p.Profile.Name, p.Paused, p.PriceCoefficient ?? 1000, p.Profile.PayoutAddress, pending, total, workers, days, stake, slashes));
            }

            return MiniAppEndpoints.Ok(new ProvidersResponse(views));
        });

        // The same rule as the bot's /provider payout (ProviderPayouts): the whole pending balance to the registered
        // address, once per provider per UTC day. Only the provider's owner may ask.
        api.MapPost("/provider/{providerId}/payout", async (string providerId, HttpContext http, CancellationToken ct) =>
        {
            var user = MiniAppEndpoints.CurrentUser(http);
            if (http.RequestServices.GetService<ProviderDirectory>() is not { } directory || http.RequestServices.GetService<Providers.ProviderPayouts>() is not { } payouts)
            {
                return MiniAppEndpoints.Error(StatusCodes.Status503ServiceUnavailable, "payouts_unavailable", "Payouts are not set up on this gateway.");
            }

            var provider = (await directory.ListByOwnerAsync(user.Id, ct).ConfigureAwait(false)).FirstOrDefault(p => p.ProviderId == providerId);
            if (provider is null)
            {
                return MiniAppEndpoints.Error(StatusCodes.Status404NotFound, "provider_not_found", $"You own no provider {providerId}.");
            }

            var outcome = await payouts.RequestAsync(provider, ct).ConfigureAwait(false);
            var status = outcome.Kind switch
            {
                Providers.PayoutOutcomeKind.NoAddress => "no_address",
                Providers.PayoutOutcomeKind.NothingToPay => "nothing_to_pay",
                Providers.PayoutOutcomeKind.BelowMinimum => "below_minimum",
                Providers.PayoutOutcomeKind.Requested => "requested",
                Providers.PayoutOutcomeKind.Recorded => "recorded",
                Providers.PayoutOutcomeKind.Unavailable => "unavailable",
                _ => "already_asked",
            };
            return MiniAppEndpoints.Ok(new PayoutResponse(status, outcome.Amount, outcome.Address?.ToFriendly(), outcome.RequestId?.ToString(), Telegram.Providers.ProviderCommands.Describe(outcome)));
        });
    }
}
