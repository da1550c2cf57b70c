using System.Text.Json;
using Cocoon.Engine.Market;

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
    public void With_the_defaults_no_honest_worker_is_slashed_and_cheaters_are_caught()
    {
        var report = MarketSimulation.Run(Small);

        Assert.Equal(0, report.HonestSlashed);
        Assert.Equal(0, report.HonestBelowFloor);
        Assert.All(report.Cheaters, c => Assert.True(c.Caught > 0, $"no {c.Behaviour} cheater caught"));
        Assert.Contains(report.Cheaters, c => c.Behaviour == WorkerBehaviour.OtherModel && c.SlashedFirst > 0);
        Assert.True(report.Replays > 0 && report.Canaries > 0);
    }

    [Fact]
    public void The_rule_rejects_no_honest_answer_and_catches_another_model_in_a_fixed_sample()
    {
        var figures = MarketSimulation.MeasureRule(Small, honestChecks: 300, dishonestChecks: 100);

        Assert.Equal(0, figures.HonestRejected);
        Assert.True(figures.OtherModelCaught > 80, $"{figures.OtherModelCaught} of 100");
        Assert.Equal(100, figures.TruncatedCaught);
    }
}
