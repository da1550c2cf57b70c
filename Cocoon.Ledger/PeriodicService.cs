using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cocoon.Ledger;

/// <summary>
/// A background loop that runs one round every <see cref="Interval"/> (first round at start). A failed round is logged
/// and retried at the next tick: each round's work is recorded step by step, so the next one picks up where it stopped.
/// </summary>
public abstract partial class PeriodicService(TimeProvider clock, ILogger logger) : BackgroundService
{
    protected abstract TimeSpan Interval { get; }

    /// <summary>False turns the loop off (e.g. a threshold of 0).</summary>
    protected virtual bool Enabled => true;

    protected abstract Task RunRoundAsync(CancellationToken cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!Enabled)
        {
            return;
        }

        using var timer = new PeriodicTimer(Interval, clock);
        do
        {
            try
            {
                await RunRoundAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogRoundFailed(logger, GetType().Name, e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(EventId = LogEvents.Services + 1, Level = LogLevel.Warning, Message = "{Service}: a round failed; retrying at the next interval")]
    private static partial void LogRoundFailed(ILogger logger, string service, Exception exception);
}
