using Cocoon.Bot.Reputation;
using Cocoon.Bot.Tests.Dispatch;

namespace Cocoon.Bot.Tests.Reputation;

/// <summary>Spot-check replays of greedy requests on three real llama.cpp workers, one of which truncates its answers.</summary>
public sealed class ReplayTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(180)).Token;

    [Fact]
    public async Task A_replayed_truncated_answer_is_confirmed_by_a_third_worker_and_an_honest_one_passes()
    {
        await using var scenario = await ReplayScenario.StartAsync(redis.Server, inner => new TruncatingInference(inner, 3), _ct);
        var (network, honest, second, cheater, payer) = scenario;
        var book = scenario.Book;

        // The cheater answers a user (region eu); the replay runs after the answer, on two honest workers.
        var (_, cut) = await network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 24) with { Region = "eu" }, _ct);
        Assert.Equal(cheater.WorkerId, cut.WorkerId);
        await scenario.SpotCheckedAsync(cheater.WorkerId, failed: true, _ct);
        Assert.True(book.Score(cheater.WorkerId) < 0.5, $"cheater {book.Score(cheater.WorkerId)}");
        Assert.Contains(book.Model.Score(book.State(cheater.WorkerId)).Reasons, r => r.Code == "integrity-fault");

        // An honest answer replayed on another honest worker agrees: a pass, nobody penalised.
        var (_, fair) = await network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 24) with { Region = "us" }, _ct);
        Assert.Equal(second.WorkerId, fair.WorkerId);
        await scenario.SpotCheckedAsync(second.WorkerId, failed: false, _ct);
        foreach (var id in new[] { honest.WorkerId, second.WorkerId })
        {
            var state = book.State(id);
            Assert.Equal(0, state.SpotChecksFailed + state.OverruledAsChecker + state.CanariesFailed);
            Assert.True(book.Score(id) > 0.85, $"{id} {book.Score(id)}");
        }
    }
}
