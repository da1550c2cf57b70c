using System.Text.Json;
using Cocoon.Engine.Protocol;
using StackExchange.Redis;

namespace Cocoon.Network.Transport;

/// <summary>An entry read from a job stream: the raw payload (parsed by the worker, which dead-letters garbage).</summary>
public sealed record JobEntry(string EntryId, byte[]? Payload, long Deliveries)
{
    /// <summary>When the read that brought it returned (<see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>; 0 for a reclaimed entry): a stage mark only.</summary>
    public long ReadAt { get; init; }
}

/// <summary>
/// One stream per worker with a consumer group. Gateways XADD sealed jobs; the worker reads with a blocking
/// XREADGROUP on its own connection (<see cref="BlockingReads"/>), acknowledges an entry only after its result is
/// durable, reclaims stuck entries with XAUTOCLAIM and moves poison ones to the dead-letter stream.
/// </summary>
public sealed class JobStreams(IConnectionMultiplexer redis, RedisKeys keys, BlockingReads blocking)
{
    public const string PayloadField = "job";

    private const int DeadLetterMaxLength = 10_000;

    public async Task<string> EnqueueAsync(JobEnvelope job, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        var payload = JsonSerializer.SerializeToUtf8Bytes(job, WireJsonContext.Default.JobEnvelope);
        var id = await redis.GetDatabase().StreamAddAsync(keys.Jobs(job.WorkerId), PayloadField, payload).WaitAsync(cancellationToken).ConfigureAwait(false);
        return id!;
    }

    /// <summary>Creates the stream and its group if missing. Group from 0: jobs enqueued before the worker's first start are delivered too.</summary>
    public async Task EnsureGroupAsync(string workerId, CancellationToken cancellationToken)
    {
        try
        {
            await redis.GetDatabase().StreamCreateConsumerGroupAsync(keys.Jobs(workerId), RedisKeys.WorkerGroup, "0", createStream: true)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
        }
    }

    /// <summary>
    /// New entries for this consumer (XREADGROUP &gt;), waiting up to block for one to arrive. The wait happens on the
    /// blocking connection, never on the shared multiplexer.
    /// </summary>
    public async Task<IReadOnlyList<JobEntry>> ReadAsync(string workerId, string consumer, int count, TimeSpan block, CancellationToken cancellationToken)
    {
        RedisResult reply;
        try
        {
            reply = await blocking.Database.ExecuteAsync("XREADGROUP",
                ["GROUP", RedisKeys.WorkerGroup, consumer, "COUNT", count, "BLOCK", BlockingReads.BlockMilliseconds(block), "STREAMS", keys.Jobs(workerId), ">"])
                .WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOGROUP", StringComparison.Ordinal))
        {
            // The stream expired or Redis lost it; recreate and read next time.
            await EnsureGroupAsync(workerId, cancellationToken).ConfigureAwait(false);
            return [];
        }

        var readAt = System.Diagnostics.Stopwatch.GetTimestamp();
        return [.. BlockingReads.Entries(reply, PayloadField).Select(e => new JobEntry(e.Id, e.Value, 1) { ReadAt = readAt })];
    }

    /// <summary>
    /// Claims entries another consumer (or an earlier run of this worker) read but never acknowledged within minIdle,
    /// with how often each has now been delivered.
    /// </summary>
    public async Task<IReadOnlyList<JobEntry>> ReclaimAsync(string workerId, string consumer, TimeSpan minIdle, int count, CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        var key = keys.Jobs(workerId);
        StreamAutoClaimResult claimed;
        try
        {
            claimed = await db.StreamAutoClaimAsync(key, RedisKeys.WorkerGroup, consumer, (long)minIdle.TotalMilliseconds, "0-0", count)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOGROUP", StringComparison.Ordinal))
        {
            return [];
        }

        var result = new List<JobEntry>(claimed.ClaimedEntries.Length);
        foreach (var entry in claimed.ClaimedEntries)
        {
            var pending = await db.StreamPendingMessagesAsync(key, RedisKeys.WorkerGroup, 1, consumer, entry.Id, entry.Id)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
            result.Add(new JobEntry(entry.Id!, Payload(entry), pending.Length > 0 ? pending[0].DeliveryCount : 1));
        }

        // XAUTOCLAIM also reports entries deleted while pending (e.g. trimmed): they cannot be run, just acknowledge them.
        if (claimed.DeletedIds.Length > 0)
        {
            await db.StreamAcknowledgeAsync(key, RedisKeys.WorkerGroup, claimed.DeletedIds).WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        return result;
    }

    /// <summary>Acknowledges and deletes the entry: a sealed job has no use once its result is durable.</summary>
    public async Task AcknowledgeAsync(string workerId, string entryId, CancellationToken cancellationToken)
    {
        var tx = redis.GetDatabase().CreateTransaction();
        _ = tx.StreamAcknowledgeAsync(keys.Jobs(workerId), RedisKeys.WorkerGroup, entryId);
        _ = tx.StreamDeleteAsync(keys.Jobs(workerId), [entryId]);
        await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Moves an entry to the dead-letter stream with the reason, then acknowledges it, atomically.</summary>
    public async Task DeadLetterAsync(string workerId, JobEntry entry, string reason, string? requestId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var letter = new DeadLetter
        {
            Reason = reason,
            Stream = keys.Jobs(workerId).ToString(),
            EntryId = entry.EntryId,
            RequestId = requestId,
            WorkerId = workerId,
            Deliveries = entry.Deliveries,
            At = DateTimeOffset.UtcNow,
            Payload = entry.Payload,
        };
        var bytes = JsonSerializer.SerializeToUtf8Bytes(letter, WireJsonContext.Default.DeadLetter);
        if (RedisTopology.IsCluster(redis))
        {
            // Two slots: the letter first, then the acknowledgement (a crash in between may file the letter twice, never lose it).
            var db = redis.GetDatabase();
            await db.StreamAddAsync(keys.DeadLetters, "letter", bytes, maxLength: DeadLetterMaxLength, useApproximateMaxLength: true)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
            var ack = db.CreateTransaction();
            _ = ack.StreamAcknowledgeAsync(keys.Jobs(workerId), RedisKeys.WorkerGroup, entry.EntryId);
            _ = ack.StreamDeleteAsync(keys.Jobs(workerId), [entry.EntryId]);
            await ack.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        var tx = redis.GetDatabase().CreateTransaction();
        _ = tx.StreamAddAsync(keys.DeadLetters, "letter", bytes,
            maxLength: DeadLetterMaxLength, useApproximateMaxLength: true);
        _ = tx.StreamAcknowledgeAsync(keys.Jobs(workerId), RedisKeys.WorkerGroup, entry.EntryId);
        _ = tx.StreamDeleteAsync(keys.Jobs(workerId), [entry.EntryId]);
        await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<DeadLetter>> ReadDeadLettersAsync(int count, CancellationToken cancellationToken)
    {
        var entries = await redis.GetDatabase().StreamRangeAsync(keys.DeadLetters, "-", "+", count).WaitAsync(cancellationToken).ConfigureAwait(false);
        return [.. entries.Select(e => JsonSerializer.Deserialize((byte[])e["letter"]!, WireJsonContext.Default.DeadLetter)!)];
    }

    private static byte[]? Payload(StreamEntry entry)
    {
        var value = entry[PayloadField];
        return value.IsNull ? null : (byte[])value!;
    }
}
