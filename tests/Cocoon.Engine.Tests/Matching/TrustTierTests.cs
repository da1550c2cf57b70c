using Cocoon.Engine.Attestation;
using Cocoon.Engine.Matching;
using Cocoon.Engine.Pricing;

namespace Cocoon.Engine.Tests.Matching;

public sealed class TrustTierTests
{
    private static WorkerSnapshot W(string id, string tier, int running = 0) => new()
    {
        WorkerId = id,
        ProviderId = "p-" + id,
        ModelName = "stories",
        ModelSha256 = new string('a', 64),
        RunningJobs = running,
        MaxConcurrency = 1,
        Tier = tier,
    };

    [Fact]
    public void A_consumer_worker_is_excluded_for_a_caller_who_did_not_opt_in_even_when_it_is_the_only_free_one()
    {
        var workers = new[] { W("sim", TrustTiers.Simulated, running: 1), W("home", TrustTiers.Consumer) };
        var result = Matcher.Rank(new JobSpec { Model = "stories", AcceptedTiers = TrustTiers.Default(simulatedAllowed: true) }, workers);

        Assert.Equal(MatchOutcome.Busy, result.Outcome);
        Assert.Equal(["sim"], result.ClaimOrder.Select(w => w.WorkerId));
        Assert.Contains(new ExcludedWorker("home", MatchExclusion.TierNotAccepted), result.Excluded);
    }

    [Fact]
    public void The_tier_exclusion_survives_the_last_resort_retry_without_failed_workers()
    {
        var workers = new[] { W("sim", TrustTiers.Simulated), W("home", TrustTiers.Consumer) };
        var result = Matcher.Rank(new JobSpec { Model = "stories", AcceptedTiers = [TrustTiers.Tee, TrustTiers.Simulated], FailedWorkers = ["sim"] }, workers);

        Assert.Equal(["sim"], result.ClaimOrder.Select(w => w.WorkerId));
    }

    [Fact]
    public void A_caller_who_opted_in_can_be_served_by_a_consumer_worker_and_null_accepts_any_tier()
    {
        var workers = new[] { W("home", TrustTiers.Consumer) };
        Assert.Equal("home", Matcher.Rank(new JobSpec { Model = "stories", AcceptedTiers = [TrustTiers.Consumer] }, workers).Best?.WorkerId);
        Assert.Equal("home", Matcher.Rank(new JobSpec { Model = "stories" }, workers).Best?.WorkerId);
        Assert.Equal(MatchOutcome.NoWorker, Matcher.Rank(new JobSpec { Model = "stories", AcceptedTiers = [TrustTiers.Tee] }, workers).Outcome);
    }

    [Fact]
    public void Labels_follow_what_was_verified()
    {
        Assert.Equal("tee", TrustTiers.FromTeeKind(TeeKinds.Tdx));
        Assert.Equal("simulated", TrustTiers.FromTeeKind(TeeKinds.Simulated));
        Assert.Equal("consumer", TrustTiers.FromTeeKind(TeeKinds.Consumer));
        Assert.Equal("consumer", TrustTiers.FromTeeKind("sev-snp")); // unknown: never labelled stronger than it is
        Assert.Equal(["tee", "simulated"], TrustTiers.Default(simulatedAllowed: true));
        Assert.Equal(["tee"], TrustTiers.Default(simulatedAllowed: false));
    }

    [Fact]
    public void Requested_tiers_parse_from_lists_and_comma_separated_strings_and_unknown_names_are_refused()
    {
        Assert.Equal(["tee", "consumer"], TrustTiers.Parse(["consumer, TEE", "tee"], out var error));
        Assert.Null(error);
        Assert.Null(TrustTiers.Parse(["gold"], out error));
        Assert.Equal("'gold' is not a trust tier; use tee, simulated or consumer.", error);
        Assert.Null(TrustTiers.Parse([""], out error));
        Assert.Equal("At least one trust tier is needed: tee, simulated or consumer.", error);
    }

    [Fact]
    public void Consumer_workers_are_priced_by_the_consumer_table_and_the_hold_covers_the_dearest_accepted_tier()
    {
        var cheap = new ModelPrice { PromptPerMillion = 1_000_000, CachedPromptPerMillion = 0, CompletionPerMillion = 2_000_000 };
        var table = new PriceTable(new PricingOptions { Consumer = new ConsumerPricingOptions { Default = cheap } });

        Assert.Same(cheap, table.For("stories", TrustTiers.Consumer));
        Assert.Same(table.Default, table.For("stories", TrustTiers.Simulated));
        Assert.Equal(
            table.Reserve("stories", 10, 10, 1000),
            table.Reserve("stories", 10, 10, 1000, [TrustTiers.Tee, TrustTiers.Consumer]));
        Assert.Equal(
            PriceCalculator.Reserve(cheap, 10, 10, 1000),
            table.Reserve("stories", 10, 10, 1000, [TrustTiers.Consumer]));
        Assert.Same(table.Default, new PriceTable(new PricingOptions()).For("stories", TrustTiers.Consumer));
    }
}
