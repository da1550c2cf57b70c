using System.Collections.Concurrent;

namespace Cocoon.Bot.Telegram.Groups;

/// <summary>
/// Telegram's ~20 messages a minute per group, as a sliding window of reserved send times. An answer either gets a
/// slot now, or a slot within the allowed wait (the caller waits for it), or is declined (the caller says so politely).
/// </summary>
public sealed class GroupRateLimiter(TimeProvider time, int perMinute)
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private readonly ConcurrentDictionary<long, Queue<DateTimeOffset>> _slots = new();

    /// <summary>How long to wait for a slot (zero: send now), or null when that would exceed maxWait.</summary>
    public TimeSpan? Reserve(long chatId, TimeSpan maxWait)
    {
        var slots = _slots.GetOrAdd(chatId, _ => new Queue<DateTimeOffset>());
        lock (slots)
        {
            var now = time.GetUtcNow();
            while (slots.Count > 0 && slots.Peek() <= now - Window)
            {
                slots.Dequeue();
            }

            if (slots.Count < perMinute)
            {
                slots.Enqueue(now);
                return TimeSpan.Zero;
            }

            // The slot frees when the message sent `perMinute` messages ago leaves the window.
            var at = slots.ElementAt(slots.Count - perMinute) + Window;
            var wait = at - now;
            if (wait > maxWait)
            {
                return null;
            }

            slots.Enqueue(at);
            return wait;
        }
    }

    public void Forget(long chatId) => _slots.TryRemove(chatId, out _);
}
