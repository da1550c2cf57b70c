using Cocoon.Network.Access;
using Cocoon.Network.Transport;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Bot.Join;

/// <summary>
/// Cleans up after workers that left without saying so: once a joined worker's registry entry has been gone for
/// Gateway:Join:CleanupAfter, its Redis user and join record are deleted. A worker whose provider certificate expired
/// loses its Redis user (its next heartbeat fails and the gateway tells it why). Several gateways may sweep; deleting
/// twice is harmless.
/// </summary>
public sealed partial class JoinSweeper(
    WorkerJoins joins,
    WorkerAccess access,
    IConnectionMultiplexer redis,
    RedisKeys keys,
    IOptions<JoinOptions> options,
    TimeProvider time,
    ILogger<JoinSweeper> logger) : BackgroundService
{
    private readonly Dictionary<string, DateTimeOffset> _missingSince = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await SweepAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is RedisException or TimeoutException && !stoppingToken.IsCancellationRequested)
                {
                    LogSweepFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var db = redis.GetDatabase();
        foreach (var workerId in await joins.ListJoinedAsync(cancellationToken).ConfigureAwait(false))
        {
            await CutOffExpiredAsync(workerId, now, cancellationToken).ConfigureAwait(false);
            if (await db.KeyExistsAsync(keys.Worker(workerId)).WaitAsync(cancellationToken).ConfigureAwait(false))
            {
                _missingSince.Remove(workerId);
                continue;
            }

            if (!_missingSince.TryGetValue(workerId, out var since))
            {
                _missingSince[workerId] = now;
                continue;
            }

            if (now - since < options.Value.CleanupAfter || await joins.GetAsync(workerId, cancellationToken).ConfigureAwait(false) is not { } record)
            {
                continue;
            }

            await access.DeleteAsync(workerId, cancellationToken).ConfigureAwait(false);
            await joins.RemoveAsync(workerId, record.ProviderId, cancellationToken).ConfigureAwait(false);
            _missingSince.Remove(workerId);
            LogCleanedUp(logger, workerId, record.ProviderId);
        }
    }

    private async Task CutOffExpiredAsync(string workerId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (await joins.GetAsync(workerId, cancellationToken).ConfigureAwait(false) is { State: JoinStates.Joined or JoinStates.Paused, CertificateExpires: { } expires } record
            && expires <= now)
        {
            await access.DeleteAsync(workerId, cancellationToken).ConfigureAwait(false);
            await joins.SetStateAsync(workerId, JoinStates.Revoked, JoinRefusals.CertificateExpired,
                $"worker {workerId}: the certificate expired at {expires:u}", cancellationToken).ConfigureAwait(false);
            LogCertificateExpired(logger, workerId, record.ProviderId);
        }
    }

    [LoggerMessage(EventId = LogEvents.Join + 5, Level = LogLevel.Information, Message = "Worker {WorkerId} of provider {ProviderId}: its certificate expired, its Redis user is deleted")]
    private static partial void LogCertificateExpired(ILogger logger, string workerId, string providerId);

    [LoggerMessage(EventId = LogEvents.Join + 3, Level = LogLevel.Information, Message = "Worker {WorkerId} of provider {ProviderId} left: its Redis user and join record are deleted")]
    private static partial void LogCleanedUp(ILogger logger, string workerId, string providerId);

    [LoggerMessage(EventId = LogEvents.Join + 4, Level = LogLevel.Warning, Message = "Cleaning up after workers that left failed; trying again at the next sweep")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
