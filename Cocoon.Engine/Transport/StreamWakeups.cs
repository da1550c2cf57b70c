using StackExchange.Redis;

namespace Cocoon.Engine.Transport;

/// <summary>
/// Why not XREAD BLOCK: a blocking read would stall every other command pipelined on the shared multiplexer, and
/// a second connection per reader would not scale with gateways × workers. Instead readers poll without BLOCK and
/// writers PUBLISH a tiny nudge after each XADD; the nudge wakes the reader at once, and a slow fallback poll covers
/// a nudge lost while the subscription reconnects. The nudge carries no data, so losing one only costs latency.
/// </summary>
public sealed class StreamWakeups(IConnectionMultiplexer redis)
{
    public async Task<Wakeup> SubscribeAsync(RedisChannel channel, CancellationToken cancellationToken)
    {
        var wakeup = new Wakeup(redis.GetSubscriber(), channel);
        await redis.GetSubscriber().SubscribeAsync(channel, (_, _) => wakeup.Signal()).WaitAsync(cancellationToken).ConfigureAwait(false);
        return wakeup;
    }

    public void Nudge(RedisChannel channel) =>
        redis.GetSubscriber().Publish(channel, RedisValue.EmptyString, CommandFlags.FireAndForget);
}

/// <summary>A level-triggered wake signal: many nudges while the reader is busy collapse into one wake.</summary>
public sealed class Wakeup : IAsyncDisposable
{
    private readonly ISubscriber _subscriber;
    private readonly RedisChannel _channel;
    private readonly SemaphoreSlim _signal = new(0, 1);

    internal Wakeup(ISubscriber subscriber, RedisChannel channel)
    {
        _subscriber = subscriber;
        _channel = channel;
    }

    /// <summary>Wakes the reader (also used locally, e.g. when a slot frees up).</summary>
    public void Signal()
    {
        try
        {
            if (_signal.CurrentCount == 0)
            {
                _signal.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // Raced with another nudge: one pending wake is all we need.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Waits for a nudge or the fallback poll interval, whichever comes first.</summary>
    public Task WaitAsync(TimeSpan fallback, CancellationToken cancellationToken) =>
        _signal.WaitAsync(fallback, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _subscriber.UnsubscribeAsync(_channel).ConfigureAwait(false);
        }
        catch (RedisException)
        {
            // The connection is gone; the server drops the subscription with it.
        }

        _signal.Dispose();
    }
}
