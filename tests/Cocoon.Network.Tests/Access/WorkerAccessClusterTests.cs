using Cocoon.Engine.Protocol;
using Cocoon.Network.Access;
using Cocoon.Network.Transport;
using Cocoon.Network.Tests.Transport;
using Cocoon.Testing;
using StackExchange.Redis;

namespace Cocoon.Network.Tests.Access;

/// <summary>
/// Redis ACL users per worker on a real three-master Redis Cluster: ACL users are per node, so the gateway makes each
/// worker's user on every node, and the worker runs its loop through the real transport classes on whichever nodes
/// hold its slots, with NOPERM on everything else as on a single server.
/// </summary>
public sealed class WorkerAccessClusterTests
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token;

    private static ResultEnvelope Result(string requestId) => new()
    {
        RequestId = requestId,
        Attempt = 0,
        WorkerId = "a",
        Sequence = 0,
        Kind = ResultKind.Error,
        Error = "test",
    };

    private static async Task AssertNoPermAsync(Func<Task> action)
    {
        var e = await Assert.ThrowsAsync<RedisServerException>(action);
        Assert.StartsWith("NOPERM", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_workers_acl_user_exists_on_every_master_and_runs_its_loop_across_the_cluster()
    {
        await using var cluster = new RedisCluster(password: "admin-" + Guid.NewGuid().ToString("N"));
        await using var admin = cluster.Connect();
        Assert.True(RedisTopology.IsCluster(admin));
        var keys = new RedisKeys("t" + Guid.NewGuid().ToString("N")[..12] + ":");
        var access = new WorkerAccess(admin, keys);
        var a = await access.GrantAsync("wa", _ct);
        await access.GrantAsync("wb", _ct);

        // The user is on every master, not only on the node the command happened to reach.
        foreach (var port in cluster.Ports)
        {
            var users = (RedisResult[])(await admin.GetServer("127.0.0.1", port).ExecuteAsync("ACL", "USERS"))!;
            Assert.Contains(users, u => (string?)u == a.User);
        }

        // A worker's keys share one slot; the gateway's result stream has its own.
        Assert.Equal(admin.HashSlot(keys.Jobs("wa")), admin.HashSlot(keys.Worker("wa")));
        Assert.Equal(admin.HashSlot(keys.Jobs("wa")), admin.HashSlot(keys.Leases("wa")));

        using var adminBlocking = new BlockingReads(cluster.Connect());
        var gatewayJobs = new JobStreams(admin, keys, adminBlocking);
        var gatewayResults = new ResultStreams(admin, keys, adminBlocking);
        await gatewayResults.AppendAsync("gw", Result("seed"), _ct);

        await using var connection = cluster.ConnectAs(a.User, a.Password, allowAdmin: true);
        using var blocking = new BlockingReads(cluster.ConnectAs(a.User, a.Password));
        var jobs = new JobStreams(connection, keys, blocking);
        var results = new ResultStreams(connection, keys, blocking);
        var registry = new WorkerRegistry(connection, keys, TimeProvider.System);
        await jobs.EnsureGroupAsync("wa", _ct);
        await gatewayJobs.EnqueueAsync(TransportSamples.Job("wa", "ra"), _ct);
        var entry = Assert.Single(await jobs.ReadAsync("wa", "wa", 10, TimeSpan.FromSeconds(1), _ct));
        Assert.Empty(await jobs.ReclaimAsync("wa", "wa", TimeSpan.FromMinutes(1), 10, _ct));
        await registry.PublishAsync(TransportSamples.Registration("wa"), new WorkerLoad(0, 2, 0, 0, DateTimeOffset.UtcNow), TimeSpan.FromSeconds(30), _ct, announce: false);
        await results.AppendAndAcknowledgeAsync("gw", Result("ra"), "wa", entry.EntryId, _ct);

        // The result is on the gateway's stream and the job's entry is acknowledged and gone.
        var delivered = await gatewayResults.ReadAsync("gw", "0-0", 10, TimeSpan.FromMilliseconds(100), _ct);
        Assert.Contains(delivered, r => r.Envelope?.RequestId == "ra");
        Assert.Empty(await admin.GetDatabase().StreamRangeAsync(keys.Jobs("wa")));
        Assert.Equal(0, (await admin.GetDatabase().StreamPendingAsync(keys.Jobs("wa"), RedisKeys.WorkerGroup)).PendingMessageCount);

        var db = connection.GetDatabase();
        await AssertNoPermAsync(() => db.StreamAddAsync(keys.Jobs("wb"), "job", "forged"));
        await AssertNoPermAsync(() => db.HashSetAsync(keys.Worker("wb"), "registration", "forged"));
        await AssertNoPermAsync(() => db.StreamRangeAsync(keys.Results("gw")));
        await AssertNoPermAsync(() => db.SetAddAsync(keys.Workers, "wz"));
        await AssertNoPermAsync(() => db.ExecuteAsync("FLUSHALL"));

        // Deleting the user removes it from every node.
        await access.DeleteAsync("wa", _ct);
        foreach (var port in cluster.Ports)
        {
            var users = (RedisResult[])(await admin.GetServer("127.0.0.1", port).ExecuteAsync("ACL", "USERS"))!;
            Assert.DoesNotContain(users, u => (string?)u == a.User);
        }
    }
}
