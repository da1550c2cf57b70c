using System.Globalization;
using System.Text;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Reputation;
using Cocoon.Engine.Reputation;
using Cocoon.Bot.Telegram.Accounts;
using Cocoon.Ledger.Accounts;
using Cocoon.Network.Access;
using Cocoon.Network.Providers;
using Cocoon.Network.Transport;

namespace Cocoon.Bot.Telegram.Providers;

/// <summary>One worker of a provider as /provider status and the JSON endpoint show it.</summary>
/// <param name="Online">Eligible for jobs right now (registered, attested, policy passed, provider not paused).</param>
/// <param name="Tier">The attestation it serves under (tdx, simulated); null when it never joined.</param>
/// <param name="JobsServed">Jobs this run of the worker finished, as its heartbeat reports it.</param>
/// <param name="Refusal">Why it is not serving (its last refusal), with <paramref name="WhatToDo"/>.</param>
/// <param name="Reputation">The worker's reputation score (0..1) as every gateway reads it; below the network's floor it gets no jobs.</param>
/// <param name="ReputationReasons">The reasons behind the score, each a stable code and a sentence with the numbers.</param>
public sealed record ProviderWorkerStatus(
    string WorkerId,
    string State,
    bool Online,
    string? Tier,
    string? Model,
    long JobsServed,
    int Running,
    int MaxConcurrency,
    string? Refusal,
    string? RefusalDetail,
    string? WhatToDo,
    double? Reputation = null,
    IReadOnlyList<ReputationReason>? ReputationReasons = null);

/// <summary>What the provider's account received on one UTC day, in nanotons (from the ledger).</summary>
public sealed record ProviderDayEarnings(DateOnly Day, long Nanotons);

/// <summary>
/// A provider's workers and earnings, its stake on chain and the slashes it took with their reasons. ProviderKey: the
/// registered public key its workers' certificates are checked against (null: none, workers join on the token alone).
/// ProviderReputation: the provider's own record, which a new worker id starts from when it is below neutral.
/// </summary>
public sealed record ProviderStatusReport(
    string ProviderId,
    string Name,
    bool Paused,
    int PriceCoefficient,
    IReadOnlyList<ProviderWorkerStatus> Workers,
    IReadOnlyList<ProviderDayEarnings> EarningsPerDay,
    long PendingPayoutNanotons,
    Slashing.ProviderStakeView? Stake = null,
    IReadOnlyList<Slashing.ProviderSlashView>? Slashes = null,
    string? ProviderKey = null,
    double? ProviderReputation = null);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
