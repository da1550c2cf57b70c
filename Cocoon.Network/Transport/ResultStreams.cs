using System.Text.Json;
using Cocoon.Engine.Protocol;
using StackExchange.Redis;

namespace Cocoon.Network.Transport;

public sealed record ResultEntry(string EntryId, ResultEnvelope? Envelope);

/// <summary>
/// One result stream per gateway instance. Workers XADD sealed chunks and receipts; the gateway reads with a blocking
/// XREAD on its own connection from its last id (no consumer group: the in-flight requests the entries belong to live
/// only in that gateway's memory, so nobody else could use them) and deletes what it consumed.
/// </summary>
public sealed class ResultStreams(IConnectionMultiplexer redis, RedisKeys keys, BlockingReads blocking)
{
    public const string PayloadField = "result";

    /// <summary>Appends a result; when this returns, Redis has it (and with appendfsync always, on disk).</summary>
    public async Task<string> AppendAsync(string gatewayId, ResultEnvelope result, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(result);
        var payload = JsonSerializer.SerializeToUtf8Bytes(result, WireJsonContext.Default.ResultEnvelope);
        var id = await redis.GetDatabase().StreamAddAsync(keys.Results(gatewayId), PayloadField, payload).WaitAsync(cancellationToken).ConfigureAwait(false);
        return id!;
    }

    /// <summary>
    /// Appends a job's last result and acknowledges (and deletes) the job's entry in one transaction: the entry leaves
    /// the pending list in the same step that makes its result durable, never before it, and MULTI/EXEC goes out in one
    /// write. (Not a script: Redis checks a script's declared keys for read and write, and a joined worker may only
    /// append to result streams, never read them.) Retrying after an unknown outcome may append the result twice; the
    /// gateway drops the copy by its sequence number, and XACK/XDEL are idempotent.
    /// </summary>
    public async Task<string> AppendAndAcknowledgeAsync(string gatewayId, ResultEnvelope result, string workerId, string jobEntryId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(result);
        var payload = JsonSerializer.SerializeToUtf8Bytes(result, WireJsonContext.Default.ResultEnvelope);
        if (RedisTopology.IsCluster(redis))
        {
            // The gateway's stream and the worker's are in different slots: the result is made durable first and the
            // entry acknowledged after, never before. A crash in between leaves the entry pending; its redelivery is
            // refused by the worker's replay guard (or finds nobody listening) and the gateway already has the result.
            var db = redis.GetDatabase();
            var added = await db.StreamAddAsync(keys.Results(gatewayId), PayloadField, payload).WaitAsync(cancellationToken).ConfigureAwait(false);
            var ack = db.CreateTransaction();
            _ = ack.StreamAcknowledgeAsync(keys.Jobs(workerId), RedisKeys.WorkerGroup, jobEntryId);
            _ = ack.StreamDeleteAsync(keys.Jobs(workerId), [jobEntryId]);
            await ack.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            return added.ToString();
        }

        var tx = redis.GetDatabase().CreateTransaction();
        var id = tx.StreamAddAsync(keys.Results(gatewayId), PayloadField, payload);
        _ = tx.StreamAcknowledgeAsync(keys.Jobs(workerId), RedisKeys.WorkerGroup, jobEntryId);
        _ = tx.StreamDeleteAsync(keys.Jobs(workerId), [jobEntryId]);
        await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        return (await id.ConfigureAwait(false)).ToString();
    }

    /// <summary>
    /// Entries after afterId (exclusive), oldest first, waiting up to block for one to arrive (on the blocking
    /// connection). Malformed entries come back with a null envelope.
    /// </summary>
    public async Task<IReadOnlyList<ResultEntry>> ReadAsync(string gatewayId, string afterId, int count, TimeSpan block, CancellationToken cancellationToken)
    {
        var reply = await blocking.Database.ExecuteAsync("XREAD",
            ["COUNT", count, "BLOCK", BlockingReads.BlockMilliseconds(block), "STREAMS", keys.Results(gatewayId), afterId])
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        var entries = BlockingReads.Entries(reply, PayloadField);
        var result = new List<ResultEntry>(entries.Count);
        foreach (var (id, value) in entries)
        {
            ResultEnvelope? envelope = null;
            if (value is not null)
            {
                try
                {
                    envelope = JsonSerializer.Deserialize(value, WireJsonContext.Default.ResultEnvelope);
                }
                catch (JsonException)
                {
                }
            }

            result.Add(new ResultEntry(id, envelope is { Version: WireVersion.Current } ? envelope : null));
        }

        return result;
    }

    public Task DeleteAsync(string gatewayId, IReadOnlyList<string> entryIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entryIds);
        return entryIds.Count == 0
            ? Task.CompletedTask
            : redis.GetDatabase().StreamDeleteAsync(keys.Results(gatewayId), [.. entryIds.Select(i => (RedisValue)i)]).WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Deletes consumed entries without waiting for the reply: the reader goes on from its last id, so a delete that
    /// is lost only leaves sealed bytes until the stream's TTL, and not waiting saves the reader a round trip per batch
    /// (the XDEL is pipelined ahead of the next XREAD on the same connection).
    /// </summary>
    public void DeleteInBackground(string gatewayId, IReadOnlyList<string> entryIds)
    {
        ArgumentNullException.ThrowIfNull(entryIds);
        if (entryIds.Count > 0)
        {
            redis.GetDatabase().StreamDelete(keys.Results(gatewayId), [.. entryIds.Select(i => (RedisValue)i)], CommandFlags.FireAndForget);
        }
    }

    /// <summary>Keeps a live gateway's stream; a dead gateway's stream expires by itself.</summary>
    public Task TouchAsync(string gatewayId, TimeSpan ttl, CancellationToken cancellationToken) =>
        redis.GetDatabase().KeyExpireAsync(keys.Results(gatewayId), ttl).WaitAsync(cancellationToken);
}
