using System.Collections.Concurrent;
using System.Collections.Frozen;

namespace Cocoon.Bot.Observability;

/// <summary>
/// Keeps a metric label's values to a bounded set, because every distinct value is a new series in Prometheus for as
/// long as the process lives: values of the fixed vocabulary pass, the first <c>maxOthers</c> values outside it pass
/// too (model names, reasons a worker reports), and everything after that is counted as "other".
/// </summary>
public sealed class BoundedLabel(IEnumerable<string> vocabulary, int maxOthers)
{
    public const string Other = "other";

    private readonly FrozenSet<string> _vocabulary = vocabulary.ToFrozenSet(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _others = new(StringComparer.Ordinal);

    public IReadOnlySet<string> Vocabulary => _vocabulary;

    public string this[string? value] => value switch
    {
        null or "" => Other,
        _ when _vocabulary.Contains(value) => value,
        _ when _others.ContainsKey(value) => value,
        // Admission is approximate under races (a few more than maxOthers may slip in), which still bounds it.
        _ when _others.Count < maxOthers && value.Length <= 64 && _others.TryAdd(value, 0) => value,
        _ => Other,
    };
}
