using Cocoon.Engine.Matching;

namespace Cocoon.Engine.Tests.Matching;

public sealed class MatcherTests
{
    private const string Hash = "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12";

    private static WorkerSnapshot W(string id, int running = 0, int max = 4, double avgSeconds = 1, int coefficient = 1000,
        string model = "stories", SlaClass sla = SlaClass.BestEffort, string region = "eu", double reputation = 1.0,
        bool disabled = false, bool paused = false) => new()
    {
        WorkerId = id,
        ProviderId = "p-" + id,
        ModelName = model,
        ModelSha256 = model == "stories" ? Hash : new string('c', 64),
        RunningJobs = running,
        MaxConcurrency = max,
        AverageJobTime = TimeSpan.FromSeconds(avgSeconds),
        PriceCoefficient = coefficient,
        SlaClass = sla,
        Region = region,
        Reputation = reputation,
        Disabled = disabled,
        Paused = paused,
    };

    private static readonly JobSpec Job = new() { Model = "stories" };

    private static string[] Ids(MatchResult r) => [.. r.Ranked.Select(w => w.WorkerId)];

    [Fact]
    public void The_cache_affinity_worker_ranks_first_only_when_it_qualifies_and_has_room()
    {
        var workers = new[] { W("idle"), W("warm", running: 2, avgSeconds: 3), W("pricey", coefficient: 5000), W("packed", running: 4) };
        Assert.Equal(["warm", "idle"], Ids(Matcher.Rank(Job with { CacheAffinity = "warm", MaxCoefficient = 2000 }, workers)));

        // Never over the caller's price, never past the cap (a full one stays among the full), never when excluded.
        Assert.Equal(["idle", "warm"], Ids(Matcher.Rank(Job with { CacheAffinity = "pricey", MaxCoefficient = 2000 }, workers)));
        var full = Matcher.Rank(Job with { CacheAffinity = "packed", MaxCoefficient = 2000 }, workers);
        Assert.Equal(["idle", "warm"], Ids(full));
        Assert.Equal(["packed"], full.Full.Select(w => w.WorkerId));
        Assert.Equal(["idle"], Ids(Matcher.Rank(Job with { CacheAffinity = "warm", MaxCoefficient = 2000, ExcludedWorkers = ["warm"] }, workers)));
        Assert.Equal(["idle"], Ids(Matcher.Rank(Job with { CacheAffinity = "warm", MaxCoefficient = 2000, ReputationFloor = 0.5 }, [W("idle"), W("warm", reputation: 0.2)])));

        // A worker nobody has (it left): the usual order.
        Assert.Equal(["idle", "warm"], Ids(Matcher.Rank(Job with { CacheAffinity = "gone", MaxCoefficient = 2000 }, workers)));
    }

    [Fact]
    public void Ranks_by_running_jobs_times_average_job_time()
    {
        var result = Matcher.Rank(Job, [W("slow-busy", running: 2, avgSeconds: 5), W("fast-busy", running: 3, avgSeconds: 1), W("idle", running: 0, avgSeconds: 9)]);
        Assert.Equal(MatchOutcome.Matched, result.Outcome);
        Assert.Equal(["idle", "fast-busy", "slow-busy"], Ids(result));
        Assert.Equal("idle", result.Best!.WorkerId);
        Assert.Empty(result.Excluded);
    }

    [Fact]
    public void New_worker_without_history_ranks_first()
    {
        var result = Matcher.Rank(Job, [W("veteran", running: 1, avgSeconds: 2), W("newcomer", running: 2, avgSeconds: 0)]);
        Assert.Equal(["newcomer", "veteran"], Ids(result));
    }

    [Fact]
    public void Ties_break_by_price_then_relative_load_then_reputation_then_id()
    {
        var result = Matcher.Rank(Job, [
            W("b", coefficient: 1000), W("a", coefficient: 1000), W("cheap", coefficient: 800),
            W("roomy", running: 1, max: 8, avgSeconds: 0), W("tight", running: 1, max: 2, avgSeconds: 0),
            W("z-doubted", running: 1, max: 2, avgSeconds: 0, reputation: 0.9)]);
        Assert.Equal(["cheap", "a", "b", "roomy", "tight", "z-doubted"], Ids(result));
    }

    [Fact]
    public void Only_the_requested_model_by_name_or_hash()
    {
        var workers = new[] { W("s"), W("other", model: "llama") };
        Assert.Equal(["s"], Ids(Matcher.Rank(Job, workers)));
        Assert.Equal(["s"], Ids(Matcher.Rank(new JobSpec { Model = Hash.ToUpperInvariant() }, workers)));
        Assert.Equal(["other"], Ids(Matcher.Rank(new JobSpec { Model = "llama" }, workers)));
        Assert.Contains(new ExcludedWorker("other", MatchExclusion.OtherModel), Matcher.Rank(Job, workers).Excluded);
    }

