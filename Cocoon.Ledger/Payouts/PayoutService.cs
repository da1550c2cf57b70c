using Cocoon.Ledger.Ton;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Payouts;

/// <summary>Runs <see cref="PayoutSender"/> every <see cref="TonOptions.PayoutInterval"/>, each round in its own scope.</summary>
public sealed class PayoutService(IServiceScopeFactory scopes, IOptions<TonOptions> options, TimeProvider clock, ILogger<PayoutService> logger)
    : PeriodicService(clock, logger)
{
    protected override TimeSpan Interval => options.Value.PayoutInterval;

    protected override async Task RunRoundAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<PayoutSender>().RunOnceAsync(cancellationToken).ConfigureAwait(false);
    }
}

