using Cocoon.Engine.Protocol;
using Cocoon.Engine.Reputation;
using Cocoon.Engine.SpotChecks;

namespace Cocoon.Engine.Tests.SpotChecks;

/// <summary>How a picked answer is checked (<see cref="SpotCheckModes"/>), and what an unverifiable one costs.</summary>
public sealed class SpotCheckModeTests
{
    private static readonly SamplingOptions Greedy = new() { Temperature = 0 };
    private static readonly SamplingOptions Sampled = new() { Temperature = 0.8f };

    [Fact]
    public void Sealed_ids_are_scored_a_greedy_answer_without_them_is_regenerated_and_a_sampled_one_is_unverifiable()
    {
        Assert.Equal(SpotCheckMode.Score, SpotCheckModes.For([5, 9, 2], Sampled));
        Assert.Equal(SpotCheckMode.Score, SpotCheckModes.For([5], Greedy));
        Assert.Equal(SpotCheckMode.Regenerate, SpotCheckModes.For(null, Greedy));
        Assert.Equal(SpotCheckMode.Regenerate, SpotCheckModes.For([], Greedy));
        Assert.Equal(SpotCheckMode.Unverifiable, SpotCheckModes.For(null, Sampled));
        Assert.Equal(SpotCheckMode.Unverifiable, SpotCheckModes.For([], Sampled));
    }

    [Fact]
    public void An_unverifiable_answer_costs_as_much_as_a_lost_spot_check()
    {
        var model = new ReputationModel(ReputationPolicy.Default);
        var dodged = model.Apply(ReputationState.New, new IntegrityVerdict(IntegrityKind.Unverifiable, false));
        var lost = model.Apply(ReputationState.New, new IntegrityVerdict(IntegrityKind.SpotCheck, false));
        Assert.Equal(1, dodged.SpotChecksFailed);
        Assert.Equal(lost.IntegrityFailed, dodged.IntegrityFailed);
        Assert.Equal(model.Score(lost).Value, model.Score(dodged).Value);
        Assert.True(model.Score(dodged).Value < ReputationPolicy.Default.DefaultFloor);
        Assert.Contains(model.Score(dodged).Reasons, r => r.Code == "integrity-fault");
    }
}
