using Cocoon.Ledger.Ton;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Bot.Slashing;

/// <summary>Pushes every pending slash on towards the chain every Gateway:Stake:SlashInterval (any gateway may; a lock keeps it to one at a time).</summary>
public sealed partial class SlashService(SlashBook book, Slasher slasher, StakeCache stakes, IOptions<StakeOptions> options, TimeProvider time, ILogger<SlashService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!stakes.Enabled)
        {
            LogOff(logger);
            return;
        }

        try
        {
            await book.MoveLegacyAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (RedisException e)
        {
            LogMoveFailed(logger, e);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }

        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(options.Value.SlashInterval, time, stoppingToken).ConfigureAwait(false);
                try
                {
                    foreach (var hash in await book.PendingAsync(stoppingToken).ConfigureAwait(false))
                    {
                        await slasher.StepAsync(hash, stoppingToken).ConfigureAwait(false);
                    }
                }
                catch (Exception e) when (e is RedisException or ToncenterException or HttpRequestException or TimeoutException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
                {
                    LogRoundFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = LogEvents.Slashing + 20, Level = LogLevel.Warning, Message = "No stake contract is configured (Ton:StakeContract): stakes are not checked and proven faults are not slashed")]
    private static partial void LogOff(ILogger logger);

    [LoggerMessage(EventId = LogEvents.Slashing + 22, Level = LogLevel.Error, Message = "Slashes recorded before the cluster hash tags could not be moved; the next start retries")]
    private static partial void LogMoveFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = LogEvents.Slashing + 21, Level = LogLevel.Warning, Message = "A slashing round failed; the next round retries")]
    private static partial void LogRoundFailed(ILogger logger, Exception exception);
}
