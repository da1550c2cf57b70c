using Cocoon.Ledger.Ton;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Deposits;

/// <summary>Polls the chain API for deposits every <see cref="TonOptions.DepositPollInterval"/>; each poll in its own scope.</summary>
public sealed partial class DepositWatcher(IServiceScopeFactory scopes, IOptions<TonOptions> options, TimeProvider clock, ILogger<DepositWatcher> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.DepositPollInterval, clock);
        do
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<DepositProcessor>().PollAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // A chain API outage or a database hiccup: the cursor did not move past anything unhandled; try again next tick.
                LogPollFailed(logger, e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(EventId = 5202, Level = LogLevel.Warning, Message = "Deposit poll failed; retrying")]
    private static partial void LogPollFailed(ILogger logger, Exception exception);
}
