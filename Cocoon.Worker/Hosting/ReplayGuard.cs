using System.Collections.Concurrent;

namespace Cocoon.Worker.Hosting;

/// <summary>
/// The encapsulated keys (HPKE enc) of the jobs this worker has opened, each kept until its job's deadline. A job is
/// sealed to a fresh ephemeral key, so a second job with an enc already here is a replay: running it again would
/// reuse the job's HPKE context, and with it the stream key and nonces, for a possibly different answer. Redis's
/// delivery count alone does not catch a job written again as a new entry. Bounded: past the deadline a replay is
/// refused as expired anyway (the deadline is bound into the HPKE info), so only unexpired entries need keeping,
/// and when those fill the cache new jobs are refused rather than an entry forgotten. Keys live in this process
/// only: a restarted worker has new X25519 keys, which open none of the old jobs.
/// </summary>
public sealed class ReplayGuard(int capacity, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);
    private readonly Lock _purgeLock = new();
    private long _records;

    public enum Outcome
    {
        /// <summary>First time: remembered until the deadline.</summary>
        Fresh,

        /// <summary>Seen before: a replay (or a duplicate entry); never run it.</summary>
        Replayed,

        /// <summary>The cache is full of unexpired jobs: refuse this one (the gateway re-dispatches it).</summary>
        Full,
    }

    public int Count => _seen.Count;

    /// <summary>True when enc was already recorded (a check that records nothing, for entries not yet authenticated).</summary>
    public bool Seen(ReadOnlySpan<byte> enc) => _seen.ContainsKey(Convert.ToBase64String(enc));

    /// <summary>Records an authenticated job's enc until its deadline.</summary>
    public Outcome TryRecord(ReadOnlySpan<byte> enc, DateTimeOffset deadline)
    {
        var key = Convert.ToBase64String(enc);

        // Expired entries are dropped now and then, so the cache stays near the number of jobs within their deadline.
        if (Interlocked.Increment(ref _records) % 1024 == 0 || _seen.Count >= capacity)
        {
            Purge();
        }

        if (_seen.Count >= capacity)
        {
            return _seen.ContainsKey(key) ? Outcome.Replayed : Outcome.Full;
        }

        return _seen.TryAdd(key, deadline) ? Outcome.Fresh : Outcome.Replayed;
    }

    private void Purge()
    {
        lock (_purgeLock)
        {
            var now = time.GetUtcNow();
            foreach (var (key, deadline) in _seen)
            {
                if (deadline <= now)
                {
                    _seen.TryRemove(key, out _);
                }
            }
        }
    }
}
