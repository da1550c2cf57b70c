using Cocoon.Engine.Matching;

namespace Cocoon.Engine.Reputation;

/// <summary>The published targets of a class: the first piece within this time, and at least this many tokens per second.</summary>
public sealed record SlaTarget(TimeSpan MaxTimeToFirstToken, double MinTokensPerSecond);

/// <summary>
/// The parameters of <see cref="ReputationModel"/>. Recent outcomes weigh more by decay per job: each new job
/// multiplies the weight of everything before it by 2^(−1/half-life), so the outcome of a job
/// <see cref="JobHalfLife"/> jobs ago counts half as much as the latest one, and a long-lived worker's score rests on
/// about 1.44 × half-life recent jobs. Decay counts jobs, not time: an idle worker keeps its score, and a busy one
/// cannot dilute an old fault faster by serving more in an hour than the half-life allows.
/// </summary>
public sealed record ReputationPolicy
{
    /// <summary>Half-life of completion and SLA evidence, in the worker's jobs.</summary>
    public double JobHalfLife { get; init; } = 100;

    /// <summary>Half-life of integrity evidence (spot checks, canaries), in jobs: a fault is remembered ten times longer.</summary>
    public double IntegrityHalfLife { get; init; } = 1000;

    /// <summary>
    /// What a worker without history is assumed to achieve, as pseudo-jobs: a new worker starts at
    /// <see cref="PriorCompletion"/> × <see cref="PriorSla"/> (neutral: the network's typical worker, about 0.90) and
    /// earns its place as its own jobs outweigh the <see cref="PriorStrength"/> pseudo-jobs.
    /// </summary>
    public double PriorCompletion { get; init; } = 0.95;

    public double PriorSla { get; init; } = 0.95;

    public double PriorStrength { get; init; } = 20;

    /// <summary>Pseudo-passes an integrity record starts with: with no verdict the integrity factor is 1.</summary>
    public double IntegrityPriorPasses { get; init; } = 5;

    /// <summary>How many passes one integrity failure outweighs.</summary>
    public double IntegrityFailureWeight { get; init; } = 25;

    /// <summary>
    /// A checker outvoted in a tie-break may be an honest one scoring a borderline answer: half a pass, so only a
    /// checker that is overruled again and again loses its place (the simulation saw an honest one excluded at 5).
    /// </summary>
    public double OverruledWeight { get; init; } = 0.5;

    /// <summary>The score below which the gateway stops matching a worker unless the caller sets its own floor.</summary>
    public double DefaultFloor { get; init; } = 0.8;

    public SlaTarget? Target(SlaClass sla) => sla switch
    {
        SlaClass.Standard => Standard,
        SlaClass.Premium => Premium,
        _ => null,
    };

    public SlaTarget Standard { get; init; } = new(TimeSpan.FromSeconds(2), 20);

    public SlaTarget Premium { get; init; } = new(TimeSpan.FromSeconds(1), 50);

    public static ReputationPolicy Default { get; } = new();
}
