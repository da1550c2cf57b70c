using Cocoon.Engine.Matching;

namespace Cocoon.Engine.Reputation;

public enum JobResult
{
    Completed,
    /// <summary>The worker reported an error or the gateway rejected its answer (bad seal, bad receipt).</summary>
    Failed,
    /// <summary>The worker went silent (lease expired, stream stopped) and the job was re-dispatched.</summary>
    Abandoned,
}

/// <summary>
/// One job as the gateway measured it itself (never the worker's own claim): how it ended, the time from dispatch to
/// the first piece and the delivered tokens per second after it, against the class the worker declared.
/// </summary>
public sealed record JobOutcome(JobResult Result, SlaClass DeclaredClass, TimeSpan? TimeToFirstToken = null, double? TokensPerSecond = null);

public enum IntegrityKind
{
    /// <summary>A replay of one of the worker's answers on a second worker (<see cref="SpotChecks.SpotCheckRule"/>).</summary>
    SpotCheck,
    /// <summary>A blind canary with a known answer.</summary>
    Canary,
    /// <summary>The worker, as a checker, rejected an answer that the third worker accepted.</summary>
    CheckerOverruled,
    /// <summary>The receipt claimed more tokens than were delivered, or more prompt tokens than the prompt can have.</summary>
    ReceiptMismatch,
    /// <summary>
    /// An answer picked for a spot check could not be checked: sampled, and its worker sealed no token ids
    /// (<see cref="SpotChecks.SpotCheckMode.Unverifiable"/>). Counted as a failed spot check.
    /// </summary>
    Unverifiable,
}

/// <summary>
/// A verdict about the worker's honesty. A failed spot check counts only once the tie-break confirmed it (the
/// worker was in the minority); a failed canary counts at once (the network scored it with its own reference).
/// </summary>
public sealed record IntegrityVerdict(IntegrityKind Kind, bool Passed);
