using System.Security.Cryptography;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Reputation;
using Cocoon.Engine.SpotChecks;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Reputation;

/// <summary>How a replay ended (for tests and logs).</summary>
public enum ReplayResult
{
    /// <summary>The checker's answer matched: a pass for the original worker.</summary>
    Agreed,
    /// <summary>The checker and a third worker both disagreed with the original: a proven fault.</summary>
    OriginalFaulted,
    /// <summary>The third worker agreed with the original: the checker is in the minority.</summary>
    CheckerOverruled,
    /// <summary>No verdict: not a greedy request, no other worker of the model, busy workers, or no third worker to break a tie.</summary>
    NoVerdict,
}

/// <summary>
/// Spot-check replays, for greedy (temperature 0) requests only: <see cref="ReplayPlanner"/> picks
/// Gateway:Replays:Fraction of them (2% by default) by an HMAC of the request id, and after the user has the answer,
/// the same request (same prompt, sampling and seed) is re-sealed to a second worker of the same model hash as an
/// unbilled job (<see cref="UnbilledJobs"/>). Greedy decoding of one sequence is deterministic (0 of 24 answers differed
/// when measured, against 9 of 24 sampled ones), so the texts must match; when they do not, a third worker breaks the
/// tie and whoever is in the minority is penalised (<see cref="TieBreak"/>'s two-of-three). Sampled requests are not
/// replayed: judging them needs the worker to score the original tokens (teacher-forced log-probs), which the worker
/// cannot do yet.
/// </summary>
public sealed partial class Replays(
    WorkerDirectory directory, UnbilledJobs jobs, ReputationBook book, IOptions<DispatchOptions> options, ILogger<Replays> logger)
{
    private readonly ReplayPlanner _planner = new(
        options.Value.Replays.Secret is { Length: > 0 } secret ? Convert.FromBase64String(secret) : RandomNumberGenerator.GetBytes(32),
        options.Value.Replays.Fraction);

    public bool ShouldReplay(DispatchRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.Embedding is null && request.Generation.Sampling.Temperature == 0 && _planner.ShouldReplay(request.RequestId);
    }

    /// <summary>Replays the delivered answer of <paramref name="original"/> and records the verdicts; never throws.</summary>
    public async Task<ReplayResult> CheckAsync(DispatchRequest request, EligibleWorker original, string delivered, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(original);
        try
        {
            var originalId = original.Document.WorkerId;
            var checker = await AnswerOnOtherAsync(request, original, [originalId], cancellationToken).ConfigureAwait(false);
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

            var third = await AnswerOnOtherAsync(request, original, [originalId, checker.Value.WorkerId], cancellationToken).ConfigureAwait(false);
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
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException or OperationCanceledException)
        {
            LogReplayFailed(logger, request.RequestId, e);
            return ReplayResult.NoVerdict;
        }
    }

    private async Task<(string WorkerId, string Text)?> AnswerOnOtherAsync(DispatchRequest request, EligibleWorker original, IReadOnlyCollection<string> exclude, CancellationToken cancellationToken)
    {
        // Only workers in good standing check others: a worker below the floor could otherwise outvote an honest one.
        var floor = options.Value.ReputationFloor;
        foreach (var candidate in directory.Eligible
                     .Where(w => string.Equals(w.Document.ModelSha256, original.Document.ModelSha256, StringComparison.OrdinalIgnoreCase)
                                 && !exclude.Contains(w.Document.WorkerId) && book.Score(w.Document.WorkerId) >= floor)
                     .OrderByDescending(w => book.Score(w.Document.WorkerId)))
        {
            var answer = await jobs.RunAsync(candidate, request.Generation, cancellationToken).ConfigureAwait(false);
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
}
