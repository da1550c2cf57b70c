using System.ComponentModel.DataAnnotations;
using Cocoon.Network.Providers;
using Cocoon.Ledger;
using Cocoon.Ledger.Payouts;
using Cocoon.Ledger.Ton;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Payouts;

public sealed class ThresholdPayoutOptions
{
    public const string Section = "Payouts";

    /// <summary>A provider whose available balance reaches this many nanotons is paid out without asking; 0 turns it off.</summary>
    [Range(0, long.MaxValue, ErrorMessage = "Payouts:ThresholdNanotons must be 0 (off) or a positive number of nanotons.")]
    public long ThresholdNanotons { get; set; } = 10_000_000_000;

    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00", ErrorMessage = "Payouts:Interval must be between 1 second and 7 days.")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>Every interval, requests a payout for each registered provider above the threshold (see <see cref="ThresholdPayouts"/>).</summary>
internal sealed partial class ThresholdPayoutService(
    IServiceScopeFactory scopes,
    ProviderDirectory providers,
    IOptions<ThresholdPayoutOptions> options,
    TimeProvider time,
    ILogger<ThresholdPayoutService> logger) : PeriodicService(time, logger)
{
    protected override TimeSpan Interval => options.Value.Interval;

    protected override bool Enabled => options.Value.ThresholdNanotons > 0;

    protected override async Task RunRoundAsync(CancellationToken cancellationToken)
    {
        var targets = new List<PayoutTarget>();
        foreach (var provider in await providers.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            // Registration validated the address; one that no longer parses is skipped, not guessed at.
            if (TonAddress.TryParse(provider.Profile.PayoutAddress, out var address) && address is not null)
            {
                targets.Add(new PayoutTarget(provider.ProviderId, address));
            }
        }

        await using var scope = scopes.CreateAsyncScope();
        var made = await scope.ServiceProvider.GetRequiredService<ThresholdPayouts>().RunOnceAsync(targets, options.Value.ThresholdNanotons, cancellationToken).ConfigureAwait(false);
        foreach (var request in made)
        {
            LogRequested(logger, request.Provider, request.Amount, request.Id);
        }
    }

    [LoggerMessage(EventId = LogEvents.Payouts + 1, Level = LogLevel.Information, Message = "Threshold payout requested for {Provider}: {Amount} nanotons (request {RequestId})")]
    private static partial void LogRequested(ILogger logger, string provider, long amount, Guid requestId);
}
