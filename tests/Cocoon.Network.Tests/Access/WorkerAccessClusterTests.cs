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
        await gatewayResults.AppendAsync("gw", TransportSamples.Result("seed"), _ct);

        await using var connection = cluster.ConnectAs(a.User, a.Password, allowAdmin: true);
        using var blocking = new BlockingReads(cluster.ConnectAs(a.User, a.Password));
        await new WorkerLoop(connection, keys, blocking).RunOnceAsync("wa", "ra", gatewayJobs, _ct);

        // The result is on the gateway's stream and the job's entry is acknowledged and gone.
        var delivered = await gatewayResults.ReadAsync("gw", "0-0", 10, TimeSpan.FromMilliseconds(100), _ct);
        Assert.Contains(delivered, r => r.Envelope?.RequestId == "ra");
        Assert.Empty(await admin.GetDatabase().StreamRangeAsync(keys.Jobs("wa")));
        Assert.Equal(0, (await admin.GetDatabase().StreamPendingAsync(keys.Jobs("wa"), RedisKeys.WorkerGroup)).PendingMessageCount);

        var db = connection.GetDatabase();
        await WorkerLoop.AssertNoPermAsync(() => db.StreamAddAsync(keys.Jobs("wb"), "job", "forged"));
        await WorkerLoop.AssertNoPermAsync(() => db.HashSetAsync(keys.Worker("wb"), "registration", "forged"));
        await WorkerLoop.AssertNoPermAsync(() => db.StreamRangeAsync(keys.Results("gw")));
        await WorkerLoop.AssertNoPermAsync(() => db.SetAddAsync(keys.Workers, "wz"));
        await WorkerLoop.AssertNoPermAsync(() => db.ExecuteAsync("FLUSHALL"));

        // Deleting the user removes it from every node.
        await access.DeleteAsync("wa", _ct);
        foreach (var port in cluster.Ports)
        {
            var users = (RedisResult[])(await admin.GetServer("127.0.0.1", port).ExecuteAsync("ACL", "USERS"))!;
            Assert.DoesNotContain(users, u => (string?)u == a.User);
        }
    }
}