[System.Text.Json.Serialization.JsonSerializable(typeof(ProviderStatusReport))]
public sealed partial class ProviderStatusJsonContext : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>
/// Builds the provider's report from the join records (state, last refusal), the dispatcher's view (online, tier),
/// the registry (jobs a worker reports) and the ledger (earnings per day, pending payout).
/// </summary>
public sealed class ProviderStatus(
    WorkerJoins joins,
    WorkerRegistry registry,
    IDispatcher dispatcher,
    ILedger ledger,
    TimeProvider time,
    ILedgerAccounts? accounts = null,
    ReputationBook? reputation = null,
    Slashing.StakeCache? stakes = null,
    Slashing.SlashBook? slashes = null,
    ProviderReputation? providerReputation = null)
{
    public const int Days = 7;

    public async Task<ProviderStatusReport> BuildAsync(ProviderInfo provider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(provider);
        var served = (await dispatcher.GetModelsAsync(cancellationToken).ConfigureAwait(false))
            .SelectMany(m => m.Workers.Select(w => (Model: m.Name, Worker: w)))
            .Where(x => x.Worker.ProviderId == provider.ProviderId)
            .ToDictionary(x => x.Worker.WorkerId, StringComparer.Ordinal);
        var live = (await registry.ListAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(w => w.Registration.WorkerId, StringComparer.Ordinal);
        var workers = new List<ProviderWorkerStatus>();
        var records = await joins.ListByProviderAsync(provider.ProviderId, cancellationToken).ConfigureAwait(false);
        foreach (var r in records)
        {
            var online = served.TryGetValue(r.WorkerId, out var s);
            live.TryGetValue(r.WorkerId, out var entry);
            var refusal = online || r.Reason is null ? null : JoinRefusals.For(r.Reason, r.Detail ?? string.Empty);
            var state = online ? "online" : r.State == JoinStates.Joined ? entry is null ? "offline" : "not serving" : r.State;
            workers.Add(new ProviderWorkerStatus(r.WorkerId, state, online, online ? s.Worker.AttestationKind : r.TeeKind, online ? s.Model : r.ModelName,
                entry?.Load.JobsDone ?? 0, entry?.Load.Running ?? 0, entry?.Load.MaxConcurrency ?? 0, refusal?.Reason, refusal?.Detail, refusal?.WhatToDo));
        }

        // Workers serving for this provider that did not join (the local development provider has none).
        foreach (var (id, s) in served.Where(x => records.All(r => r.WorkerId != x.Key)))
        {
            live.TryGetValue(id, out var entry);
            workers.Add(new ProviderWorkerStatus(id, "online", true, s.Worker.AttestationKind, s.Model, entry?.Load.JobsDone ?? 0, s.Worker.Running, s.Worker.MaxConcurrency, null, null, null));
        }

        if (reputation is not null)
        {
            for (var i = 0; i < workers.Count; i++)
            {
                var score = await reputation.ReadAsync(workers[i].WorkerId, cancellationToken).ConfigureAwait(false);
                workers[i] = workers[i] with { Reputation = Math.Round(score.Value, 3), ReputationReasons = score.Reasons };
            }
        }

        var account = AccountId.Provider(provider.ProviderId);
        var days = new List<ProviderDayEarnings>();
        if (accounts is not null)
        {
            var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
            long laterReceived = 0;
            for (var i = 0; i < Days; i++)
            {
                var day = today.AddDays(-i);
                var since = new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
                var received = (await accounts.GetActivitySinceAsync(account, since, cancellationToken).ConfigureAwait(false)).Received;
                days.Add(new ProviderDayEarnings(day, received - laterReceived));
                laterReceived = received;
            }
        }

        var pending = await ledger.GetBalanceAsync(account, cancellationToken).ConfigureAwait(false);
        var providerScore = providerReputation is null
            ? (double?)null
            : Math.Round((await providerReputation.ReadAsync(ProviderReputation.ProviderField(provider.ProviderId), cancellationToken).ConfigureAwait(false)).Value, 3);
        var (stake, slashed) = await Slashing.ProviderStakeView.ReadAsync(provider.ProviderId, stakes, slashes, cancellationToken).ConfigureAwait(false);
        return new ProviderStatusReport(provider.ProviderId, provider.Profile.Name, provider.Paused, provider.PriceCoefficient ?? 1000, workers, days, pending,
            stake, slashed, provider.ProviderKey, providerScore);
    }

    /// <summary>The report as the bot's message.</summary>
    public static string Format(ProviderStatusReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{report.ProviderId} · {report.Name} · {(report.Paused ? "PAUSED" : "taking jobs")} · price ×{report.PriceCoefficient / 1000.0:0.###}\n");
        text.Append(report.ProviderKey is { } key
            ? $"Provider key: {ProviderWorkerControl.KeyPrefix(key)} (workers need a certificate signed by it)\n"
            : "Provider key: none registered (workers join on the token alone; ./cocoon provider keygen, then /provider key <public key>)\n");
        if (report.ProviderReputation is { } providerScore)
        {
            text.Append(CultureInfo.InvariantCulture, $"Provider reputation: {providerScore:0.000} (new worker ids start from it when it is below neutral)\n");
        }

        text.Append(CultureInfo.InvariantCulture, $"Workers online: {report.Workers.Count(w => w.Online)}\n");
        foreach (var w in report.Workers)
        {
            text.Append(CultureInfo.InvariantCulture, $"• {w.WorkerId}: {w.State}");
            if (w.Model is not null)
            {
                text.Append(CultureInfo.InvariantCulture, $", {w.Model}");
            }

            if (w.Tier is not null)
            {
                text.Append(CultureInfo.InvariantCulture, $", tier {w.Tier}");
            }

            text.Append(CultureInfo.InvariantCulture, $", jobs {w.JobsServed}");
            if (w.Reputation is { } score)
            {
                text.Append(CultureInfo.InvariantCulture, $", reputation {score:0.000}");
            }

            if (w.Online)
            {
                text.Append(CultureInfo.InvariantCulture, $", load {w.Running}/{w.MaxConcurrency}");
            }

            text.Append('\n');
            foreach (var reason in w.ReputationReasons ?? [])
            {
                text.Append(CultureInfo.InvariantCulture, $"  {reason.Code}: {reason.Message}\n");
            }

            if (w.Refusal is not null)
            {
                text.Append(CultureInfo.InvariantCulture, $"  refused: {w.Refusal} ({w.RefusalDetail})\n  what to do: {w.WhatToDo}\n");
            }
        }

        if (report.EarningsPerDay.Count > 0)
        {
            text.Append("Earnings per day (UTC): ");
            text.AppendJoin(", ", report.EarningsPerDay.Select(d => string.Create(CultureInfo.InvariantCulture, $"{d.Day:MM-dd} {Money.Ton(d.Nanotons)}")));
            text.Append('\n');
        }

        text.Append(CultureInfo.InvariantCulture, $"Pending payout: {Money.Ton(report.PendingPayoutNanotons)}\n");
        Slashing.ProviderStakeView.Format(text, report.Stake, report.Slashes);
        return text.ToString();
    }
}
