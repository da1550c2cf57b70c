using Cocoon.Ledger.Ton;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Payouts;

/// <summary>Runs <see cref="PayoutSender"/> every <see cref="TonOptions.PayoutInterval"/>, each round in its own scope.</summary>
public sealed partial class PayoutService(IServiceScopeFactory scopes, IOptions<TonOptions> options, TimeProvider clock, ILogger<PayoutService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.PayoutInterval, clock);
        do
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<PayoutSender>().RunOnceAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // Every step is recorded before the next; the next round picks up where this one stopped.
                LogRoundFailed(logger, e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(EventId = 5306, Level = LogLevel.Warning, Message = "Payout round failed; retrying")]
    private static partial void LogRoundFailed(ILogger logger, Exception exception);
}
