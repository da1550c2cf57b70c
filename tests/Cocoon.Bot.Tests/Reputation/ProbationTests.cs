using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Reputation;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Engine.Matching;
using Cocoon.Engine.Reputation;
using Cocoon.Network.Transport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Bot.Tests.Reputation;

/// <summary>
/// Probation on the gateway (<see cref="ProbationPolicy"/>): the state lives in the worker's reputation record on a
/// real redis-server, every gateway sees it, and the matcher and the canaries follow it, with real llama.cpp workers.
/// </summary>
public sealed class ProbationTests(Api.RedisFixture redis) : IClassFixture<Api.RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(240)).Token;

    private static readonly JobOutcome Completed = new(JobResult.Completed, SlaClass.BestEffort);

    [Fact]
    public async Task Below_the_floor_a_worker_is_on_probation_returns_after_its_streak_and_is_barred_by_a_wrong_a_slow_or_an_endless_probation()
    {
        var keys = new RedisKeys("prob" + Guid.NewGuid().ToString("N")[..10] + ":");
        // Probation holds a worker out only while canaries run (its only way back); the interval is long enough that
        // none is sent on its own here.
        var options = Options.Create(new DispatchOptions { Canaries = new CanaryOptions { Interval = TimeSpan.FromDays(7) } });
        var providers = new ProviderReputation(redis.Connection, keys, options, NullLogger<ProviderReputation>.Instance);
        using var book = new ReputationBook(redis.Connection, keys, options, TimeProvider.System, NullLogger<ReputationBook>.Instance, providers);
        var policy = book.Probation;
        var floor = options.Value.ReputationFloor;
        await providers.BindAsync("w-back", "p-prob", null, _ct);

        // Failed jobs take it below the floor: it is put on probation in the same record.
        while (book.Score("w-back") >= floor)
        {
            Assert.Null(book.State("w-back").Probation);
            await book.RecordAsync("w-back", new JobOutcome(JobResult.Failed, SlaClass.BestEffort), _ct);
        }

        Assert.Equal(new ProbationState { Active = true, Entered = 1 }, book.State("w-back").Probation);
        Assert.False(book.Matchable("w-back"));
        Assert.True(book.Matchable("w-back", callerFloorBelowGateway: true));
        using (var noCanaries = new ReputationBook(redis.Connection, keys, Options.Create(new DispatchOptions()), TimeProvider.System, NullLogger<ReputationBook>.Instance))
        {
            // Without canaries nothing could bring it back: it is judged by its score alone, as before probation.
            await noCanaries.ReadAsync("w-back", _ct);
            Assert.True(noCanaries.State("w-back").Probation is { Active: true });
            Assert.True(noCanaries.Matchable("w-back"));
        }

        Assert.Contains((await book.ReadAsync("w-back", _ct)).Reasons, r => r.Code == "probation");

        // Each probation canary: a completed job and a passed verdict. It stays out until both the streak and the
        // margin are reached, even when its score is back above the floor meanwhile.
        var canaries = 0;
        while (book.State("w-back").Probation is { Active: true })
        {
            Assert.True(canaries < policy.MaxCanaries, "never returned");
            await book.RecordAsync("w-back", Completed, _ct);
            var state = await book.RecordCanaryAsync("w-back", new IntegrityVerdict(IntegrityKind.Canary, true), ProbationCanary.Passed, _ct);
            canaries++;
            var back = state.Probation is { Active: false };
            Assert.Equal(canaries >= policy.PassesToReturn && book.Score("w-back") >= floor + policy.Margin, back);
        }

        Assert.True(book.Matchable("w-back"));
        Assert.Equal(new ProbationState { Entered = 1, Canaries = canaries }, book.State("w-back").Probation);
        Assert.DoesNotContain((await book.ReadAsync("w-back", _ct)).Reasons, r => r.Code is "probation" or "barred");

        // Another gateway (its own book on the same Redis, as after a restart) reads the same probation; the
        // provider's record follows the score, never the probation.
        using var other = new ReputationBook(redis.Connection, keys, options, TimeProvider.System, NullLogger<ReputationBook>.Instance);
        await other.ReadAsync("w-back", _ct);
        Assert.Equal(book.State("w-back"), other.State("w-back"));
        var providerJson = (await redis.Connection.GetDatabase().HashGetAsync(keys.Prefix + "reputation-providers", ProviderReputation.ProviderField("p-prob"))).ToString();
        Assert.DoesNotContain("probation", providerJson, StringComparison.OrdinalIgnoreCase);

        // One wrong answer on probation bars it; three slow ones do; so do its canaries running out.
        Assert.Equal(1, await CanariesToBarAsync(book, "w-wrong", ProbationCanary.Wrong));
        Assert.Equal(policy.SlowToBar, await CanariesToBarAsync(book, "w-slow", ProbationCanary.Slow));
        Assert.Equal(policy.MaxCanaries, await CanariesToBarAsync(book, "w-missed", ProbationCanary.Missed));

        // Barred is for good: never matched, whatever the caller's floor; passes and good jobs change nothing; every gateway sees it.
        for (var i = 0; i < 3; i++)
        {
            await book.RecordAsync("w-wrong", Completed, _ct);
            await book.RecordCanaryAsync("w-wrong", new IntegrityVerdict(IntegrityKind.Canary, true), ProbationCanary.Passed, _ct);
        }

        Assert.True(book.Barred("w-wrong"));
        Assert.False(book.Matchable("w-wrong", callerFloorBelowGateway: true));
        Assert.Contains((await other.ReadAsync("w-slow", _ct)).Reasons, r => r.Code == "barred");
        Assert.True(other.Barred("w-slow"));

        // An operator clears it by deleting the worker's record (it starts over as new).
        await redis.Connection.GetDatabase().HashDeleteAsync(keys.Prefix + "reputation", "w-wrong");
        await book.ReadAsync("w-wrong", _ct);
        Assert.True(book.Matchable("w-wrong"));
    }

    /// <summary>Puts a worker on probation with failed jobs, then sends it the same probation canary until it is barred.</summary>
    private async Task<int> CanariesToBarAsync(ReputationBook book, string workerId, ProbationCanary canary)
    {
        while (book.State(workerId).Probation is not { Active: true })
        {
            await book.RecordAsync(workerId, new JobOutcome(JobResult.Failed, SlaClass.BestEffort), _ct);
        }

        var verdict = canary switch
        {
            ProbationCanary.Wrong => new IntegrityVerdict(IntegrityKind.Canary, false),
            ProbationCanary.Missed => null,
            _ => new IntegrityVerdict(IntegrityKind.Canary, true),
        };
        var sent = 0;
        while (!book.Barred(workerId))
        {
            Assert.True(book.State(workerId).Probation is { Active: true }, $"{workerId} left probation without being barred");
            await book.RecordCanaryAsync(workerId, verdict, canary, _ct);
            sent++;
        }

        return sent;
    }

    [Fact]
    public async Task The_gateway_sends_a_worker_on_probation_only_canaries_lets_it_back_after_its_streak_and_never_matches_a_barred_one()
    {
        // Canaries on (probation needs them), at an interval long enough that none is sent on its own here.
        await using var network = new DispatchNetwork(redis.Server, new Dictionary<string, string?> { ["Gateway:Canaries:Interval"] = "7.00:00:00" });
        await network.StartAsync(_ct);
        var (_, honest) = await network.StartWorkerAsync(_ct);
        var payer = await network.FundedPayerAsync(1_000_000_000, _ct);
        var book = network.Gateway.Services.GetRequiredService<ReputationBook>();
        var floor = network.Gateway.Services.GetRequiredService<IOptions<DispatchOptions>>().Value.ReputationFloor;

        // The bank's answer, computed on the honest worker (temperature 0).
        var (known, _) = await network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 8), _ct);
        var canaries = network.Gateway.Services.GetRequiredService<Canaries>();
        canaries.Add(new CanaryEntry { ModelSha256 = honest.ModelSha256, Prompt = "Once upon a time", MaxTokens = 8, AnswerSha256 = Canaries.AnswerHash(known) });

        // An unlucky stretch (an outage's failed jobs) takes it below the floor: on probation, no user job at the
        // gateway's floor, even once its score is back above it; a caller that lowered its own floor still takes it.
        while (book.Score(honest.WorkerId) >= floor)
        {
            await book.RecordAsync(honest.WorkerId, new JobOutcome(JobResult.Failed, SlaClass.BestEffort), _ct);
        }

        Assert.True(book.State(honest.WorkerId).Probation is { Active: true });
        await Assert.ThrowsAsync<ModelUnavailableException>(() => network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 8), _ct));
        var (_, lowered) = await network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 8) with { ReputationFloor = 0.5 }, _ct);
        Assert.Equal(honest.WorkerId, lowered.WorkerId);

        // Its real canaries drive the streak; after it, the worker serves again at the gateway's floor.
        var sent = 0;
        while (book.State(honest.WorkerId).Probation is { Active: true })
        {
            Assert.True(sent < book.Probation.MaxCanaries, "never returned");
            Assert.Equal(CanaryResult.Passed, await canaries.SendAsync(honest.WorkerId, _ct));
            sent++;
            if (book.State(honest.WorkerId).Probation is { Active: true } && book.Score(honest.WorkerId) >= floor)
            {
                await Assert.ThrowsAsync<ModelUnavailableException>(() => network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 8), _ct));
            }
        }

        Assert.True(sent >= book.Probation.PassesToReturn);
        Assert.True(book.Score(honest.WorkerId) >= floor + book.Probation.Margin);
        Assert.Equal(sent, book.State(honest.WorkerId).Probation!.Canaries);
        var (_, served) = await network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 8), _ct);
        Assert.Equal(honest.WorkerId, served.WorkerId);

        // A truncating worker fails a canary (far below the floor: probation), then fails its probation canary: barred,
        // never matched again, not even by a caller that accepts any score.
        var (_, cheater) = await network.StartWorkerAsync(_ct, wrap: inner => new TruncatingInference(inner, 3));
        Assert.Equal(CanaryResult.Failed, await canaries.SendAsync(cheater.WorkerId, _ct));
        Assert.True(book.State(cheater.WorkerId).Probation is { Active: true });
        Assert.Equal(CanaryResult.Failed, await canaries.SendAsync(cheater.WorkerId, _ct));
        Assert.True(book.Barred(cheater.WorkerId));
        for (var i = 0; i < 3; i++)
        {
            var (_, receipt) = await network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 8) with { ReputationFloor = 0 }, _ct);
            Assert.Equal(honest.WorkerId, receipt.WorkerId);
        }
    }
}
