using System.Text.Json;
using Cocoon.Engine.Reputation;
using StackExchange.Redis;

namespace Cocoon.Bot.Reputation;

/// <summary>
/// Folds the updates this gateway makes to one reputation record at the same time into one compare-and-set. Under
/// load many outcomes of one worker (and more of one provider) arrive together; one compare-and-set each mostly failed
/// and retried (`./cocoon bench dispatch`, 2026-11-30: per dispatch 5.8 WATCH, 4.8 of them given up, 12.4 HGET, 47
/// Redis commands in all), and could run out of retries and lose the outcome. Updates are applied in arrival order;
/// each caller gets the state its flush wrote. Other gateways still meet at the compare-and-set.
/// </summary>
internal sealed class RecordCombiner
{
    private static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(5);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<Pending>> _queued = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flushing = new(StringComparer.Ordinal);

    // What each field held after this gateway's last write: the next compare-and-set starts from it without a read
    // (only one flush per field runs at a time; another gateway's change costs one retry).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, RedisValue> _known = new(StringComparer.Ordinal);

    public async Task<ReputationState> UpdateAsync(
        IDatabase db, RedisKey key, string field, Func<ReputationState, ReputationState> apply, Action<JsonException> unreadable, CancellationToken cancellationToken)
    {
        var pending = new Pending(apply, new TaskCompletionSource<ReputationState>(TaskCreationOptions.RunContinuationsAsynchronously));
        bool flush;
        lock (_gate)
        {
            if (!_queued.TryGetValue(field, out var list))
            {
                _queued[field] = list = [];
            }

            list.Add(pending);
            flush = _flushing.Add(field);
        }

        if (flush)
        {
            _ = FlushAsync(db, key, field, unreadable);
        }

        // The caller may stop waiting; its update is still written with the rest.
        return await pending.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task FlushAsync(IDatabase db, RedisKey key, string field, Action<JsonException> unreadable)
    {
        while (true)
        {
            List<Pending>? batch;
            lock (_gate)
            {
                if (!_queued.Remove(field, out batch))
                {
                    _flushing.Remove(field);
                    return;
                }
            }

            try
            {
                using var timeout = new CancellationTokenSource(FlushTimeout);
                var (next, stored) = await ReputationRecords.UpdateAsync(
                    db, key, field, s => batch.Aggregate(s, (state, p) => p.Apply(state)), unreadable, timeout.Token,
                    _known.TryGetValue(field, out var known) ? known : (RedisValue?)null).ConfigureAwait(false);
                _known[field] = stored;
                foreach (var p in batch)
                {
                    p.Done.TrySetResult(next);
                }
            }
#pragma warning disable CA1031 // every failure goes to the callers whose updates it carried, as their own call would have
            catch (Exception e)
#pragma warning restore CA1031
            {
                // Unknown whether it was written: read the field afresh next time.
                _known.TryRemove(field, out _);
                foreach (var p in batch)
                {
                    p.Done.TrySetException(e);
                }
            }
        }
    }

    private sealed record Pending(Func<ReputationState, ReputationState> Apply, TaskCompletionSource<ReputationState> Done);
}
