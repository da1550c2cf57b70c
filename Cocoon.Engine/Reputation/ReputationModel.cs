using System.Globalization;

namespace Cocoon.Engine.Reputation;

/// <summary>One reason behind a score, for the provider to read: a stable code and a sentence with the numbers.</summary>
public sealed record ReputationReason(string Code, string Message);

/// <summary>A score in [0, 1], its three factors and the reasons behind it.</summary>
public sealed record ReputationScore(double Value, double Completion, double Sla, double Integrity, long Jobs, IReadOnlyList<ReputationReason> Reasons);

/// <summary>
/// Reputation from what the gateway measures. score = completion × SLA × integrity:
/// <list type="bullet">
/// <item>completion: completed ÷ all jobs (failed and abandoned count against), decayed, with the prior's pseudo-jobs;</item>
/// <item>SLA: completed jobs that met the declared class's time to first token and tokens per second, decayed, with a
///   prior (a worker declaring best effort has no target and meets it by definition);</item>
/// <item>integrity: (passes + prior) ÷ (passes + prior + weighted failures), on a ten times longer half-life; one
///   failure outweighs <see cref="ReputationPolicy.IntegrityFailureWeight"/> passes.</item>
/// </list>
/// A product, because each factor is a separate way to fail a user: a fast worker that drops a fifth of its jobs is
/// not a 0.9 worker. Pure: state and record in, state out.
/// </summary>
public sealed class ReputationModel(ReputationPolicy policy)
{
    public ReputationPolicy Policy { get; } = policy ?? throw new ArgumentNullException(nameof(policy));

    public ReputationState Apply(ReputationState state, JobOutcome job)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(job);
        var d = Math.Pow(2, -1 / Policy.JobHalfLife);
        var di = Math.Pow(2, -1 / Policy.IntegrityHalfLife);
        var completed = job.Result == JobResult.Completed;
        var slowFirst = false;
        var slowTokens = false;
        if (completed && Policy.Target(job.DeclaredClass) is { } target)
        {
            // Missing measurements count as misses: the gateway always has them for a completed job.
            slowFirst = !(job.TimeToFirstToken <= target.MaxTimeToFirstToken);
            slowTokens = !(job.TokensPerSecond >= target.MinTokensPerSecond);
        }

        return state with
        {
            Jobs = state.Jobs + 1,
            Completed = state.Completed * d + (completed ? 1 : 0),
            Failed = state.Failed * d + (job.Result == JobResult.Failed ? 1 : 0),
            Abandoned = state.Abandoned * d + (job.Result == JobResult.Abandoned ? 1 : 0),
            SlaMet = state.SlaMet * d + (completed && !slowFirst && !slowTokens ? 1 : 0),
            SlowFirstToken = state.SlowFirstToken * d + (slowFirst ? 1 : 0),
            SlowTokens = state.SlowTokens * d + (slowTokens ? 1 : 0),
            IntegrityPassed = state.IntegrityPassed * di,
            IntegrityFailed = state.IntegrityFailed * di,
        };
    }

    public ReputationState Apply(ReputationState state, IntegrityVerdict verdict)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(verdict);
        if (verdict.Passed)
        {
            return state with
            {
                IntegrityPassed = state.IntegrityPassed + 1,
                SpotChecksPassed = state.SpotChecksPassed + (verdict.Kind == IntegrityKind.SpotCheck ? 1 : 0),
                CanariesPassed = state.CanariesPassed + (verdict.Kind == IntegrityKind.Canary ? 1 : 0),
            };
        }

        var weight = verdict.Kind == IntegrityKind.CheckerOverruled ? Policy.OverruledWeight : Policy.IntegrityFailureWeight;
        return state with
        {
            IntegrityFailed = state.IntegrityFailed + weight,
            // An answer kept from its check counts as a failed check: withholding the ids must not be a way out.
            SpotChecksFailed = state.SpotChecksFailed + (verdict.Kind is IntegrityKind.SpotCheck or IntegrityKind.Unverifiable ? 1 : 0),
            CanariesFailed = state.CanariesFailed + (verdict.Kind == IntegrityKind.Canary ? 1 : 0),
            OverruledAsChecker = state.OverruledAsChecker + (verdict.Kind == IntegrityKind.CheckerOverruled ? 1 : 0),
            ReceiptMismatches = state.ReceiptMismatches + (verdict.Kind == IntegrityKind.ReceiptMismatch ? 1 : 0),
        };
    }

    public ReputationScore Score(ReputationState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var p = Policy;
        var all = state.Completed + state.Failed + state.Abandoned;
        var completion = (state.Completed + p.PriorCompletion * p.PriorStrength) / (all + p.PriorStrength);
        var sla = (state.SlaMet + p.PriorSla * p.PriorStrength) / (state.Completed + p.PriorStrength);
        var integrity = (state.IntegrityPassed + p.IntegrityPriorPasses) / (state.IntegrityPassed + p.IntegrityPriorPasses + state.IntegrityFailed);
        var value = Math.Clamp(completion * sla * integrity, 0, 1);

        var reasons = new List<ReputationReason>();
        if (state.Jobs == 0)
        {
            reasons.Add(new("new", Say($"No jobs yet: you start at the network's typical score {value:0.00} and earn more with completed, on-time, verified jobs.")));
        }

        if (state.Failed + state.Abandoned >= 0.5)
        {
            reasons.Add(new("completion", Say($"Completion {completion:0.00}: of about {all:0.0} recent jobs (recent weigh more), {state.Failed:0.0} failed and {state.Abandoned:0.0} were abandoned.")));
        }

        if (state.SlowFirstToken >= 0.5)
        {
            reasons.Add(new("sla-first-token", Say($"SLA {sla:0.00}: the first piece came later than your class allows in about {state.SlowFirstToken:0.0} of {state.Completed:0.0} recent completed jobs.")));
        }

        if (state.SlowTokens >= 0.5)
        {
            reasons.Add(new("sla-speed", Say($"SLA {sla:0.00}: fewer tokens per second than your class requires in about {state.SlowTokens:0.0} of {state.Completed:0.0} recent completed jobs.")));
        }

        if (state.SpotChecksFailed + state.CanariesFailed > 0)
        {
            reasons.Add(new("integrity-fault", Say($"Integrity {integrity:0.00}: {state.SpotChecksFailed} spot check(s) failed (lost in a tie-break, or the answer came without the token ids its check needs) and {state.CanariesFailed} canary(ies) failed; each outweighs {p.IntegrityFailureWeight:0} passes.")));
        }

        if (state.OverruledAsChecker > 0)
        {
            reasons.Add(new("integrity-overruled", Say($"Integrity {integrity:0.00}: as a checker you rejected {state.OverruledAsChecker} answer(s) that a third worker accepted.")));
        }

        if (state.ReceiptMismatches > 0)
        {
            reasons.Add(new("receipt-mismatch", Say($"{state.ReceiptMismatches} receipt(s) claimed more tokens than were delivered.")));
        }

        if (state.IntegrityVerdicts > 0 && state.SpotChecksFailed + state.CanariesFailed == 0)
        {
            reasons.Add(new("integrity-passed", Say($"{state.SpotChecksPassed} spot check(s) and {state.CanariesPassed} canary(ies) passed.")));
        }

        return new ReputationScore(value, completion, sla, integrity, state.Jobs, reasons);
    }

    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
