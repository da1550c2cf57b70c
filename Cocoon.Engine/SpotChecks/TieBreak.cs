namespace Cocoon.Engine.SpotChecks;

public enum TieBreakOutcome
{
    /// <summary>The check passed: nothing to break.</summary>
    NoDispute,
    /// <summary>The check failed and a third worker has yet to score the answer.</summary>
    NeedsThirdWorker,
    /// <summary>The checker and the third worker both reject the answer: the original worker is in the minority (a proven fault).</summary>
    OriginalFaulted,
    /// <summary>The third worker accepts what the checker rejected: the checker is in the minority.</summary>
    CheckerOverruled,
    /// <summary>A report could not be judged (malformed): the dispute is dropped, nobody is penalised.</summary>
    Void,
}

/// <summary>
/// Two-of-three on a failed spot check. The answer is the fixed object (it was delivered); each of the checker and
/// the third worker scores it under <see cref="SpotCheckRule"/>. Whoever disagrees with the other two voices is in the
/// minority: the original worker when both reject, the checker when the third accepts. The third worker must differ
/// from both and should be drawn by the gateway from workers with a clean integrity record, since two colluding
/// checkers could otherwise outvote an honest original.
/// </summary>
public static class TieBreak
{
    public static TieBreakOutcome Resolve(SpotCheckVerdict checker, SpotCheckVerdict? third)
    {
        ArgumentNullException.ThrowIfNull(checker);
        if (checker.Outcome == SpotCheckOutcome.Malformed)
        {
            return TieBreakOutcome.Void;
        }

        if (checker.Passed)
        {
            return TieBreakOutcome.NoDispute;
        }

        if (third is null)
        {
            return TieBreakOutcome.NeedsThirdWorker;
        }

        return third.Outcome switch
        {
            SpotCheckOutcome.Malformed => TieBreakOutcome.Void,
            SpotCheckOutcome.Passed => TieBreakOutcome.CheckerOverruled,
            _ => TieBreakOutcome.OriginalFaulted,
        };
    }
}
