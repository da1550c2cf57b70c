namespace Cocoon.Engine.Reputation;

/// <summary>
/// The way back above the floor. A worker below the floor gets no user job, and reputation decays per job, so without
/// a path back one unlucky stretch (an outage, a few failed jobs) would bar an honest worker for ever. On probation it
/// gets only the network's canaries: each is a job the model counts (completion, SLA) and an integrity verdict. It
/// returns once it passed <see cref="PassesToReturn"/> canaries in a row and its score is back at the floor plus
/// <see cref="Margin"/> (so it does not flap across the floor). A failed canary on probation is a proven fault like any
/// other (slashed), and after <see cref="FailuresToBar"/> of them the worker is barred: a worker serving another model
/// or truncating fails its canaries, one that is slow or drops jobs never climbs back, so cheaters stay out.
/// </summary>
public sealed record ProbationPolicy
{
    /// <summary>Canaries in a row a worker on probation must pass before it may return.</summary>
    public int PassesToReturn { get; init; } = 10;

    /// <summary>How far above the floor the score must be to return.</summary>
    public double Margin { get; init; } = 0.02;

    /// <summary>Failed canaries on probation after which the worker is barred (its provider must re-register it).</summary>
    public int FailuresToBar { get; init; } = 1;

    public static ProbationPolicy Default { get; } = new();

    /// <summary>Whether a worker on probation returns to matching.</summary>
    public bool Returns(double score, double floor, int passesInRow) => passesInRow >= PassesToReturn && score >= floor + Margin;

    /// <summary>Whether a worker on probation is barred for good.</summary>
    public bool Barred(int failures) => failures >= FailuresToBar;
}
