using Cocoon.Engine.Protocol;
using Cocoon.Network.Transport;
using Cocoon.Network.Tests.Transport;
using StackExchange.Redis;

namespace Cocoon.Network.Tests.Access;

/// <summary>
/// A worker's side of the transport on its own ACL user's connections (the real JobStreams, ResultStreams and
/// WorkerRegistry), for the access tests on one server and on a cluster; and the refusal everything else gets.
/// </summary>
internal sealed class WorkerLoop(IConnectionMultiplexer connection, RedisKeys keys, BlockingReads blocking)
{
    public JobStreams Jobs { get; } = new(connection, keys, blocking);

    public ResultStreams Results { get; } = new(connection, keys, blocking);

    public WorkerRegistry Registry { get; } = new(connection, keys, TimeProvider.System);

    /// <summary>
    /// One turn of <paramref name="workerId"/>'s loop: its group, the job <paramref name="requestId"/> that the gateway
    /// enqueues read (nothing to reclaim), a heartbeat, and the result appended to the gateway's stream "gw" with the
    /// job's ack.
    /// </summary>
    public async Task RunOnceAsync(string workerId, string requestId, JobStreams gatewayJobs, CancellationToken ct)
    {
        await Jobs.EnsureGroupAsync(workerId, ct);
        await gatewayJobs.EnqueueAsync(TransportSamples.Job(workerId, requestId), ct);
        var entry = Assert.Single(await Jobs.ReadAsync(workerId, workerId, 10, TimeSpan.FromSeconds(1), ct));
        Assert.Empty(await Jobs.ReclaimAsync(workerId, workerId, TimeSpan.FromMinutes(1), 10, ct));
        await Registry.PublishAsync(TransportSamples.Registration(workerId), new WorkerLoad(0, 2, 0, 0, DateTimeOffset.UtcNow), TimeSpan.FromSeconds(30), ct, announce: false);
        await Results.AppendAndAcknowledgeAsync("gw", TransportSamples.Result(requestId), workerId, entry.EntryId, ct);
    }

    public static async Task AssertNoPermAsync(Func<Task> action)
    {
        var e = await Assert.ThrowsAsync<RedisServerException>(action);
        Assert.StartsWith("NOPERM", e.Message, StringComparison.Ordinal);
    }
}
