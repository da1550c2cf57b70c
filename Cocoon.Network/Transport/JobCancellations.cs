using System.Globalization;
using StackExchange.Redis;

namespace Cocoon.Network.Transport;

/// <summary>
/// Stops a job the gateway no longer needs (the caller went away, the attempt timed out or failed): the gateway
/// publishes "attempt:mac:request id" on the worker's cancel channel and the worker cancels that job's generation,
/// which frees its sequence and slot at once instead of when the answer would have ended. The MAC (hex, made with the
/// job's control key, see <see cref="Cocoon.Engine.Crypto.JobControlKey"/>) is checked by the worker, so only the
/// gateway that sealed the job can stop it. Best effort by design: a cancel lost while the subscription reconnects
/// only means the job runs to its end, as it did before. The message holds ids and the MAC only. A stop after the
/// caller took part of the answer says how many chunks the gateway took ("attempt/chunks:mac:request id", the MAC then
/// covers the count too): the worker signs a receipt for exactly those.
/// </summary>
public sealed class JobCancellations(IConnectionMultiplexer redis, RedisKeys keys)
{
    /// <summary>
    /// Fire and forget: never delays or fails the caller's own clean-up. <paramref name="chunksTaken"/>: how many chunks
    /// of the answer the gateway took before it stopped the job (the MAC must then be the stop MAC over that count).
    /// </summary>
    public void Cancel(string workerId, string requestId, int attempt, byte[] mac, long? chunksTaken = null)
    {
        ArgumentNullException.ThrowIfNull(mac);
        var head = attempt.ToString(CultureInfo.InvariantCulture)
            + (chunksTaken is { } n ? "/" + n.ToString(CultureInfo.InvariantCulture) : string.Empty);
        try
        {
            redis.GetSubscriber().Publish(keys.WorkerCancel(workerId),
                head + ":" + Convert.ToHexStringLower(mac) + ":" + requestId, CommandFlags.FireAndForget);
        }
        catch (RedisException)
        {
            // Redis is away: the job runs to its end (or its deadline).
        }
    }

    /// <summary>
    /// Calls onCancel(requestId, attempt, mac, chunksTaken) for each well-formed cancel sent to this worker until the
    /// result is disposed; the callee verifies the MAC.
    /// </summary>
    public async Task<IAsyncDisposable> SubscribeAsync(string workerId, Action<string, int, byte[], long?> onCancel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(onCancel);
        var channel = keys.WorkerCancel(workerId);
        var subscriber = redis.GetSubscriber();
        await subscriber.SubscribeAsync(channel, (_, message) =>
        {
            if (Parse((string?)message) is var (requestId, attempt, mac, chunks))
            {
                onCancel(requestId, attempt, mac, chunks);
            }
        }).WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Subscription(subscriber, channel);
    }

    private static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");

    /// <summary>"attempt[/chunks taken]:64 hex digits:request id", or null.</summary>
    internal static (string RequestId, int Attempt, byte[] Mac, long? ChunksTaken)? Parse(string? text)
    {
        var colon = text?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        if (colon <= 0)
        {
            return null;
        }

        var head = text.AsSpan(0, colon);
        long? chunks = null;
        var slash = head.IndexOf('/');
        if (slash >= 0)
        {
            if (!long.TryParse(head[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                return null;
            }

            chunks = n;
            head = head[..slash];
        }

        if (!int.TryParse(head, NumberStyles.None, CultureInfo.InvariantCulture, out var attempt))
        {
            return null;
        }

        var rest = text![(colon + 1)..];
        const int macHex = 64;
        if (rest.Length <= macHex + 1 || rest[macHex] != ':' || rest.AsSpan(0, macHex).ContainsAnyExcept(HexDigits))
        {
            return null;
        }

        return (rest[(macHex + 1)..], attempt, Convert.FromHexString(rest.AsSpan(0, macHex)), chunks);
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
