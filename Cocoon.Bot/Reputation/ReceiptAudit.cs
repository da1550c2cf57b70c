using System.Globalization;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Slashing;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Protocol;
using Cocoon.Engine.Reputation;
using Cocoon.Engine.Slashing;

namespace Cocoon.Bot.Reputation;

/// <summary>
/// Checks a verified receipt's token counts against what the gateway saw (<see cref="ReceiptBounds"/>: the prompt's
/// bytes as sealed, the answer's delivered bytes and the token ids its worker sealed) and returns the counts to bill,
/// never more than the bounds. A receipt that claimed more is a receipt mismatch, proven by the worker's own signature
/// beside what it sealed: an integrity verdict against the worker and a slash of its provider
/// (<see cref="Fault.ReceiptMismatch"/>, a smaller share than a wrong answer), both after the user has the answer.
/// </summary>
public sealed partial class ReceiptAudit(ReputationBook book, IServiceProvider services, ILogger<ReceiptAudit> logger)
{
    /// <summary>The bounds of this attempt's receipt (the request as sealed to it: a resumed attempt's prompt includes the delivered text).</summary>
    public static ReceiptClaim Check(DispatchRequest request, string? continuation, UsageReceipt receipt, AttemptOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(receipt);
        ArgumentNullException.ThrowIfNull(outcome);
        if (request.Embedding is { } embedding)
        {
            // Vectors, no text: the inputs bound the tokens; completion tokens were already held to 0 by the receipt check.
            return ReceiptBounds.Check(receipt, (int)Math.Min(int.MaxValue, EmbeddingRules.TokenUpperBound(embedding)), int.MaxValue);
        }

        var generation = continuation is null ? request.Generation : request.Generation with { Continuation = continuation };
        return ReceiptBounds.Check(
            receipt,
            ReceiptBounds.PromptTokens(generation),
            ReceiptBounds.CompletionTokens(outcome.DeliveredBytes, request.Generation.Sampling.Stop, outcome.AnswerTokens?.Count, resumed: continuation is not null));
    }

    /// <summary>
    /// The receipt to bill for this attempt: the worker's when its counts are within the bounds, else the bounded counts,
    /// with the fault recorded and slashed in the background (the user's answer never waits for it).
    /// </summary>
    public UsageReceipt Bill(DispatchRequest request, EligibleWorker worker, int attempt, string? continuation, SignedUsageReceipt receipt, AttemptOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(worker);
        ArgumentNullException.ThrowIfNull(receipt);
        var check = Check(request, continuation, receipt.Receipt, outcome);
        if (!check.Overclaimed)
        {
            return receipt.Receipt;
        }

        LogOverclaim(logger, request.RequestId, worker.Document.WorkerId, attempt, check.ClaimedPrompt, check.PromptBound, check.ClaimedCompletion, check.CompletionBound);
        _ = FaultAsync(request, worker, attempt, check);
        return check.Billed(receipt.Receipt);
    }

    private async Task FaultAsync(DispatchRequest request, EligibleWorker worker, int attempt, ReceiptClaim check)
    {
        var workerId = worker.Document.WorkerId;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        try
        {
            await book.RecordAsync(workerId, new IntegrityVerdict(IntegrityKind.ReceiptMismatch, false), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException or OperationCanceledException)
        {
            ReputationBook.LogRecordFailed(logger, workerId, e);
        }

        // Counts only: the evidence never holds the prompt or the answer.
        static string N(int n) => n.ToString(CultureInfo.InvariantCulture);
        if (services.GetService<Slasher>() is not { } slasher)
        {
            return;
        }

        // This runs after the answer, on its own: a failure must be logged here, or nobody would ever see it.
        try
        {
            await slasher.ProvenAsync(Fault.ReceiptMismatch, workerId, worker.ProviderId, request.Payer, FaultKey(request.RequestId, attempt),
                new Dictionary<string, string>
                {
                    ["request"] = request.RequestId,
                    ["attempt"] = attempt.ToString(CultureInfo.InvariantCulture),
                    ["model"] = worker.Document.ModelSha256,
                    ["claimedPromptTokens"] = N(check.ClaimedPrompt),
                    ["promptTokenBound"] = N(check.PromptBound),
                    ["claimedCompletionTokens"] = N(check.ClaimedCompletion),
                    ["completionTokenBound"] = N(check.CompletionBound),
                    ["verdict"] = "the signed receipt claims more tokens than the gateway received or sent",
                },
                timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or Ledger.Ton.ToncenterException or HttpRequestException
                                      or TimeoutException or InvalidOperationException or OperationCanceledException)
        {
            LogSlashFailed(logger, request.RequestId, workerId, e);
        }
    }

    /// <summary>The slash's fault key: one slash per attempt however many gateways see it.</summary>
    public static string FaultKey(string requestId, int attempt) => string.Create(CultureInfo.InvariantCulture, $"receipt:{requestId}:{attempt}");

    [LoggerMessage(EventId = LogEvents.Reputation + 61, Level = LogLevel.Error,
        Message = "Slashing the overclaim of {RequestId} by {WorkerId} failed; the reputation verdict stands, the slash was not recorded")]
    private static partial void LogSlashFailed(ILogger logger, string requestId, string workerId, Exception exception);

    [LoggerMessage(EventId = LogEvents.Reputation + 60, Level = LogLevel.Warning,
        Message = "Receipt of {RequestId} attempt {Attempt} from {WorkerId} overclaims: {ClaimedPrompt} prompt tokens (bound {PromptBound}), {ClaimedCompletion} completion tokens (bound {CompletionBound}); billed at the bounds")]
    private static partial void LogOverclaim(ILogger logger, string requestId, string workerId, int attempt, int claimedPrompt, int promptBound, int claimedCompletion, int completionBound);
}
