using System.Text.Json;
using Cocoon.Engine.Market;
using Cocoon.Engine.Reputation;

namespace Cocoon.Engine.Tests.Market;

/// <summary>The simulation's own guarantees; the figures themselves are for `./cocoon bench market`.</summary>
public sealed class MarketSimulationTests
{
    private static readonly MarketOptions Small = new() { Seed = 11, TotalJobs = 15_000 };

    [Fact]
    public void A_seed_gives_the_same_report()
    {
        // Determinism does not need a long run: a short market exercises every draw the long one does.
        var tiny = Small with { TotalJobs = 2_000 };
        var a = MarketSimulation.Run(tiny);
        var b = MarketSimulation.Run(tiny);

        Assert.Equal(JsonSerializer.Serialize(a), JsonSerializer.Serialize(b));
        Assert.NotEqual(JsonSerializer.Serialize(a), JsonSerializer.Serialize(MarketSimulation.Run(tiny.WithSeed(12))));
    }

    [Fact]
    public void With_the_defaults_no_honest_worker_is_slashed_every_kind_of_cheater_is_caught_within_200_jobs_and_probation_keeps_the_caught_out()
    {
        var report = MarketSimulation.Run(Small);

        Assert.Equal(0, report.HonestSlashed);
        Assert.Equal(0, report.HonestBelowFloor);
        Assert.All(report.Cheaters, c => Assert.True(c.Caught > 0, $"no {c.Behaviour} cheater caught"));
        Assert.Contains(report.Cheaters, c => c.Behaviour == WorkerBehaviour.OtherModel && c.SlashedFirst > 0);
        Assert.True(report.Replays > 0 && report.Canaries > 0);

        Assert.All(report.Cheaters, c => Assert.True(c.CaughtWithinWindowShare >= 0.99, $"{c.Behaviour}: {c.CaughtWithinWindow} of {c.Cheaters} within {report.Window} jobs"));
        Assert.Equal(0, report.HonestPutOnProbation);

        // A worker serving another model or truncating fails its first canary; a slow one is never fast enough.
        Assert.All(report.Cheaters.Where(c => c.Behaviour != WorkerBehaviour.DropsJobs), c => Assert.Equal(0, c.ReturnedFromProbation));
        Assert.True(report.CheatersBarred + report.CheatersReturned > report.CheatersOnProbation * 9 / 10, $"{report.CheatersBarred} barred and {report.CheatersReturned} back of {report.CheatersOnProbation}");

        // Probation is bounded: no worker gets more than the policy's canaries.
        Assert.True(report.ProbationCanaries <= report.CheatersOnProbation * ProbationPolicy.Default.MaxCanaries, $"{report.ProbationCanaries} probation canaries for {report.CheatersOnProbation} workers");
    }

    [Fact]
    public void The_rule_rejects_no_honest_answer_and_catches_another_model_in_a_fixed_sample()
    {
        var figures = MarketSimulation.MeasureRule(Small, honestChecks: 300, dishonestChecks: 100);

        Assert.Equal(0, figures.HonestRejected);
        Assert.True(figures.OtherModelCaught > 80, $"{figures.OtherModelCaught} of 100");
        Assert.Equal(100, figures.TruncatedCaught);
    }

    [Fact]
    public void Unlucky_honest_workers_go_on_probation_once_each_come_back_and_none_is_slashed_or_barred()
    {
        // Four honest workers each lose as long as 12 of their jobs take, from their 30th: enough abandoned jobs to fall
        // below the floor. An outage is a stretch of time; when it was counted in the worker's own jobs it paused while
        // the worker was on probation, and each came back only to fall again (8 falls for 4 workers).
        var report = MarketSimulation.Run(new MarketOptions { Seed = 5, TotalJobs = 8_000, Cheaters = [], UnluckyWorkers = 4, OutageJobs = 12 });

        Assert.Equal(4, report.HonestPutOnProbation);
        Assert.Equal(4, report.HonestBelowFloor);
        Assert.Equal(4, report.HonestReturned);
        Assert.Equal(0, report.HonestOnProbationAtEnd);
        Assert.Equal(0, report.HonestBarred);
        Assert.Equal(0, report.HonestSlashed);
        Assert.All(report.HonestCanariesToReturn, n => Assert.InRange(n, ProbationPolicy.Default.PassesToReturn, ProbationPolicy.Default.MaxCanaries - 1));
    }
}
