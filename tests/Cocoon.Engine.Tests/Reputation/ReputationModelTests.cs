using System.Text.Json;
using Cocoon.Engine.Matching;
using Cocoon.Engine.Reputation;

namespace Cocoon.Engine.Tests.Reputation;

public sealed class ReputationModelTests
{
    private static readonly ReputationModel Model = new(ReputationPolicy.Default);

    private static readonly JobOutcome OnTime = new(JobResult.Completed, SlaClass.Standard, TimeSpan.FromMilliseconds(500), 40);

    private static ReputationState Run(ReputationState state, JobOutcome outcome, int times)
    {
        for (var i = 0; i < times; i++)
        {
            state = Model.Apply(state, outcome);
        }

        return state;
    }

    [Fact]
    public void A_new_worker_starts_neutral_and_is_told_so()
    {
        var score = Model.Score(ReputationState.New);

        Assert.Equal(0.95 * 0.95, score.Value, 6);
        Assert.Equal(1.0, score.Integrity);
        Assert.Contains(score.Reasons, r => r.Code == "new");
        Assert.True(score.Value >= ReputationPolicy.Default.DefaultFloor);
    }

    [Fact]
    public void Completed_on_time_jobs_earn_a_place_above_neutral()
    {
        var score = Model.Score(Run(ReputationState.New, OnTime, 200));

        Assert.True(score.Value > 0.98, $"score {score.Value}");
        Assert.Empty(score.Reasons);
    }

    [Fact]
    public void Recent_outcomes_weigh_more_than_old_ones()
    {
        var failedLongAgo = Run(Run(ReputationState.New, new JobOutcome(JobResult.Abandoned, SlaClass.Standard), 50), OnTime, 300);
        var failedRecently = Run(Run(ReputationState.New, OnTime, 300), new JobOutcome(JobResult.Abandoned, SlaClass.Standard), 50);

        Assert.True(Model.Score(failedLongAgo).Value > Model.Score(failedRecently).Value + 0.15);
    }

    [Fact]
    public void One_half_life_of_jobs_halves_the_weight_of_an_old_failure()
    {
        var state = Model.Apply(ReputationState.New, new JobOutcome(JobResult.Failed, SlaClass.Standard));
        state = Run(state, OnTime, (int)ReputationPolicy.Default.JobHalfLife);

        Assert.Equal(0.5, state.Failed, 9);
    }

    [Fact]
    public void Failures_lower_the_score_with_a_reason_that_counts_them()
    {
        var state = Run(ReputationState.New, OnTime, 80);
        state = Run(state, new JobOutcome(JobResult.Failed, SlaClass.Standard), 10);
        state = Run(state, new JobOutcome(JobResult.Abandoned, SlaClass.Standard), 10);
        var score = Model.Score(state);

        Assert.True(score.Completion < 0.9, $"completion {score.Completion}");
        var reason = Assert.Single(score.Reasons, r => r.Code == "completion");
        Assert.Contains("failed", reason.Message, StringComparison.Ordinal);
        Assert.Contains("abandoned", reason.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Timings_are_judged_against_the_declared_class()
    {
        var slow = new JobOutcome(JobResult.Completed, SlaClass.Standard, TimeSpan.FromSeconds(3), 10);
        var standard = Model.Score(Run(ReputationState.New, slow, 30));
        var bestEffort = Model.Score(Run(ReputationState.New, slow with { DeclaredClass = SlaClass.BestEffort }, 30));

        Assert.True(standard.Sla < 0.5, $"sla {standard.Sla}");
        Assert.Contains(standard.Reasons, r => r.Code == "sla-first-token");
        Assert.Contains(standard.Reasons, r => r.Code == "sla-speed");
        Assert.True(standard.Value < ReputationPolicy.Default.DefaultFloor);
        Assert.True(bestEffort.Sla > 0.95);
        Assert.True(bestEffort.Value > ReputationPolicy.Default.DefaultFloor);
    }

    [Fact]
    public void One_integrity_fault_puts_even_a_long_serving_worker_below_the_floor()
    {
        var state = Run(ReputationState.New, OnTime, 500);
        for (var i = 0; i < 10; i++)
        {
            state = Model.Apply(state, new IntegrityVerdict(IntegrityKind.SpotCheck, true));
        }

        Assert.True(Model.Score(state).Value > 0.98);
        state = Model.Apply(state, new IntegrityVerdict(IntegrityKind.Canary, false));
        var score = Model.Score(state);

        Assert.True(score.Value < ReputationPolicy.Default.DefaultFloor, $"score {score.Value}");
        Assert.Contains(score.Reasons, r => r.Code == "integrity-fault");
        Assert.Equal(1, state.CanariesFailed);
        Assert.Equal(10, state.SpotChecksPassed);
    }

    [Fact]
    public void An_overruled_checker_loses_a_little_not_its_place()
    {
        var state = Run(ReputationState.New, OnTime, 50);
        state = Model.Apply(state, new IntegrityVerdict(IntegrityKind.SpotCheck, true));
        state = Model.Apply(state, new IntegrityVerdict(IntegrityKind.SpotCheck, true));
        state = Model.Apply(state, new IntegrityVerdict(IntegrityKind.CheckerOverruled, false));
        var score = Model.Score(state);

        Assert.True(score.Value > ReputationPolicy.Default.DefaultFloor, $"score {score.Value}");
        Assert.Contains(score.Reasons, r => r.Code == "integrity-overruled");
    }

    [Fact]
    public void The_state_round_trips_through_json()
    {
        var state = Run(ReputationState.New, OnTime, 7);
        state = Model.Apply(state, new JobOutcome(JobResult.Failed, SlaClass.Premium));
        state = Model.Apply(state, new IntegrityVerdict(IntegrityKind.Canary, true));

        var json = state.ToJson();

        Assert.Equal(state, ReputationState.FromJson(json));
        Assert.Contains("\"canariesPassed\":1", json, StringComparison.Ordinal);
        Assert.DoesNotContain("integrityVerdicts", json, StringComparison.Ordinal);
    }

    [Fact]
    public void A_stored_state_of_another_shape_or_version_is_refused()
    {
        Assert.Throws<JsonException>(() => ReputationState.FromJson("""{"version":1,"jobs":3,"surprise":1}"""));
        Assert.Throws<JsonException>(() => ReputationState.FromJson("""{"version":2}"""));
        Assert.Throws<JsonException>(() => ReputationState.FromJson("null"));
    }
}
