using Cocoon.Bot.Reputation;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Ledger.Accounts;

namespace Cocoon.Bot.Tests.Reputation;

/// <summary>
/// The spot-check replay tests' network, every answer replayed, on real llama.cpp workers: an honest worker, a second
/// honest one in region us and a cheater in region eu (the real service seen through <c>cheat</c>), so a request for eu
/// is answered by the cheater and one for us by the second worker, and either answer is replayed on the other two.
/// </summary>
internal sealed record ReplayScenario(DispatchNetwork Network, WorkerSession Honest, WorkerSession Second, WorkerSession Cheater, AccountId Payer) : IAsyncDisposable
{
    public ReputationBook Book => Network.Gateway.Services.GetRequiredService<ReputationBook>();

    public static async Task<ReplayScenario> StartAsync(RedisServer redis, Func<IInferenceService, IInferenceService> cheat, CancellationToken ct)
    {
        var network = new DispatchNetwork(redis, new Dictionary<string, string?> { ["Gateway:Replays:Fraction"] = "1" });
        try
        {
            await network.StartAsync(ct);
            var (_, honest) = await network.StartWorkerAsync(ct);
            var (_, second) = await network.StartWorkerAsync(ct, DispatchNetwork.InRegion("us"));
            var (_, cheater) = await network.StartWorkerAsync(ct, DispatchNetwork.InRegion("eu"), wrap: cheat);
            var payer = await network.FundedPayerAsync(1_000_000_000, ct);
            return new ReplayScenario(network, honest, second, cheater, payer);
        }
        catch
        {
            await network.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until a replay of an answer of <paramref name="workerId"/> has failed (or, with failed false, passed).</summary>
    public async Task SpotCheckedAsync(string workerId, bool failed, CancellationToken ct)
    {
        while ((failed ? Book.State(workerId).SpotChecksFailed : Book.State(workerId).SpotChecksPassed) == 0)
        {
            await Task.Delay(50, ct);
        }
    }

    public ValueTask DisposeAsync() => Network.DisposeAsync();
}
