using Cocoon.Engine.Protocol;
using Cocoon.Network.Access;
using Cocoon.Network.Transport;
using Cocoon.Network.Tests.Transport;
using Cocoon.Testing;
using StackExchange.Redis;

namespace Cocoon.Network.Tests.Access;

/// <summary>A real redis-server with ACLs on (default user behind a password); each test takes its own key prefix.</summary>
public sealed class AclRedisFixture : IDisposable
{
    public RedisServer Server { get; } = new(appendOnly: false, password: "admin-" + Guid.NewGuid().ToString("N"));

    /// <summary>The default user, configured as the gateway's own connection is (not in the client's admin mode).</summary>
    public ConnectionMultiplexer Admin { get; }

    public AclRedisFixture() => Admin = Server.ConnectAs("default", Server.Password!);

    public void Dispose()
    {
        Admin.Dispose();
        Server.Dispose();
    }
}

public sealed class WorkerAccessTests(AclRedisFixture fixture) : IClassFixture<AclRedisFixture>
{
    private readonly CancellationToken Ct = new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    [Fact]
    public async Task A_worker_runs_its_own_loop_and_gets_NOPERM_on_everything_else()
    {
        var keys = new RedisKeys("t" + Guid.NewGuid().ToString("N")[..12] + ":");
        var access = new WorkerAccess(fixture.Admin, keys);
        var a = await access.GrantAsync("wa", Ct);
        await access.GrantAsync("wb", Ct);

        // The gateway's side (admin): a job for each worker, and B's group exists.
        using var adminBlocking = new BlockingReads(fixture.Server.ConnectAs("default", fixture.Server.Password!));
        var gatewayJobs = new JobStreams(fixture.Admin, keys, adminBlocking);
        await gatewayJobs.EnsureGroupAsync("wb", Ct);
        await gatewayJobs.EnqueueAsync(TransportSamples.Job("wb", "rb"), Ct);
        var gatewayResults = new ResultStreams(fixture.Admin, keys, adminBlocking);
        await gatewayResults.AppendAsync("gw", TransportSamples.Result("seed"), Ct);

        // Worker A, as its own ACL user, through the real transport classes: group, job, heartbeat, result and ack.
        await using var connection = fixture.Server.ConnectAs(a.User, a.Password, allowAdmin: true);
        using var blocking = new BlockingReads(fixture.Server.ConnectAs(a.User, a.Password));
        var worker = new WorkerLoop(connection, keys, blocking);
        await worker.RunOnceAsync("wa", "ra", gatewayJobs, Ct);
        var subscription = await new JobCancellations(connection, keys).SubscribeAsync("wa", (_, _, _, _) => { }, Ct);
        await subscription.DisposeAsync();
        await worker.Registry.RemoveAsync("wa", Ct, announced: false);

        var db = connection.GetDatabase();
        // Worker B's stream and registry entry, the gateway's result stream, the shared sets and the provider records.
        await WorkerLoop.AssertNoPermAsync(() => worker.Jobs.ReadAsync("wb", "wa", 10, TimeSpan.FromMilliseconds(10), Ct));
        await WorkerLoop.AssertNoPermAsync(() => db.StreamRangeAsync(keys.Jobs("wb")));
        await WorkerLoop.AssertNoPermAsync(() => db.StreamAddAsync(keys.Jobs("wb"), "job", "forged"));
        await WorkerLoop.AssertNoPermAsync(() => db.HashSetAsync(keys.Worker("wb"), "registration", "forged"));
        await WorkerLoop.AssertNoPermAsync(() => worker.Results.ReadAsync("gw", "0-0", 10, TimeSpan.FromMilliseconds(10), Ct));
        await WorkerLoop.AssertNoPermAsync(() => db.StreamRangeAsync(keys.Results("gw")));
        await WorkerLoop.AssertNoPermAsync(() => db.SetAddAsync(keys.Workers, "wz"));
        await WorkerLoop.AssertNoPermAsync(() => db.SetRemoveAsync(keys.Joined, "wb"));
        await WorkerLoop.AssertNoPermAsync(() => db.HashSetAsync(keys.Provider("p1"), "payoutAddress", "forged"));
        await WorkerLoop.AssertNoPermAsync(() => db.HashSetAsync(keys.Join("wa"), "provider", "p-other"));
        await WorkerLoop.AssertNoPermAsync(() => db.SortedSetAddAsync(keys.Leases("wa"), "forged", 1));
        // Administrative commands.
        await WorkerLoop.AssertNoPermAsync(() => db.ExecuteAsync("FLUSHALL"));
        await WorkerLoop.AssertNoPermAsync(() => db.ExecuteAsync("CONFIG", "GET", "*"));
        await WorkerLoop.AssertNoPermAsync(() => db.ExecuteAsync("KEYS", "*"));
        await WorkerLoop.AssertNoPermAsync(() => db.ExecuteAsync("ACL", "LIST"));
        await WorkerLoop.AssertNoPermAsync(() => db.ExecuteAsync("CLIENT", "LIST"));
        await WorkerLoop.AssertNoPermAsync(() => db.ExecuteAsync("SCAN", "0"));
        // A script gets no more than its caller.
        await WorkerLoop.AssertNoPermAsync(() => db.ScriptEvaluateAsync("return redis.call('XRANGE', KEYS[1], '-', '+')", [keys.Results("gw")]));

        // B's job is still there, untouched.
        Assert.Single(await fixture.Admin.GetDatabase().StreamRangeAsync(keys.Jobs("wb")));
    }

    [Fact]
    public async Task Disabling_a_user_closes_its_connections_at_once_and_enabling_lets_it_back()
    {
        var keys = new RedisKeys("t" + Guid.NewGuid().ToString("N")[..12] + ":");
        var access = new WorkerAccess(fixture.Admin, keys);
        var a = await access.GrantAsync("wa", Ct);
        await using var connection = fixture.Server.ConnectAs(a.User, a.Password);
        var registry = new WorkerRegistry(connection, keys, TimeProvider.System);
        var load = new WorkerLoad(0, 2, 0, 0, DateTimeOffset.UtcNow);
        await registry.PublishAsync(TransportSamples.Registration("wa"), load, TimeSpan.FromSeconds(30), Ct, announce: false);

        await access.DisableAsync("wa", Ct);
        // The next heartbeat fails: the connection was closed and the user may not log in again.
        await Assert.ThrowsAnyAsync<RedisException>(() => registry.PublishAsync(TransportSamples.Registration("wa"), load, TimeSpan.FromSeconds(30), Ct, announce: false));
        await using (var again = fixture.Server.ConnectAs(a.User, a.Password))
        {
            await Assert.ThrowsAnyAsync<RedisException>(() => again.GetDatabase().PingAsync());
        }

        await access.EnableAsync("wa", Ct);
        await using (var back = fixture.Server.ConnectAs(a.User, a.Password))
        {
            await new WorkerRegistry(back, keys, TimeProvider.System).PublishAsync(TransportSamples.Registration("wa"), load, TimeSpan.FromSeconds(30), Ct, announce: false);
        }

        await access.DeleteAsync("wa", Ct);
        Assert.False(await access.ExistsAsync(a.User, Ct));
        await using var gone = fixture.Server.ConnectAs(a.User, a.Password);
        await Assert.ThrowsAnyAsync<RedisException>(() => gone.GetDatabase().PingAsync());
    }
}
