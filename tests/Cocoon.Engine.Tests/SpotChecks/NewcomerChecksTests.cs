using Cocoon.Engine.SpotChecks;

namespace Cocoon.Engine.Tests.SpotChecks;

/// <summary>A new worker is checked harder while it earns its place (<see cref="NewcomerChecks"/>).</summary>
public sealed class NewcomerChecksTests
{
    private static readonly byte[] Secret = [.. Enumerable.Range(1, 32).Select(i => (byte)i)];

    [Fact]
    public void The_first_jobs_are_checked_at_the_newcomer_fraction_and_later_ones_at_the_base()
    {
        var rule = NewcomerChecks.Default;
        Assert.Equal(100, rule.Jobs);
        Assert.Equal(0.2, rule.FractionFor(0, 0.02));
        Assert.Equal(0.2, rule.FractionFor(99, 0.02));
        Assert.Equal(0.02, rule.FractionFor(100, 0.02));
        // Never below the base: a network checking 50% checks newcomers at 50% too.
        Assert.Equal(0.5, rule.FractionFor(3, 0.5));
        Assert.Equal(0.02, NewcomerChecks.Off.FractionFor(0, 0.02));
        // Spot checks off (base 0) are off for newcomers too.
        Assert.Equal(0, rule.FractionFor(0, 0));
    }

    [Fact]
    public void A_newcomer_is_picked_about_ten_times_as_often_and_always_for_what_the_base_rate_picks()
    {
        var planner = new ReplayPlanner(Secret);
        var ids = Enumerable.Range(0, 20_000).Select(i => "req-" + i).ToList();
        var fresh = ids.Count(id => planner.ShouldReplay(id, 0, NewcomerChecks.Default));
        var seasoned = ids.Count(id => planner.ShouldReplay(id, 1_000, NewcomerChecks.Default));
        Assert.InRange(fresh, 3_700, 4_300); // 20% of 20,000 ± about 7 standard deviations
        Assert.InRange(seasoned, 280, 520); // 2%
        Assert.All(ids.Where(planner.ShouldReplay), id => Assert.True(planner.ShouldReplay(id, 0, NewcomerChecks.Default)));
        Assert.Equal(ids.Count(planner.ShouldReplay), seasoned);
    }

    [Fact]
    public void A_cheater_under_a_new_identity_meets_its_first_check_within_about_five_jobs()
    {
        // The chance that a new worker's first 20 jobs all go unchecked: 0.8^20 ≈ 1.2% (at 2%: 0.98^20 ≈ 67%).
        var planner = new ReplayPlanner(Secret);
        var unchecked20 = 0;
        const int Workers = 2_000;
        for (var w = 0; w < Workers; w++)
        {
            if (Enumerable.Range(0, 20).All(j => !planner.ShouldReplay($"w{w}-job{j}", j, NewcomerChecks.Default)))
            {
                unchecked20++;
            }
        }

        Assert.InRange(unchecked20 / (double)Workers, 0.002, 0.03);
    }
}
