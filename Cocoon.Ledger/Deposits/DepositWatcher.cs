using Cocoon.Ledger.Ton;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Deposits;

/// <summary>
/// Polls the chain API for deposits every <see cref="TonOptions.DepositPollInterval"/>; each poll in its own scope.
/// A failed poll (chain API outage, database hiccup) did not move the cursor past anything unhandled.
/// </summary>
public sealed class DepositWatcher(IServiceScopeFactory scopes, IOptions<TonOptions> options, TimeProvider clock, ILogger<DepositWatcher> logger)
    : PeriodicService(clock, logger)
{
    protected override TimeSpan Interval => options.Value.DepositPollInterval;

    protected override async Task RunRoundAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<DepositProcessor>().PollAsync(cancellationToken).ConfigureAwait(false);
    }
}
