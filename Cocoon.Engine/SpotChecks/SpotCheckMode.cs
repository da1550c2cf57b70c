using Cocoon.Engine.Protocol;

namespace Cocoon.Engine.SpotChecks;

/// <summary>How a spot check of one delivered answer is made.</summary>
public enum SpotCheckMode
{
    /// <summary>The worker sealed the answer's token ids: a checker scores exactly them (<see cref="ScoreJudge"/>).</summary>
    Score,

    /// <summary>No token ids, greedy: a checker regenerates and the texts must match (greedy decoding is deterministic).</summary>
    Regenerate,

    /// <summary>
    /// No token ids and sampled: nothing can check the answer, so the pick counts as a failed check. Every worker of
    /// this protocol seals its answer's ids (every answer always has at least one: a drawn token or the end token), so
    /// only a worker that withholds them lands here, and a worker must not escape its 2% by withholding them.
    /// </summary>
    Unverifiable,
}

/// <summary>
/// The rule for a job picked for a spot check: score the sealed token ids when there are any, regenerate a greedy
/// answer without them, and count a sampled answer without them as a failed check (an integrity verdict against the
/// worker, not a slash: the ids travel beside the signed receipt, not under its signature, so their absence proves
/// nothing about the answer, only that the worker kept it from being checked). A token list that is short (fewer ids
/// than the receipt's completion tokens) is caught twice over without a rule of its own: the receipt is billed at the
/// ids' count and is a receipt mismatch (<see cref="Attestation.ReceiptBounds"/>), and scored ids that do not spell
/// the delivered text fail the check (<see cref="SpotCheckOutcome.TextMismatch"/>).
/// </summary>
public static class SpotCheckModes
{
    public static SpotCheckMode For(IReadOnlyList<int>? answerTokens, SamplingOptions sampling)
    {
        ArgumentNullException.ThrowIfNull(sampling);
        return answerTokens is { Count: > 0 } ? SpotCheckMode.Score
            : sampling.Temperature == 0 ? SpotCheckMode.Regenerate
            : SpotCheckMode.Unverifiable;
    }
}
