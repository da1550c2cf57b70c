using System.Globalization;
using StackExchange.Redis;

namespace Cocoon.Network.Transport;

/// <summary>
/// Stops a job the gateway no longer needs (the caller went away, the attempt timed out or failed): the gateway
/// publishes "attempt:mac:request id" on the worker's cancel channel and the worker cancels that job's generation,
/// which frees its sequence and slot at once instead of when the answer would have ended. The MAC (hex, made with the
/// job's control key, see <see cref="Cocoon.Engine.Crypto.JobControlKey"/>) is checked by the worker, so only the
/// gateway that sealed the job can stop it. Best effort by design: a cancel lost while the subscription reconnects
/// only means the job runs to its end, as it did before. The message holds ids and the MAC only.
/// </summary>
public sealed class JobCancellations(IConnectionMultiplexer redis, RedisKeys keys)
{
    /// <summary>Fire and forget: never delays or fails the caller's own clean-up.</summary>
    public void Cancel(string workerId, string requestId, int attempt, byte[] mac)
    {
        ArgumentNullException.ThrowIfNull(mac);
        try
        {
            redis.GetSubscriber().Publish(keys.WorkerCancel(workerId),
                attempt.ToString(CultureInfo.InvariantCulture) + ":" + Convert.ToHexStringLower(mac) + ":" + requestId, CommandFlags.FireAndForget);
        }
        catch (RedisException)
        {
            // Redis is away: the job runs to its end (or its deadline).
        }
    }

    /// <summary>
    /// Calls onCancel(requestId, attempt, mac) for each well-formed cancel sent to this worker until the result is
    /// disposed; the callee verifies the MAC.
    /// </summary>
    public async Task<IAsyncDisposable> SubscribeAsync(string workerId, Action<string, int, byte[]> onCancel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(onCancel);
        var channel = keys.WorkerCancel(workerId);
        var subscriber = redis.GetSubscriber();
        await subscriber.SubscribeAsync(channel, (_, message) =>
        {
            if (Parse((string?)message) is var (requestId, attempt, mac))
            {
                onCancel(requestId, attempt, mac);
            }
        }).WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Subscription(subscriber, channel);
    }

    private static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");

    /// <summary>"attempt:64 hex digits:request id", or null.</summary>
    internal static (string RequestId, int Attempt, byte[] Mac)? Parse(string? text)
    {
        var colon = text?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        if (colon <= 0 || !int.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var attempt))
        {
            return null;
        }

        var rest = text![(colon + 1)..];
        const int macHex = 64;
        if (rest.Length <= macHex + 1 || rest[macHex] != ':' || rest.AsSpan(0, macHex).ContainsAnyExcept(HexDigits))
        {
            return null;
        }

        return (rest[(macHex + 1)..], attempt, Convert.FromHexString(rest.AsSpan(0, macHex)));
    }

    private sealed class Subscription(ISubscriber subscriber, RedisChannel channel) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await subscriber.UnsubscribeAsync(channel).ConfigureAwait(false);
            }
            catch (RedisException)
            {
                // The connection is gone; the server drops the subscription with it.
            }
        }
    }
}
