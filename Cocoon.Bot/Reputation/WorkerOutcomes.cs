using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Protocol;
using Cocoon.Engine.Reputation;

namespace Cocoon.Bot.Reputation;

/// <summary>
/// Turns what the dispatcher saw of one attempt into a reputation outcome: completed (with the gateway's own time to
/// first token and tokens per second), failed (the worker refused or its answer did not authenticate) or abandoned
/// (it went silent). Refusals that are not the worker's fault (the request was invalid or too long, the job expired
/// or was cancelled before it started, Redis was away) are not held against it. Never throws: a lost record costs a
/// data point, not the user's answer.
/// </summary>
public sealed class WorkerOutcomes(ReputationBook book, WorkerDirectory directory, ILogger<WorkerOutcomes> logger)
{
    /// <summary>The reputation result of a failed attempt's reason code; null when it says nothing about the worker.</summary>
    public static JobResult? Classify(string failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        if (ContextExceededException.FromReasonCode(failure) is not null || InputTooLongException.FromReasonCode(failure) is not null)
        {
            return null;
        }

        return failure switch
        {
            "enqueue-failed" or "invalid-request" or "cancelled" or "expired" or "redelivered" or "replay-cache-full" => null,
            "stalled" or "worker-lost" => JobResult.Abandoned,
            _ => JobResult.Failed,
        };
    }

    public Task CompletedAsync(EligibleWorker worker, UsageReceipt receipt, AttemptTimings timings)
    {
        ArgumentNullException.ThrowIfNull(worker);
        ArgumentNullException.ThrowIfNull(receipt);
        ArgumentNullException.ThrowIfNull(timings);
        return RecordAsync(worker, new JobOutcome(JobResult.Completed, worker.SlaClass, timings.TimeToFirstToken, timings.TokensPerSecond(receipt.CompletionTokens)));
    }

    public Task FailedAsync(EligibleWorker worker, string failure)
    {
        ArgumentNullException.ThrowIfNull(worker);
        if (Classify(failure) is not { } result)
        {
            return Task.CompletedTask;
        }

        // A worker that left the registry alone went away; when it is back already (a Redis blip) or every worker
        // left with it (Redis restarted and lost the registry), the gateway lost its view, not the worker its job.
        if (failure == "worker-lost" && (directory.IsRegistered(worker.Document.WorkerId) || directory.RegisteredCount == 0))
        {
            return Task.CompletedTask;
        }

        return RecordAsync(worker, new JobOutcome(result, worker.SlaClass));
    }

    /// <summary>The request's deadline passed while the worker held the job.</summary>
    public Task AbandonedAsync(EligibleWorker worker) => RecordAsync(worker, new JobOutcome(JobResult.Abandoned, worker.SlaClass));

    private async Task RecordAsync(EligibleWorker worker, JobOutcome outcome)
    {
        try
        {
            // Not the caller's token: the outcome happened whether or not the caller is still listening.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await book.RecordAsync(worker.Document.WorkerId, outcome, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException or OperationCanceledException)
        {
            ReputationBook.LogRecordFailed(logger, worker.Document.WorkerId, e);
        }
    }
}
