using Cocoon.Engine.Reputation;

namespace Cocoon.Engine.Market;

/// <summary>The named ways a simulated worker behaves.</summary>
public enum WorkerBehaviour
{
    Honest,
    /// <summary>Serves another (cheaper, related) model than the one it attests: its logits correlate with the real model's.</summary>
    OtherModel,
    /// <summary>Stops generating early and ends the answer with the end-of-generation token.</summary>
    Truncates,
    /// <summary>Declares the Standard class but delivers a fraction of its speed.</summary>
    Slow,
    /// <summary>Abandons a share of its jobs.</summary>
    DropsJobs,
}

/// <summary>The market simulation's parameters; the defaults are the ones the bench reports.</summary>
public sealed record MarketOptions
{
    public int Seed { get; init; } = 1;

    public int TotalJobs { get; init; } = 100_000;

    public int HonestWorkers { get; init; } = 16;

    /// <summary>Cheater slots, one per named behaviour each; a caught cheater is replaced by a fresh one of the same kind.</summary>
    public IReadOnlyList<WorkerBehaviour> Cheaters { get; init; } = [WorkerBehaviour.OtherModel, WorkerBehaviour.Truncates, WorkerBehaviour.Slow, WorkerBehaviour.DropsJobs];

    public double ReplayFraction { get; init; } = 0.02;

    public double CanaryRate { get; init; } = 0.005;

    public double NewWorkerCanaryRate { get; init; } = 0.05;

    public int NewWorkerChecks { get; init; } = 5;

    public double ReputationFloor { get; init; } = 0.85;

    /// <summary>
    /// A checker or tie-breaker must have at least this many passed integrity verdicts and no failure; when no peer
    /// qualifies, the network's own reference worker (the one that scores canaries) scores the replay.
    /// </summary>
    public int CheckerMinimumPasses { get; init; } = 2;

    /// <summary>The window in which a cheater counts as caught in time.</summary>
    public int CatchWindow { get; init; } = 200;

    /// <summary>A cheater still uncaught after this many jobs is recorded as evading and replaced.</summary>
    public int EvasionLimit { get; init; } = 5_000;

    // Token level.
    public int Vocabulary { get; init; } = 128;

    public double GreedyShare { get; init; } = 0.3;

    public double PenaltyShare { get; init; } = 0.2;

    /// <summary>Standard deviation of each worker's own logit noise (batch composition, kernels, hardware).</summary>
    public double LogitNoise { get; init; } = 0.02;

    /// <summary>Correlation of the other model's logits with the attested model's.</summary>
    public double OtherModelCorrelation { get; init; } = 0.9;

    // Job level.
    public double HonestFailureRate { get; init; } = 0.005;

    public double DropRate { get; init; } = 0.2;

    /// <summary>The slow cheater's speed as a share of the class target.</summary>
    public double SlowSpeedShare { get; init; } = 0.6;

    // Probation (the way back above the floor, ProbationPolicy).

    public ProbationPolicy Probation { get; init; } = ProbationPolicy.Default;

    /// <summary>Per market job, the chance that each worker on probation is sent a canary; 0: a worker below the floor is out for ever.</summary>
    public double ProbationCanaryRate { get; init; } = 0.01;

    /// <summary>
    /// Honest workers with one bad stretch: from their <see cref="OutageAtJob"/>th job they are out for as long as
    /// <see cref="OutageJobs"/> of their jobs take (a stretch of time: every job and probation canary they get in it is
    /// abandoned, whether or not they are on probation meanwhile).
    /// </summary>
    public int UnluckyWorkers { get; init; }

    public int OutageAtJob { get; init; } = 30;

    public int OutageJobs { get; init; } = 8;

    public MarketOptions WithSeed(int seed) => this with { Seed = seed };
}
