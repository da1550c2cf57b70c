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
}
