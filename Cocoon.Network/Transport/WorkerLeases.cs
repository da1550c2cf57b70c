using StackExchange.Redis;

namespace Cocoon.Network.Transport;

/// <summary>
/// In-flight jobs per worker, counted atomically in Redis so that any number of gateways together never exceed a
/// worker's concurrency cap. A lease expires by itself (a gateway that dies does not leak capacity).
/// </summary>
public sealed class WorkerLeases(IConnectionMultiplexer redis, RedisKeys keys)
{
    // Redis TIME, not the caller's clock: every gateway agrees on expiry even with skewed clocks.
    private const string AcquireScript = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
          redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
          return 1
        end
        if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
          return 0
        end
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
        redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 60000)
        return 1
        """;

    /// <summary>Takes one slot on the worker unless it already runs maxConcurrency leases. Idempotent per lease id.</summary>
    public async Task<bool> TryAcquireAsync(string workerId, string leaseId, int maxConcurrency, TimeSpan duration, CancellationToken cancellationToken)
    {
        var result = await redis.GetDatabase().ScriptEvaluateAsync(
            AcquireScript,
            [keys.Leases(workerId)],
            [leaseId, (long)Math.Ceiling(duration.TotalMilliseconds), maxConcurrency]).WaitAsync(cancellationToken).ConfigureAwait(false);
        return (int)result == 1;
    }

    public Task ReleaseAsync(string workerId, string leaseId, CancellationToken cancellationToken) =>
        redis.GetDatabase().SortedSetRemoveAsync(keys.Leases(workerId), leaseId).WaitAsync(cancellationToken);
}
