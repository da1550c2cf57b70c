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
}
