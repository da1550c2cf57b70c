using System.Security.Cryptography;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Protocol;
using Cocoon.Engine.Reputation;
using Cocoon.Engine.SpotChecks;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Reputation;

/// <summary>How a replay ended (for tests and logs).</summary>
public enum ReplayResult
{
    /// <summary>The checker accepted the answer: a pass for the original worker.</summary>
    Agreed,
    /// <summary>The checker and a third worker both rejected the original: a proven fault.</summary>
    OriginalFaulted,
    /// <summary>The third worker accepted what the checker rejected: the checker is in the minority.</summary>
    CheckerOverruled,
    /// <summary>No verdict: no other worker of the model, busy workers, a malformed report, or no third worker to break a tie.</summary>
    NoVerdict,
    /// <summary>A sampled answer came without its token ids: it cannot be checked, and that counts as a failed check (reputation only, no slash).</summary>
    Unverifiable,
}

/// <summary>
/// Spot-check replays: <see cref="ReplayPlanner"/> picks Gateway:Replays:Fraction of the requests (2% by default) by
/// an HMAC of the request id, and after the user has the answer, a second worker of the same model hash checks it as
/// an unbilled job (<see cref="UnbilledJobs"/>) that the network pays for.
/// <para>Score mode (every answer whose worker sealed its token ids, see AnswerTokenSeal): the checker pre-fills the
/// prompt plus the delivered answer's tokens and returns a <see cref="ScoreReport"/>; <see cref="ScoreJudge"/> and
/// <see cref="SpotCheckRule"/> judge the answer itself under the request's sampling. The check does not depend on two
/// workers sampling the same text (seeded sampling at temperature 0.7–1.0 gives a different text in a batch than
/// alone), and costs a prompt-processing pass instead of a generation. When the checker rejects the answer, a third
/// worker scores it too and <see cref="TieBreak"/>'s two-of-three penalises the minority.</para>
/// <para>Without tokens, greedy requests fall back to regenerating: greedy decoding of one sequence is deterministic,
/// so the texts must match, and a third worker's text breaks a tie. A sampled answer without tokens cannot be checked
/// at all and counts as a failed check (<see cref="SpotCheckModes"/>).</para>
/// </summary>
public sealed partial class Replays(
    WorkerDirectory directory, UnbilledJobs jobs, ReputationBook book, IOptions<DispatchOptions> options, ILogger<Replays> logger)
{
    private readonly ReplayPlanner _planner = new(
        options.Value.Replays.Secret is { Length: > 0 } secret ? Convert.FromBase64String(secret) : RandomNumberGenerator.GetBytes(32),
        options.Value.Replays.Fraction);

    /// <summary>The published rule every score-mode check applies.</summary>
    public static SpotCheckRule Rule => SpotCheckRule.Default;

    public bool ShouldReplay(DispatchRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.Embedding is null && _planner.ShouldReplay(request.RequestId);
    }

    /// <summary>Whether to check this answer of <paramref name="worker"/>: Gateway:Replays:Fraction, or NewcomerFraction for its first NewcomerJobs jobs.</summary>
    public bool ShouldReplay(DispatchRequest request, EligibleWorker worker)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(worker);
        return request.Embedding is null
            && _planner.ShouldReplay(request.RequestId, book.State(worker.Document.WorkerId).Jobs, options.Value.Replays.Newcomers());
    }

    /// <summary>
    /// Checks the delivered answer of <paramref name="original"/> (its token ids when the worker sealed them) and
    /// records the verdicts; never throws.
    /// </summary>
    public async Task<ReplayResult> CheckAsync(
        DispatchRequest request, EligibleWorker original, string delivered, IReadOnlyList<int>? answerTokens, FinishReason finish, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(original);
        try
        {
            switch (SpotCheckModes.For(answerTokens, request.Generation.Sampling))
            {
                case SpotCheckMode.Score:
                    return await ScoreAsync(request, original, delivered, answerTokens!, finish, cancellationToken).ConfigureAwait(false);
                case SpotCheckMode.Regenerate:
                    return await RegenerateAsync(request, original, delivered, cancellationToken).ConfigureAwait(false);
                default:
                    // A sampled answer without its token ids cannot be checked: that is a failed check, not a way out.
                    await book.RecordAsync(original.Document.WorkerId, new IntegrityVerdict(IntegrityKind.Unverifiable, false), CancellationToken.None).ConfigureAwait(false);
                    LogReplay(logger, request.RequestId, original.Document.WorkerId, "-", "unverifiable: sampled, no token ids");
                    return ReplayResult.Unverifiable;
            }
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException or OperationCanceledException)
        {
            LogReplayFailed(logger, request.RequestId, e);
            return ReplayResult.NoVerdict;
        }
    }

    private async Task<ReplayResult> ScoreAsync(
        DispatchRequest request, EligibleWorker original, string delivered, IReadOnlyList<int> tokens, FinishReason finish, CancellationToken cancellationToken)
    {
        var originalId = original.Document.WorkerId;
        var scoring = request.Generation with { Score = new ScoreRequest(tokens) };
        var checker = await AnswerOnOtherAsync(scoring, original, [originalId], cancellationToken).ConfigureAwait(false);
        if (checker is null)
        {
            return ReplayResult.NoVerdict;
        }

        var first = Judge(request, tokens, checker.Value.Text, delivered, finish);
        LogScored(logger, request.RequestId, originalId, checker.Value.WorkerId, first.Outcome.ToString(), first.OutOfSupport, first.Tokens, first.LikelihoodZ);
        switch (TieBreak.Resolve(first, null))
        {
            case TieBreakOutcome.NoDispute:
                await book.RecordAsync(originalId, new IntegrityVerdict(IntegrityKind.SpotCheck, true), CancellationToken.None).ConfigureAwait(false);
                LogReplay(logger, request.RequestId, originalId, checker.Value.WorkerId, "agreed");
                return ReplayResult.Agreed;
            case TieBreakOutcome.Void:
                return ReplayResult.NoVerdict;
        }

        var third = await AnswerOnOtherAsync(scoring, original, [originalId, checker.Value.WorkerId], cancellationToken).ConfigureAwait(false);
        if (third is null)
        {
            LogReplay(logger, request.RequestId, originalId, checker.Value.WorkerId, "disputed, no third worker");
            return ReplayResult.NoVerdict;
        }

        var second = Judge(request, tokens, third.Value.Text, delivered, finish);
        LogScored(logger, request.RequestId, originalId, third.Value.WorkerId, second.Outcome.ToString(), second.OutOfSupport, second.Tokens, second.LikelihoodZ);
        switch (TieBreak.Resolve(first, second))
        {
            case TieBreakOutcome.CheckerOverruled:
                await book.RecordAsync(checker.Value.WorkerId, new IntegrityVerdict(IntegrityKind.CheckerOverruled, false), CancellationToken.None).ConfigureAwait(false);
                LogReplay(logger, request.RequestId, originalId, checker.Value.WorkerId, "checker overruled by " + third.Value.WorkerId);
                return ReplayResult.CheckerOverruled;
            case TieBreakOutcome.OriginalFaulted:
                await book.RecordAsync(originalId, new IntegrityVerdict(IntegrityKind.SpotCheck, false), CancellationToken.None).ConfigureAwait(false);
                LogReplay(logger, request.RequestId, originalId, checker.Value.WorkerId, "original faulted, confirmed by " + third.Value.WorkerId);
                return ReplayResult.OriginalFaulted;
            default:
                return ReplayResult.NoVerdict;
        }
    }

    private static SpotCheckVerdict Judge(DispatchRequest request, IReadOnlyList<int> tokens, string reply, string delivered, FinishReason finish)
    {
        ScoreReport? report = null;
        var bytes = new byte[reply.Length];
        if (Convert.TryFromBase64String(reply, bytes, out var length))
        {
            report = ScoreReport.Parse(bytes.AsSpan(0, length));
        }

        return ScoreJudge.Judge(Rule, request.Generation.Sampling, tokens, report, delivered, finish);
    }

    private async Task<ReplayResult> RegenerateAsync(DispatchRequest request, EligibleWorker original, string delivered, CancellationToken cancellationToken)
    {
        var originalId = original.Document.WorkerId;
        var checker = await AnswerOnOtherAsync(request.Generation, original, [originalId], cancellationToken).ConfigureAwait(false);
        if (checker is null)
        {
            return ReplayResult.NoVerdict;
        }

        if (checker.Value.Text == delivered)
        {
            await book.RecordAsync(originalId, new IntegrityVerdict(IntegrityKind.SpotCheck, true), CancellationToken.None).ConfigureAwait(false);
            LogReplay(logger, request.RequestId, originalId, checker.Value.WorkerId, "agreed");
            return ReplayResult.Agreed;
        }

        var third = await AnswerOnOtherAsync(request.Generation, original, [originalId, checker.Value.WorkerId], cancellationToken).ConfigureAwait(false);
        if (third is null)
        {
            LogReplay(logger, request.RequestId, originalId, checker.Value.WorkerId, "disputed, no third worker");
            return ReplayResult.NoVerdict;
        }

        if (third.Value.Text == delivered)
        {
            await book.RecordAsync(checker.Value.WorkerId, new IntegrityVerdict(IntegrityKind.CheckerOverruled, false), CancellationToken.None).ConfigureAwait(false);
            LogReplay(logger, request.RequestId, originalId, checker.Value.WorkerId, "checker overruled by " + third.Value.WorkerId);
            return ReplayResult.CheckerOverruled;
        }

        if (third.Value.Text == checker.Value.Text)
        {
            await book.RecordAsync(originalId, new IntegrityVerdict(IntegrityKind.SpotCheck, false), CancellationToken.None).ConfigureAwait(false);
            LogReplay(logger, request.RequestId, originalId, checker.Value.WorkerId, "original faulted, confirmed by " + third.Value.WorkerId);
            return ReplayResult.OriginalFaulted;
        }

        // Three different answers: no majority, nobody is penalised.
        return ReplayResult.NoVerdict;
    }

    private async Task<(string WorkerId, string Text)?> AnswerOnOtherAsync(GenerationRequest generation, EligibleWorker original, IReadOnlyCollection<string> exclude, CancellationToken cancellationToken)
    {
        // Only workers in good standing check others: a worker below the floor could otherwise outvote an honest one.
        var floor = options.Value.ReputationFloor;
        foreach (var candidate in directory.Eligible
                     .Where(w => string.Equals(w.Document.ModelSha256, original.Document.ModelSha256, StringComparison.OrdinalIgnoreCase)
                                 && !exclude.Contains(w.Document.WorkerId) && book.Score(w.Document.WorkerId) >= floor && book.Matchable(w.Document.WorkerId))
                     .OrderByDescending(w => book.Score(w.Document.WorkerId)))
        {
            var answer = await jobs.RunAsync(candidate, generation, cancellationToken).ConfigureAwait(false);
            if (answer?.Outcome.Receipt is not null)
            {
                return (candidate.Document.WorkerId, answer.Text);
            }
        }

        return null;
    }

    [LoggerMessage(EventId = LogEvents.Reputation + 30, Level = LogLevel.Information, Message = "Replay of {RequestId} (by {WorkerId}) on {CheckerId}: {Verdict}")]
    private static partial void LogReplay(ILogger logger, string requestId, string workerId, string checkerId, string verdict);

    [LoggerMessage(EventId = LogEvents.Reputation + 31, Level = LogLevel.Warning, Message = "Replay of {RequestId} failed; no verdict")]
    private static partial void LogReplayFailed(ILogger logger, string requestId, Exception exception);

    [LoggerMessage(EventId = LogEvents.Reputation + 32, Level = LogLevel.Information,
        Message = "Spot check of {RequestId} (by {WorkerId}) scored on {CheckerId}: {Outcome}, {OutOfSupport} of {Tokens} tokens out of support, likelihood z {Z:F2}")]
    private static partial void LogScored(ILogger logger, string requestId, string workerId, string checkerId, string outcome, int outOfSupport, int tokens, double z);
}
