namespace Cocoon.Worker.Inference;

/// <summary>
/// Sequence ids of one context, handed out lowest first. With one KV stream per sequence llama.cpp puts only
/// sequences with consecutive increasing ids into one micro-batch (llama_batch_allocr::split_equal, sequential): a
/// batch in any other order, or with gaps, is decoded as several graphs, one per run of consecutive ids. Lowest-first
/// keeps the ids in use dense, and <see cref="Order{T}"/> keeps a batch in id order.
/// </summary>
internal sealed class SequenceSlots
{
    private readonly SortedSet<int> _free;

    public SequenceSlots(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        _free = [.. Enumerable.Range(0, count)];
    }

    public int Free => _free.Count;

    /// <summary>The lowest free id; the caller checks <see cref="Free"/> first.</summary>
    public int Take()
    {
        if (_free.Count == 0)
        {
            throw new InvalidOperationException("No free sequence.");
        }

        var id = _free.Min;
        _free.Remove(id);
        return id;
    }

    public void Return(int id)
    {
        if (!_free.Add(id))
        {
            throw new InvalidOperationException($"Sequence {id} is already free.");
        }
    }

    /// <summary>Inserts <paramref name="item"/> into <paramref name="list"/>, which is kept ordered by id.</summary>
    public static void Order<T>(List<T> list, T item, Func<T, int> id)
    {
        ArgumentNullException.ThrowIfNull(list);
        ArgumentNullException.ThrowIfNull(id);
        var key = id(item);
        var at = list.FindIndex(x => id(x) > key);
        list.Insert(at < 0 ? list.Count : at, item);
    }
}
