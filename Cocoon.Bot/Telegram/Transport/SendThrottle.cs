namespace Cocoon.Bot.Telegram.Transport;

/// <summary>
/// A token bucket over every outgoing message of the bot: Telegram allows about 30 messages a second across all
/// chats. Callers wait for a token instead of being refused, so bursts are smoothed, not dropped.
/// </summary>
public sealed class SendThrottle
{
    private readonly TimeProvider _time;
    private readonly double _perSecond;
    private readonly double _burst;
    private readonly Lock _lock = new();
    private double _tokens;
    private long _last;

    public SendThrottle(TimeProvider time, double perSecond, double burst)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perSecond);
        _time = time;
        _perSecond = perSecond;
        _burst = Math.Max(1, burst);
        _tokens = _burst;
        _last = time.GetTimestamp();
    }

    public async Task AcquireAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            TimeSpan wait;
            lock (_lock)
            {
                var now = _time.GetTimestamp();
                _tokens = Math.Min(_burst, _tokens + (_time.GetElapsedTime(_last, now).TotalSeconds * _perSecond));
                _last = now;
                if (_tokens >= 1)
                {
                    _tokens -= 1;
                    return;
                }

                wait = TimeSpan.FromSeconds((1 - _tokens) / _perSecond);
            }

            await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
        }
    }
}
