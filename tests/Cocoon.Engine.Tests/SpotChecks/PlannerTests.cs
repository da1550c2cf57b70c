using Cocoon.Engine.SpotChecks;

namespace Cocoon.Engine.Tests.SpotChecks;

public sealed class PlannerTests
{
    private static readonly byte[] Secret = [.. Enumerable.Range(1, 32).Select(i => (byte)i)];

    [Fact]
    public void About_the_configured_fraction_is_replayed_and_the_choice_is_stable()
    {
        var planner = new ReplayPlanner(Secret);
        var picked = Enumerable.Range(0, 100_000).Count(i => planner.ShouldReplay($"req-{i}"));

        Assert.InRange(picked, 1_800, 2_200);
        Assert.Equal(planner.ShouldReplay("req-42"), new ReplayPlanner(Secret).ShouldReplay("req-42"));
    }

    [Fact]
    public void Another_secret_picks_other_jobs()
    {
        var a = new ReplayPlanner(Secret, 0.5);
        var b = new ReplayPlanner([.. Secret.Select(x => (byte)(x ^ 0x5a))], 0.5);
        var agree = Enumerable.Range(0, 10_000).Count(i => a.ShouldReplay($"req-{i}") == b.ShouldReplay($"req-{i}"));

        Assert.InRange(agree, 4_500, 5_500);
    }

    [Fact]
    public void A_guessable_secret_or_a_bad_fraction_is_refused()
    {
        Assert.Throws<ArgumentException>(() => new ReplayPlanner(new byte[16]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReplayPlanner(Secret, 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReplayPlanner(Secret, double.NaN));
    }

    [Fact]
    public void A_canary_imitates_observed_sizes_and_spacing()
    {
        TrafficSample[] traffic = [new(900, 300, 0, TimeSpan.FromMilliseconds(250))];
        CanaryPrompt[] bank = [new("short", 50, 20), new("long", 1000, 400), new("mid", 400, 100)];

        var plan = CanaryPlanner.Plan("w1", traffic, bank, ["caller-a"], new Random(1));

        Assert.NotNull(plan);
        Assert.Equal("long", plan.CanaryId);
        Assert.Equal(401, plan.MaxTokens);
        Assert.Equal(TimeSpan.FromMilliseconds(250), plan.SendAfter);
        Assert.Equal("caller-a", plan.CallerId);
        Assert.Null(CanaryPlanner.Plan("w1", [], bank, ["caller-a"], new Random(1)));
    }

    [Fact]
    public void New_workers_get_canaries_more_often_until_they_have_a_record()
    {
        var planner = new CanaryPlanner();

        Assert.True(planner.ShouldSendCanary(0.01, integrityVerdicts: 0));
        Assert.False(planner.ShouldSendCanary(0.01, integrityVerdicts: planner.NewWorkerChecks));
        Assert.Equal(0.5, CanaryPlanner.GreedyShare([new(1, 1, 0, TimeSpan.Zero), new(1, 1, 0.8, TimeSpan.Zero)]));
    }
}
