namespace Cocoon.Engine.Reputation;

/// <summary>
/// A worker's standing on probation (see <see cref="ProbationPolicy"/>), kept inside its <see cref="ReputationState"/>
/// so that every gateway reads and changes it with the score in one compare-and-set. The counts other than
/// <see cref="PassesInRow"/> are over the worker's life: a worker that comes back and falls again does not get a
/// fresh allowance of canaries.
/// </summary>
public sealed record ProbationState
{
    /// <summary>On probation now: it gets only canaries.</summary>
    public bool Active { get; init; }

    /// <summary>Barred for good: never matched, no more canaries (an operator clears it, or its provider re-registers it).</summary>
    public bool Barred { get; init; }

    /// <summary>How often it was put on probation.</summary>
    public int Entered { get; init; }

    public int PassesInRow { get; init; }

    /// <summary>Probation canaries answered wrong.</summary>
    public int Failures { get; init; }

    /// <summary>Probation canaries answered right but slower than the worker's class.</summary>
    public int Slow { get; init; }

    /// <summary>Probation canaries that counted (with a verdict or a failure of the worker's).</summary>
    public int Canaries { get; init; }
}

/// <summary>What one canary sent to a worker on probation showed.</summary>
public enum ProbationCanary
{
    /// <summary>Right answer within the worker's class: the streak grows.</summary>
    Passed,

    /// <summary>Right answer, slower than its class: the streak starts over and it counts towards <see cref="ProbationPolicy.SlowToBar"/>.</summary>
    Slow,

    /// <summary>No answer in time, or the worker refused or crashed: the streak starts over (not proof of a wrong model).</summary>
    Missed,

    /// <summary>A wrong answer (another model, truncated, replayed): a proven fault, counts towards <see cref="ProbationPolicy.FailuresToBar"/>.</summary>
    Wrong,
}
