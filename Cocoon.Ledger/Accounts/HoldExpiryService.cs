using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Accounts;

/// <summary>Releases holds that were never settled or released (a crashed gateway, a lost worker).</summary>
internal sealed partial class HoldExpiryService(
    ILedgerAccounts ledger,
    IOptions<LedgerOptions> options,
    TimeProvider time,
    ILogger<HoldExpiryService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ExpirySweepInterval, time);
        do
        {
            try
            {
                int released;
                do
                {
                    released = await ledger.ExpireHoldsAsync(stoppingToken);
                    if (released > 0)
                    {
                        LogExpired(logger, released);
                    }
                }
                while (released >= 1000);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogSweepFailed(logger, ex);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    [LoggerMessage(EventId = LogEvents.Holds + 1, Level = LogLevel.Information, Message = "Released {Count} expired holds")]
    private static partial void LogExpired(ILogger logger, int count);

    [LoggerMessage(EventId = LogEvents.Holds + 2, Level = LogLevel.Error, Message = "Releasing expired holds failed; retrying at the next sweep")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}

/// <summary>Applies the ledger's migrations before the host starts serving.</summary>
internal sealed class LedgerMigrationService(JournalLedger ledger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => ledger.Database.MigrateAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
