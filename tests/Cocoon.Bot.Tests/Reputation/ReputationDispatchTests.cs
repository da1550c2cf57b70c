using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Reputation;
using Cocoon.Bot.Telegram.Providers;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Engine.Reputation;
using Cocoon.Network.Access;
using Cocoon.Network.Providers;
using Cocoon.Network.Transport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Tests.Reputation;

/// <summary>Reputation on the dispatch path, with real llama.cpp workers and a real redis-server.</summary>
public sealed class ReputationDispatchTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(180)).Token;

    [Fact]
    public async Task A_worker_that_fails_its_jobs_falls_below_the_floor_is_ranked_out_and_every_gateway_and_its_provider_see_why()
    {
        await using var network = new DispatchNetwork(redis.Server, new Dictionary<string, string?> { ["Gateway:MaxAttempts"] = "2" });
        await network.StartAsync(_ct);
        var (_, bad) = await network.StartWorkerAsync(_ct, wrap: inner => new FailingInference(inner));
        var payer = await network.FundedPayerAsync(1_000_000_000, _ct);

        // Alone, the failing worker gets the request twice (the re-dispatch uses it again as the last resort).
        var failed = await Assert.ThrowsAsync<DispatchFailedException>(() => network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 16), _ct));
        Assert.Equal("attempts-exhausted", failed.Reason);
        var book = network.Gateway.Services.GetRequiredService<ReputationBook>();
        var floor = network.Gateway.Services.GetRequiredService<IOptions<DispatchOptions>>().Value.ReputationFloor;
        Assert.Equal(0.85, floor);
        Assert.True(book.Score(bad.WorkerId) < floor, $"score {book.Score(bad.WorkerId)}");

        // Below the floor it gets nothing, not even as a last resort; the caller may lower its own floor.
        await Assert.ThrowsAsync<ModelUnavailableException>(() => network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 16), _ct));
        var lowered = DispatchNetwork.Request(payer, "Once upon a time", 16) with { ReputationFloor = 0 };
        await Assert.ThrowsAsync<DispatchFailedException>(() => network.AskAsync(lowered, _ct));

        // An honest worker joins: it serves every request, the failing one is never tried again.
        var (_, good) = await network.StartWorkerAsync(_ct);
        var badJobs = book.State(bad.WorkerId).Jobs;
        for (var i = 0; i < 3; i++)
        {
            var (_, receipt) = await network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 16), _ct);
            Assert.Equal(good.WorkerId, receipt.WorkerId);
        }

        Assert.Equal(badJobs, book.State(bad.WorkerId).Jobs);

        // Another gateway (its own book on the same Redis) reads the same record.
        var keys = network.Gateway.Services.GetRequiredService<RedisKeys>();
        using var other = new ReputationBook(network.Connection, keys, network.Gateway.Services.GetRequiredService<IOptions<DispatchOptions>>(), TimeProvider.System, NullLogger<ReputationBook>.Instance);
        var badScore = await other.ReadAsync(bad.WorkerId, _ct);
        var goodScore = await other.ReadAsync(good.WorkerId, _ct);
        Assert.Equal(4, badScore.Jobs);
        Assert.True(badScore.Value < floor);
        Assert.Contains(badScore.Reasons, r => r.Code == "completion");
        Assert.Equal(3, goodScore.Jobs);
        Assert.True(goodScore.Value > 0.9, $"good {goodScore.Value}");
        Assert.DoesNotContain(goodScore.Reasons, r => r.Code == "completion");
        var state = other.State(good.WorkerId);
        Assert.Equal(state.Completed, state.SlaMet, 9); // best effort: every completed job meets its class (sums are decayed)
        Assert.Equal(0, state.Failed + state.Abandoned);

        // The provider sees both scores and the reasons, in the bot's text and the endpoint's JSON.
        var status = new ProviderStatus(
            network.Gateway.Services.GetRequiredService<WorkerJoins>(), network.Gateway.Services.GetRequiredService<WorkerRegistry>(),
            network.Dispatcher, network.Ledger, TimeProvider.System, null, other);
        var report = await status.BuildAsync(new ProviderInfo("local", new ProviderProfile("local", 0, "", null), false, 1000, "", DateTimeOffset.UtcNow), _ct);
        var goodRow = report.Workers.Single(w => w.WorkerId == good.WorkerId);
        Assert.Equal(Math.Round(goodScore.Value, 3), goodRow.Reputation);
        var text = ProviderStatus.Format(report);
        Assert.Contains($"reputation {goodRow.Reputation:0.000}", text, StringComparison.Ordinal);
        var json = System.Text.Json.JsonSerializer.Serialize(report, ProviderStatusJsonContext.Default.ProviderStatusReport);
        Assert.Contains("\"reputationReasons\"", json, StringComparison.Ordinal);
    }
}