    [Fact]
    public void Disabled_and_paused_workers_are_never_matched()
    {
        var result = Matcher.Rank(Job, [W("off", disabled: true), W("draining", paused: true), W("on", running: 3, avgSeconds: 10)]);
        Assert.Equal(["on"], Ids(result));
        Assert.Equal([new ExcludedWorker("off", MatchExclusion.Disabled), new ExcludedWorker("draining", MatchExclusion.Paused)], result.Excluded);
    }

    [Fact]
    public void Price_ceiling_is_inclusive()
    {
        var job = Job with { MaxCoefficient = 1200 };
        var result = Matcher.Rank(job, [W("at", coefficient: 1200), W("over", coefficient: 1201), W("under", coefficient: 500, running: 3)]);
        Assert.Equal(["at", "under"], Ids(result));
        Assert.Contains(new ExcludedWorker("over", MatchExclusion.OverPrice), result.Excluded);
    }

    [Fact]
    public void Concurrency_cap_is_never_exceeded()
    {
        var result = Matcher.Rank(Job, [W("full", running: 4, max: 4, avgSeconds: 0), W("room", running: 3, max: 4, avgSeconds: 10)]);
        Assert.Equal(["room"], Ids(result));
        Assert.Contains(new ExcludedWorker("full", MatchExclusion.Full), result.Excluded);
    }

    [Fact]
    public void All_qualifying_workers_full_is_busy_with_a_retry_hint()
    {
        var job = Job with { MaxCoefficient = 1000 };
        var result = Matcher.Rank(job, [W("a", running: 2, max: 2, avgSeconds: 3), W("b", running: 1, max: 1, avgSeconds: 2), W("pricey", coefficient: 5000)]);
        Assert.Equal(MatchOutcome.Busy, result.Outcome);
        Assert.Empty(result.Ranked);
        Assert.Null(result.Best);
        Assert.Equal(TimeSpan.FromSeconds(2), result.RetryAfter);
    }

    [Fact]
    public void Busy_without_history_suggests_the_default_retry()
    {
        var result = Matcher.Rank(Job, [W("a", running: 1, max: 1, avgSeconds: 0)]);
        Assert.Equal(MatchOutcome.Busy, result.Outcome);
        Assert.Equal(Matcher.DefaultRetryAfter, result.RetryAfter);
    }

    [Fact]
    public void No_qualifying_worker_is_distinguishable_from_busy()
    {
        Assert.Equal(MatchOutcome.NoWorker, Matcher.Rank(Job, []).Outcome);
        var result = Matcher.Rank(Job with { MaxCoefficient = 900 }, [W("pricey"), W("off", disabled: true, running: 9, max: 1)]);
        Assert.Equal(MatchOutcome.NoWorker, result.Outcome);
        Assert.Null(result.RetryAfter);

        // A full worker that would be refused anyway (over price) does not make the network "busy".
        result = Matcher.Rank(Job with { MaxCoefficient = 900 }, [W("pricey-and-full", running: 4, max: 4)]);
        Assert.Equal(MatchOutcome.NoWorker, result.Outcome);
        Assert.Equal([new ExcludedWorker("pricey-and-full", MatchExclusion.OverPrice)], result.Excluded);
    }

    [Fact]
    public void Sla_class_is_a_minimum()
    {
        var job = Job with { SlaClass = SlaClass.Standard };
        var result = Matcher.Rank(job, [W("best-effort"), W("standard", running: 1, sla: SlaClass.Standard), W("premium", running: 2, sla: SlaClass.Premium)]);
        Assert.Equal(["standard", "premium"], Ids(result));
        Assert.Contains(new ExcludedWorker("best-effort", MatchExclusion.BelowSla), result.Excluded);
    }

    [Fact]
    public void Preferred_region_ranks_first_while_it_has_room_and_others_remain()
    {
        var job = Job with { PreferredRegion = "US" };
        var workers = new[] { W("eu-idle", region: "eu"), W("us-busy", running: 3, region: "us") };
        Assert.Equal(["us-busy", "eu-idle"], Ids(Matcher.Rank(job, workers)));

        var usFull = new[] { W("eu-idle", region: "eu"), W("us-full", running: 4, region: "us") };
        Assert.Equal(["eu-idle"], Ids(Matcher.Rank(job, usFull)));
    }

    [Fact]
    public void Reputation_floor_excludes_and_constant_default_passes()
    {
        var job = Job with { ReputationFloor = 0.8 };
        var result = Matcher.Rank(job, [W("trusted"), W("shaky", reputation: 0.5), W("nan", reputation: double.NaN), W("edge", reputation: 0.8)]);
        Assert.Equal(["trusted", "edge"], Ids(result));
        Assert.Contains(new ExcludedWorker("shaky", MatchExclusion.BelowReputation), result.Excluded);
        Assert.Contains(new ExcludedWorker("nan", MatchExclusion.BelowReputation), result.Excluded);
        Assert.Equal(1.0, new WorkerSnapshot { WorkerId = "x", ProviderId = "p", ModelName = "m", ModelSha256 = Hash }.Reputation);
    }

