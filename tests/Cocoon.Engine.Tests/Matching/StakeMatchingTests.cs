using Cocoon.Engine.Matching;

namespace Cocoon.Engine.Tests.Matching;

public sealed class StakeMatchingTests
{
    private static WorkerSnapshot W(string id, string tier, long stake) => new()
    {
        WorkerId = id, ProviderId = "p-" + id, ModelName = "m", ModelSha256 = "aa", Tier = tier, Stake = stake, MaxConcurrency = 4,
    };

    [Fact]
    public void A_worker_of_a_staked_tier_below_the_minimum_is_left_out_and_other_tiers_need_none()
    {
        var job = new JobSpec { Model = "m", MinimumStakeByTier = new Dictionary<string, long> { [TrustTiers.Tee] = 10 } };
        var result = Matcher.Rank(job, [W("poor", TrustTiers.Tee, 9), W("rich", TrustTiers.Tee, 10), W("dev", TrustTiers.Simulated, 0)]);

        Assert.Equal(["dev", "rich"], result.Ranked.Select(w => w.WorkerId).Order());
        Assert.Contains(new ExcludedWorker("poor", MatchExclusion.BelowStake), result.Excluded);
    }

    [Fact]
    public void Without_a_requirement_stake_is_not_checked_and_no_stake_is_never_a_last_resort()
    {
        Assert.Equal(MatchOutcome.Matched, Matcher.Rank(new JobSpec { Model = "m" }, [W("poor", TrustTiers.Tee, 0)]).Outcome);
        var job = new JobSpec { Model = "m", MinimumStakeByTier = new Dictionary<string, long> { [TrustTiers.Tee] = 10 }, FailedWorkers = ["x"] };
        Assert.Equal(MatchOutcome.NoWorker, Matcher.Rank(job, [W("poor", TrustTiers.Tee, 0)]).Outcome);
    }
}
