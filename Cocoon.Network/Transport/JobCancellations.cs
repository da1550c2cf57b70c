using System.Globalization;
using StackExchange.Redis;

namespace Cocoon.Network.Transport;

/// <summary>
/// Stops a job the gateway no longer needs (the caller went away, the attempt timed out or failed): the gateway
/// publishes "attempt:request id" on the worker's cancel channel and the worker cancels that job's generation, which
/// frees its sequence and slot at once instead of when the answer would have ended. Best effort by design: a cancel
/// lost while the subscription reconnects only means the job runs to its end, as it did before. The message holds
/// ids only.
/// </summary>
public sealed class JobCancellations(IConnectionMultiplexer redis, RedisKeys keys)
{
    /// <summary>Fire and forget: never delays or fails the caller's own clean-up.</summary>
    public void Cancel(string workerId, string requestId, int attempt)
    {
        try
        {
            redis.GetSubscriber().Publish(keys.WorkerCancel(workerId), attempt.ToString(CultureInfo.InvariantCulture) + ":" + requestId, CommandFlags.FireAndForget);
        }
        catch (RedisException)
        {
            // Redis is away: the job runs to its end (or its deadline).
        }
    }

    /// <summary>Calls onCancel(requestId, attempt) for each cancel sent to this worker until the result is disposed.</summary>
    public async Task<IAsyncDisposable> SubscribeAsync(string workerId, Action<string, int> onCancel, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(onCancel);
        var channel = keys.WorkerCancel(workerId);
        var subscriber = redis.GetSubscriber();
        await subscriber.SubscribeAsync(channel, (_, message) =>
        {
            var text = (string?)message;
            var colon = text?.IndexOf(':', StringComparison.Ordinal) ?? -1;
            if (colon > 0 && int.TryParse(text.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var attempt))
            {
                onCancel(text![(colon + 1)..], attempt);
            }
        }).WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Subscription(subscriber, channel);
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