    [Fact]
    public void Excluded_workers_are_skipped_for_redispatch()
    {
        var result = Matcher.Rank(Job with { ExcludedWorkers = ["died"] }, [W("died"), W("other", running: 2)]);
        Assert.Equal(["other"], Ids(result));
        Assert.Equal(MatchOutcome.NoWorker, Matcher.Rank(Job with { ExcludedWorkers = ["died"] }, [W("died")]).Outcome);
    }

    [Fact]
    public void Zero_capacity_worker_counts_as_full()
    {
        Assert.Equal(MatchOutcome.Busy, Matcher.Rank(Job, [W("none", running: 0, max: 0)]).Outcome);
    }

    [Fact]
    public void Ranking_is_deterministic_whatever_the_input_order()
    {
        var workers = Enumerable.Range(0, 40)
            .Select(i => W($"w{i:00}", running: i % 4, max: 4, avgSeconds: i % 3, coefficient: 900 + (i % 5 * 50), region: i % 2 == 0 ? "eu" : "us"))
            .ToArray();
        var job = Job with { PreferredRegion = "us", MaxCoefficient = 1050 };
        var expected = Ids(Matcher.Rank(job, workers));
        var random = new Random(7);
        for (var round = 0; round < 5; round++)
        {
            Assert.Equal(expected, Ids(Matcher.Rank(job, [.. workers.OrderBy(_ => random.Next())])));
        }

        // Every eligible worker: within price, with room; preferred region first, and inside each region by load.
        var ranked = Matcher.Rank(job, workers).Ranked;
        Assert.All(ranked, w => Assert.True(w.PriceCoefficient <= 1050 && w.RunningJobs < w.MaxConcurrency));
        var firstEu = ranked.ToList().FindIndex(w => w.Region == "eu");
        Assert.All(ranked.Take(firstEu), w => Assert.Equal("us", w.Region));
        Assert.All(ranked.Skip(firstEu), w => Assert.Equal("eu", w.Region));
        Assert.True(ranked.Take(firstEu).Select(w => w.LoadScore).SequenceEqual(ranked.Take(firstEu).Select(w => w.LoadScore).Order()));
    }

    [Fact]
    public void Full_workers_are_claimed_after_the_ranked_ones_least_loaded_first()
    {
        var result = Matcher.Rank(Job, [W("full-slow", running: 4, avgSeconds: 5), W("free"), W("full-fast", running: 4, avgSeconds: 1)]);
        Assert.Equal(["free", "full-fast", "full-slow"], result.ClaimOrder.Select(w => w.WorkerId));

        var busy = Matcher.Rank(Job, [W("full-slow", running: 4, avgSeconds: 5), W("full-fast", running: 4, avgSeconds: 1)]);
        Assert.Equal(MatchOutcome.Busy, busy.Outcome);
        Assert.Equal(["full-fast", "full-slow"], busy.ClaimOrder.Select(w => w.WorkerId));
    }

    [Fact]
    public void Workers_that_failed_the_job_are_used_only_when_nobody_else_qualifies()
    {
        var job = Job with { FailedWorkers = ["a"] };
        var result = Matcher.Rank(job, [W("a"), W("b", running: 3)]);
        Assert.Equal(["b"], Ids(result));
        Assert.Contains(new ExcludedWorker("a", MatchExclusion.FailedBefore), result.Excluded);

        // Another worker that is merely full still keeps the failed one out (it may free a slot).
        Assert.Equal(MatchOutcome.Busy, Matcher.Rank(job, [W("a"), W("b", running: 4)]).Outcome);

        // Nobody else at all: the failed worker is tried again.
        Assert.Equal(["a"], Ids(Matcher.Rank(job, [W("a")])));
    }

    [Fact]
    public void A_worker_whose_attested_context_is_too_small_is_left_out_and_reported()
    {
        var job = Job with { RequiredContext = 3000 };
        var result = Matcher.Rank(job, [W("small") with { ContextLength = 2048 }, W("large") with { ContextLength = 4096 }, W("unstated")]);
        Assert.Equal(["large", "unstated"], Ids(result).Order());
        Assert.Contains(new ExcludedWorker("small", MatchExclusion.ContextTooSmall), result.Excluded);

        var none = Matcher.Rank(job, [W("small") with { ContextLength = 2048 }, W("smaller") with { ContextLength = 1024 }]);
        Assert.Equal(MatchOutcome.NoWorker, none.Outcome);
        Assert.Equal(2048, none.LargestTooSmallContext);
    }
}
