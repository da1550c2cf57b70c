namespace Cocoon.Engine.SpotChecks;

/// <summary>
/// A worker without history is checked harder while it earns its place: for its first <see cref="Jobs"/> jobs a
/// share of <see cref="Fraction"/> (20% by default) of them is spot-checked instead of the network's base fraction (2%).
/// Why: reputation starts neutral, so a cheater that comes back under a new provider and a new key starts clean; at 2%
/// it would expect 50 jobs before its first check (and have a 13% chance of 100 unchecked jobs), at 20% about 5
/// (0.8^20 ≈ 1.2% chance of 20 unchecked jobs, 2·10^-10 of 100). The cost is bounded and paid by the network fee
/// account like every replay: about Jobs × (Fraction − base) extra checks per new worker (18 with the defaults).
/// Pure: the same HMAC draw of the request id decides (<see cref="ReplayPlanner.Draw"/>), only the threshold moves, so
/// a request picked at the base rate is always picked for a newcomer too, and a worker still cannot tell which.
/// </summary>
public sealed record NewcomerChecks
{
    public const int DefaultJobs = 100;

    public const double DefaultFraction = 0.2;

    /// <summary>Jobs a worker has done (as its reputation record counts them) before it is checked at the base rate only.</summary>
    public long Jobs { get; init; } = DefaultJobs;

    /// <summary>The share of a newcomer's jobs that is checked (never less than the base fraction).</summary>
    public double Fraction { get; init; } = DefaultFraction;

    public static NewcomerChecks Default { get; } = new();

    /// <summary>No newcomer rule: every worker at the base fraction.</summary>
    public static NewcomerChecks Off { get; } = new() { Jobs = 0, Fraction = 0 };

    /// <summary>
    /// The share of this worker's jobs to check, given how many jobs it has done and the base fraction. A base of 0
    /// means spot checks are off, for newcomers too.
    /// </summary>
    public double FractionFor(long jobsDone, double baseFraction) =>
        baseFraction > 0 && jobsDone < Jobs ? Math.Max(baseFraction, Fraction) : baseFraction;
}
