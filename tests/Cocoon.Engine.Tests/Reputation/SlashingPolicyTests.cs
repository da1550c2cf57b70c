using Cocoon.Engine.Slashing;

namespace Cocoon.Engine.Tests.Reputation;

public sealed class SlashingPolicyTests
{
    [Fact]
    public void A_proven_fault_takes_a_share_of_the_stake_split_between_the_user_and_the_network()
    {
        var decision = new SlashingPolicy().Decide(Fault.LostTieBreak, 100_000_000_000);

        Assert.Equal(10_000_000_000, decision.Amount);
        Assert.Equal(5_000_000_000, decision.ToUser);
        Assert.Equal(5_000_000_000, decision.ToNetwork);
        Assert.False(decision.BelowMinimumAfter);
    }

    [Fact]
    public void A_small_stake_loses_at_least_the_minimum_and_never_more_than_it_has()
    {
        var policy = new SlashingPolicy();

        Assert.Equal(policy.MinimumSlash, policy.Decide(Fault.FailedCanary, 5_000_000_000).Amount);
        Assert.True(policy.Decide(Fault.FailedCanary, 5_000_000_000).BelowMinimumAfter);
        Assert.Equal(400_000_000, policy.Decide(Fault.FailedCanary, 400_000_000).Amount);
        Assert.Equal(0, policy.Decide(Fault.FailedCanary, 0).Amount);
    }
}
