using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Matching;

namespace Cocoon.Bot.Tests.Dispatch;

/// <summary>Two real workers, one simulated and one without a TEE (consumer): only a caller who opted in reaches the consumer.</summary>
public sealed class TrustTierDispatchTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(5)).Token;

    [Fact]
    public async Task A_caller_who_did_not_opt_in_is_never_served_by_the_consumer_worker_and_one_who_did_can_be()
    {
        await using var network = new DispatchNetwork(redis.Server, new Dictionary<string, string?> { ["Gateway:AllowConsumerWorkers"] = "true" });
        await network.StartAsync(_ct);
        var (_, simulated) = await network.StartWorkerAsync(_ct, new Dictionary<string, string?> { ["Worker:Tee"] = "simulated" });
        var (_, consumer) = await network.StartWorkerAsync(_ct, new Dictionary<string, string?> { ["Worker:Tee"] = "none" });
        Assert.Equal(TrustTiers.Consumer, network.Directory.Find(consumer.WorkerId)?.Tier);
        Assert.Equal(TrustTiers.Simulated, network.Directory.Find(simulated.WorkerId)?.Tier);
        var payer = await network.FundedPayerAsync(10_000_000_000, _ct);

        // Concurrent, so the simulated worker is busy while the consumer one stands idle: still never used.
        var defaults = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => network.AskAsync(DispatchNetwork.Request(payer, "Once " + i, 3), _ct)));
        Assert.All(defaults, a => Assert.Equal(simulated.WorkerId, a.Receipt.WorkerId));
        Assert.All(defaults, a => Assert.Equal("simulated", a.Receipt.Tier));

        var optedIn = await network.AskAsync(DispatchNetwork.Request(payer, "Once", 3) with { Tiers = [TrustTiers.Consumer] }, _ct);
        Assert.Equal(consumer.WorkerId, optedIn.Receipt.WorkerId);
        Assert.Equal("consumer", optedIn.Receipt.Tier);
    }
}
