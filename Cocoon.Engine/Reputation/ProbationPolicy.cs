namespace Cocoon.Engine.Reputation;

/// <summary>
/// The way back above the floor. A worker below the floor gets no user job, and reputation decays per job, so without
/// a path back one unlucky stretch (an outage, a few failed jobs) would bar an honest worker for ever. On probation it
/// gets only the network's canaries: each is a job the model counts (completion, SLA) and an integrity verdict. A
/// canary counts as passed only when it was completed within the worker's declared class and its answer is right.
/// The worker returns once it passed <see cref="PassesToReturn"/> canaries in a row and its score is back at the floor
/// plus <see cref="Margin"/> (so it does not flap across the floor). A failed canary on probation is a proven fault
/// like any other (slashed), and after <see cref="FailuresToBar"/> of them the worker is barred: a worker serving
/// another model or truncating fails its canaries.
/// <para>Every canary is a job the network pays for, so probation is bounded: a worker that answers
/// <see cref="SlowToBar"/> canaries slower than its class, or is not back after <see cref="MaxCanaries"/> canaries, is
/// barred too (its provider must re-register it). Without those bounds a worker that is slow or drops jobs, which
/// never climbs back but never fails a canary's answer either, would be sent canaries for ever: the market
/// simulation's probation list grew with every caught slow worker, and a dropper's lucky streak of ten brought it
/// back while its prior still outweighed its few own jobs.</para>
/// </summary>
public sealed record ProbationPolicy
{
    /// <summary>
    /// Canaries in a row a worker on probation must pass before it may return. Twenty, not ten: a worker that drops a
    /// fifth of its jobs strings ten together one time in nine (0.8^10), and while its few own jobs weigh less than
    /// the model's prior that was enough to lift it back (`./cocoon bench market`, 3 x 100,000 jobs: 157 of 657 caught
    /// droppers returned at ten, 44 of 696 at twenty); an honest worker passes twenty in a row nine times in ten.
    /// </summary>
    public int PassesToReturn { get; init; } = 20;

    /// <summary>How far above the floor the score must be to return.</summary>
    public double Margin { get; init; } = 0.02;

    /// <summary>Failed canaries on probation after which the worker is barred (its provider must re-register it).</summary>
    public int FailuresToBar { get; init; } = 1;

    /// <summary>
    /// Probation canaries answered right but slower than the worker's declared class, after which it is barred (its
    /// provider may re-register it in a slower class). Honest workers meet their class; an outage drops jobs, it
    /// does not slow them, so this never catches one.
    /// </summary>
    public int SlowToBar { get; init; } = 3;

    /// <summary>Probation canaries over the worker's life after which one still below the floor is barred.</summary>
    public int MaxCanaries { get; init; } = 80;

    public static ProbationPolicy Default { get; } = new();

    /// <summary>Whether a worker on probation returns to matching.</summary>
    public bool Returns(double score, double floor, int passesInRow) => passesInRow >= PassesToReturn && score >= floor + Margin;

    /// <summary>Whether a worker on probation is barred for good for failed canary answers.</summary>
    public bool Barred(int failures) => failures >= FailuresToBar;

    /// <summary>Whether a worker still on probation is barred: a failed answer, too many slow ones, or its canaries spent.</summary>
    public bool Barred(int failures, int slow, int canaries) => Barred(failures) || slow >= SlowToBar || canaries >= MaxCanaries;

    /// <summary>
    /// After any change to a worker's record outside a probation canary: a worker in good standing whose score fell
    /// below the floor is put on probation (its streak starts over, its lifetime counts stay); otherwise nothing changes.
    /// </summary>
    public static ProbationState? Track(ProbationState? state, double score, double floor) =>
        state is { Active: true } or { Barred: true } || score >= floor
            ? state
            : (state ?? new ProbationState()) with { Active = true, PassesInRow = 0, Entered = (state?.Entered ?? 0) + 1 };

    /// <summary>
    /// One canary of a worker on probation (<paramref name="score"/> is its score with the canary applied): it returns,
    /// is barred, or stays, in the same order as the market simulation decides.
    /// </summary>
    public ProbationState Judge(ProbationState state, ProbationCanary canary, double score, double floor)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (!state.Active)
        {
            return state;
        }

        var next = state with
        {
            Canaries = state.Canaries + 1,
            Failures = state.Failures + (canary == ProbationCanary.Wrong ? 1 : 0),
            Slow = state.Slow + (canary == ProbationCanary.Slow ? 1 : 0),
            PassesInRow = canary == ProbationCanary.Passed ? state.PassesInRow + 1 : 0,
        };
        if (Barred(next.Failures))
        {
            return next with { Active = false, Barred = true };
        }

        if (Returns(score, floor, next.PassesInRow))
        {
            return next with { Active = false, PassesInRow = 0 };
        }

        return Barred(next.Failures, next.Slow, next.Canaries) ? next with { Active = false, Barred = true } : next;
    }

    /// <summary>The reason a provider sees for a worker on probation or barred; null in good standing.</summary>
    public ReputationReason? Reason(ProbationState? state, double floor) => state switch
    {
        { Barred: true } => new("barred", FormattableString.Invariant(
            $"Barred: on probation it failed {state.Failures} canary answer(s), answered {state.Slow} slower than its class, after {state.Canaries} canaries in all (the limits are {FailuresToBar}, {SlowToBar} and {MaxCanaries}); it gets no jobs until an operator clears it or it is registered again.")),
        { Active: true } => new("probation", FormattableString.Invariant(
            $"On probation: below the floor ({floor:0.00}) it gets only the network's canaries; {state.PassesInRow} of {PassesToReturn} passed in a row, and it returns once its score is at least {floor + Margin:0.00} ({state.Canaries} of at most {MaxCanaries} canaries used).")),
        _ => null,
    };
}
