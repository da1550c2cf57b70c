namespace Cocoon.Worker.Inference;

/// <summary>
/// Idle sequences that still hold a finished job's KV cells, for the next job of the same cache scope. The worker runs
/// one KV stream per sequence (Llama:KvUnified off), and cells cannot be copied between streams, so a cached prefix
/// stays in the sequence that computed it: the next job of that scope is given the same sequence id and the cells
/// past the common prefix are removed (llama_memory_seq_rm). An entry is never shared across scopes. The total of
/// tokens held is kept within a budget by dropping the least recently used entries. Decode thread only.
/// </summary>
internal sealed class PrefixCache
{
    private readonly Dictionary<int, Entry> _entries = [];
    private long _clock;
    private long _heldTokens;

    public PrefixCache(int budgetTokens)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(budgetTokens);
        BudgetTokens = budgetTokens;
    }

    /// <summary>Most tokens held in idle sequences together; 0 turns the cache off.</summary>
    public int BudgetTokens { get; }

    public bool Enabled => BudgetTokens > 0;

    /// <summary>Idle sequences holding cells.</summary>
    public int Count => _entries.Count;

    public long HeldTokens => _heldTokens;

    /// <summary>
    /// The cached sequence of <paramref name="scope"/> that shares the longest prefix with <paramref name="prompt"/>
    /// (the most recent one on a tie), taken out of the cache, and how many of its tokens the job may keep: at most
    /// prompt length - 1, because the last prompt token must be decoded to give the first logits. False when no entry
    /// of this scope shares even one token.
    /// </summary>
    public bool TryTake(string scope, ReadOnlySpan<int> prompt, out int seqId, out int prefix)
    {
        ArgumentNullException.ThrowIfNull(scope);
        seqId = -1;
        prefix = 0;
        long stamp = -1;
        foreach (var (id, entry) in _entries)
        {
            if (!string.Equals(entry.Scope, scope, StringComparison.Ordinal))
            {
                continue;
            }

            var common = prompt[..Math.Max(0, prompt.Length - 1)].CommonPrefixLength(entry.Tokens);
            if (common > prefix || (common == prefix && common > 0 && entry.Stamp > stamp))
            {
                seqId = id;
                prefix = common;
                stamp = entry.Stamp;
            }
        }

        if (prefix == 0)
        {
            seqId = -1;
            return false;
        }

        Remove(seqId);
        return true;
    }

    /// <summary>
    /// Keeps the cells of a finished sequence for its scope. Returns the sequence ids that must be cleared and
    /// freed to stay within the budget (least recently used first; <paramref name="seqId"/> itself when it alone is
    /// over the budget).
    /// </summary>
    public IReadOnlyList<int> Keep(int seqId, string scope, int[] tokens)
    {
        ArgumentNullException.ThrowIfNull(scope);
        ArgumentNullException.ThrowIfNull(tokens);
        if (!Enabled || tokens.Length == 0 || tokens.Length > BudgetTokens)
        {
            return [seqId];
        }

        _entries.Add(seqId, new Entry(scope, tokens, ++_clock));
        _heldTokens += tokens.Length;
        var evicted = new List<int>();
        while (_heldTokens > BudgetTokens)
        {
            var oldest = EvictOldest();
            evicted.Add(oldest);
        }

        return evicted;
    }

    /// <summary>Drops the least recently used entry and returns its sequence id (the caller clears its cells); the cache must not be empty.</summary>
    public int EvictOldest()
    {
        if (_entries.Count == 0)
        {
            throw new InvalidOperationException("The prefix cache is empty.");
        }

        var oldest = _entries.MinBy(e => e.Value.Stamp).Key;
        Remove(oldest);
        return oldest;
    }

    private void Remove(int seqId)
    {
        if (_entries.Remove(seqId, out var entry))
        {
            _heldTokens -= entry.Tokens.Length;
        }
    }

    private sealed record Entry(string Scope, int[] Tokens, long Stamp);
}
