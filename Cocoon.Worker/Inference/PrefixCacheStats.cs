namespace Cocoon.Worker.Inference;

/// <summary>
/// Prefix-cache counters since start: jobs with a cache scope (lookups), those that started from a cached prefix
/// (hits), the prompt tokens not decoded again thanks to it, and idle sequences whose cells were dropped to make room.
/// </summary>
public sealed record PrefixCacheStats(long Lookups, long Hits, long CachedTokens, long Evictions)
{
    public double HitRate => Lookups == 0 ? 0 : (double)Hits / Lookups;
}
