using Cocoon.Network.Transport;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.Dispatch;

/// <summary>
/// The request path on a real three-master Redis Cluster (redis-server --cluster-enabled, slots spread by
/// redis-cli --cluster create): a gateway and a worker (real llama.cpp on the small model) answer a request end to
/// end, billed once, with the worker's keys in one slot and the steps that span slots split safely.
/// </summary>
public sealed class RedisClusterTests
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(180)).Token;

    [Fact]
    public async Task A_request_is_answered_end_to_end_through_gateway_and_worker_on_a_three_master_cluster()
    {
        await using var cluster = new RedisCluster(password: "admin-" + Guid.NewGuid().ToString("N"));
        await using var network = new DispatchNetwork(cluster.AdminEndpoint);
        await network.StartAsync(_ct);
        Assert.True(RedisTopology.IsCluster(network.Connection));
        var (_, session) = await network.StartWorkerAsync(_ct);
        var payer = await network.FundedPayerAsync(1_000_000_000, _ct);

        var (text, receipt) = await network.AskAsync(DispatchNetwork.Request(payer, "The cat sat", 40), _ct);
        var (again, againReceipt) = await network.AskAsync(DispatchNetwork.Request(payer, "The cat sat", 40), _ct);

        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.Equal(text, again);
        Assert.Equal(session.WorkerId, receipt.WorkerId);
        Assert.True(receipt.TotalCostNanotons > 0);
        Assert.Equal(1_000_000_000 - receipt.TotalCostNanotons - againReceipt.TotalCostNanotons, await network.Ledger.GetBalanceAsync(payer, _ct));

        // The worker's entry, stream and leases share a slot; its job entries were acknowledged and deleted.
        var keys = network.Keys;
        Assert.Equal(network.Connection.HashSlot(keys.Worker(session.WorkerId)), network.Connection.HashSlot(keys.Jobs(session.WorkerId)));
        Assert.Equal(network.Connection.HashSlot(keys.Worker(session.WorkerId)), network.Connection.HashSlot(keys.Leases(session.WorkerId)));
        Assert.Empty(await network.Connection.GetDatabase().StreamRangeAsync(keys.Jobs(session.WorkerId)));
    }
}
