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
            catch (Exception e) when (stoppingToken.IsCancellationRequested && Unreachable(e))
            {
                // The host is stopping and the service it polls is already gone (under `up` the chain can stop first):
                // one line, not a stack trace. While running, the same failure is logged in full below.
                LogRoundCutShort(logger, GetType().Name, e.GetBaseException().Message);
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogRoundFailed(logger, GetType().Name, e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    /// <summary>A connection that failed or broke: the far side is down, not a fault in the round.</summary>
    private static bool Unreachable(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is HttpRequestException or System.Net.Sockets.SocketException)
            {
                return true;
            }
        }

        return false;
    }

    [LoggerMessage(EventId = LogEvents.Services + 2, Level = LogLevel.Information, Message = "{Service}: the last round was cut short while stopping: {Reason}")]
    private static partial void LogRoundCutShort(ILogger logger, string service, string reason);

    [LoggerMessage(EventId = LogEvents.Services + 1, Level = LogLevel.Warning, Message = "{Service}: a round failed; retrying at the next interval")]
    private static partial void LogRoundFailed(ILogger logger, string service, Exception exception);
}
