using Cocoon.Bot.Reputation;
using Cocoon.Bot.Tests.Dispatch;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Reputation;

/// <summary>Spot-check replays of greedy requests on three real llama.cpp workers, one of which truncates its answers.</summary>
public sealed class ReplayTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(180)).Token;

    [Fact]
    public async Task A_replayed_truncated_answer_is_confirmed_by_a_third_worker_and_an_honest_one_passes()
    {
        await using var network = new DispatchNetwork(redis.Server, new Dictionary<string, string?> { ["Gateway:Replays:Fraction"] = "1" });
        await network.StartAsync(_ct);
        var (_, honest) = await network.StartWorkerAsync(_ct);
        var (_, second) = await network.StartWorkerAsync(_ct, new Dictionary<string, string?> { ["Worker:Region"] = "us" });
        var (_, cheater) = await network.StartWorkerAsync(_ct, new Dictionary<string, string?> { ["Worker:Region"] = "eu" }, wrap: inner => new TruncatingInference(inner, 3));
        var payer = await network.FundedPayerAsync(1_000_000_000, _ct);
        var book = network.Gateway.Services.GetRequiredService<ReputationBook>();

        // The cheater answers a user (region eu); the replay runs after the answer, on two honest workers.
        var (_, cut) = await network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 24) with { Region = "eu" }, _ct);
        Assert.Equal(cheater.WorkerId, cut.WorkerId);
        while (book.State(cheater.WorkerId).SpotChecksFailed == 0)
        {
            await Task.Delay(50, _ct);
        }

        Assert.True(book.Score(cheater.WorkerId) < 0.5, $"cheater {book.Score(cheater.WorkerId)}");
        Assert.Contains(book.Model.Score(book.State(cheater.WorkerId)).Reasons, r => r.Code == "integrity-fault");

        // An honest answer replayed on another honest worker agrees: a pass, nobody penalised.
        var (_, fair) = await network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 24) with { Region = "us" }, _ct);
        Assert.Equal(second.WorkerId, fair.WorkerId);
        while (book.State(second.WorkerId).SpotChecksPassed == 0)
        {
            await Task.Delay(50, _ct);
        }

        foreach (var id in new[] { honest.WorkerId, second.WorkerId })
        {
            var state = book.State(id);
            Assert.Equal(0, state.SpotChecksFailed + state.OverruledAsChecker + state.CanariesFailed);
            Assert.True(book.Score(id) > 0.85, $"{id} {book.Score(id)}");
        }
    }
}
