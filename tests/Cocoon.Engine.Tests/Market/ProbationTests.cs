using Cocoon.Engine.Reputation;

namespace Cocoon.Engine.Tests.Market;

public sealed class ProbationTests
{
    [Fact]
    public void The_policy_wants_passes_in_a_row_and_a_margin_above_the_floor()
    {
        var p = ProbationPolicy.Default;
        Assert.False(p.Returns(0.95, 0.85, p.PassesToReturn - 1));
        Assert.False(p.Returns(0.86, 0.85, p.PassesToReturn));
        Assert.True(p.Returns(0.87, 0.85, p.PassesToReturn));
        Assert.True(p.Barred(p.FailuresToBar));
    }

    [Fact]
    public void Probation_is_bounded_by_slow_answers_and_by_its_canaries()
    {
        var p = ProbationPolicy.Default;
        Assert.False(p.Barred(0, p.SlowToBar - 1, p.MaxCanaries - 1));
        Assert.True(p.Barred(0, p.SlowToBar, 0));
        Assert.True(p.Barred(0, 0, p.MaxCanaries));
        Assert.True(p.Barred(p.FailuresToBar, 0, 0));
    }

    [Fact]
    public void A_state_is_put_on_probation_below_the_floor_walks_its_streak_and_returns_or_is_barred_in_the_simulations_order()
    {
        var p = ProbationPolicy.Default;
        Assert.Null(ProbationPolicy.Track(null, 0.85, 0.85));
        var on = ProbationPolicy.Track(null, 0.84, 0.85)!;
        Assert.Equal(new ProbationState { Active = true, Entered = 1 }, on);
        Assert.Same(on, ProbationPolicy.Track(on, 0.5, 0.85));

        // A slow or missed canary starts the streak over; the score must be at the margin too.
        var s = on;
        for (var i = 0; i < p.PassesToReturn - 1; i++)
        {
            s = p.Judge(s, ProbationCanary.Passed, 0.95, 0.85);
        }

        Assert.True(p.Judge(s, ProbationCanary.Slow, 0.95, 0.85) is { Active: true, PassesInRow: 0, Slow: 1 });
        Assert.True(p.Judge(s, ProbationCanary.Missed, 0.95, 0.85) is { Active: true, PassesInRow: 0 });
        Assert.True(p.Judge(s, ProbationCanary.Passed, 0.86, 0.85) is { Active: true, PassesInRow: 20 });
        var back = p.Judge(s, ProbationCanary.Passed, 0.87, 0.85);
        Assert.Equal(new ProbationState { Entered = 1, Canaries = p.PassesToReturn }, back);

        // Falling again keeps the lifetime counts; a wrong answer bars at once, even with the streak and score there.
        var again = ProbationPolicy.Track(back, 0.8, 0.85)!;
        Assert.Equal(new ProbationState { Active = true, Entered = 2, Canaries = p.PassesToReturn }, again);
        Assert.True(p.Judge(s, ProbationCanary.Wrong, 0.99, 0.85) is { Active: false, Barred: true, Failures: 1 });
        var barred = p.Judge(again, ProbationCanary.Wrong, 0.5, 0.85);
        Assert.Same(barred, ProbationPolicy.Track(barred, 0.1, 0.85));
        Assert.Same(barred, p.Judge(barred, ProbationCanary.Passed, 0.99, 0.85));
        Assert.Equal("barred", p.Reason(barred, 0.85)!.Code);
        Assert.Equal("probation", p.Reason(again, 0.85)!.Code);
        Assert.Null(p.Reason(back, 0.85));

        // It lives in the reputation record: a round trip keeps it; a record without it keeps its old shape.
        var state = ReputationState.New with { Probation = again };
        Assert.Equal(state, ReputationState.FromJson(state.ToJson()));
        Assert.DoesNotContain("probation", ReputationState.New.ToJson(), StringComparison.Ordinal);
    }
}
