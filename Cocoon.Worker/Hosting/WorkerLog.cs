using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
namespace Cocoon.Worker.Hosting;

/// <summary>The worker host's log lines. Ids, reasons and counts only: never a prompt, an answer, a key or a token.</summary>
internal static partial class WorkerLog
{
    [LoggerMessage(EventId = LogEvents.Host + 1, Level = LogLevel.Information, Message = "Worker {WorkerId} attested ({TeeKind}, measurement {Measurement}), provider {Provider}, model {Model} ({ModelSha256}), {MaxConcurrency} at once")]
    public static partial void Started(ILogger logger, string workerId, string teeKind, string measurement, string provider, string model, string modelSha256, int maxConcurrency);

    [LoggerMessage(EventId = LogEvents.Host + 2, Level = LogLevel.Warning, Message = "Worker {WorkerId}: Redis call failed; retrying in {DelayMs} ms")]
    public static partial void RedisFailed(ILogger logger, string workerId, double delayMs, Exception exception);

    [LoggerMessage(EventId = LogEvents.Host + 15, Level = LogLevel.Information, Message = "Worker {WorkerId}: Redis is back, registered again at once")]
    public static partial void Reregistered(ILogger logger, string workerId);

    [LoggerMessage(EventId = LogEvents.Host + 3, Level = LogLevel.Warning, Message = "Job entry {EntryId} (request {RequestId}) dead-lettered: {Reason}")]
    public static partial void DeadLettered(ILogger logger, string entryId, string? requestId, string reason);

    [LoggerMessage(EventId = LogEvents.Host + 4, Level = LogLevel.Information, Message = "Request {RequestId} attempt {Attempt} done: {PromptTokens}+{CompletionTokens} tokens, {Finish}, {ElapsedMs} ms")]
    public static partial void JobDone(ILogger logger, string requestId, int attempt, int promptTokens, int completionTokens, string finish, double elapsedMs);

    [LoggerMessage(EventId = LogEvents.Host + 5, Level = LogLevel.Warning, Message = "Request {RequestId} attempt {Attempt} refused: {Reason}")]
    public static partial void JobRefused(ILogger logger, string requestId, int attempt, string reason);

    [LoggerMessage(EventId = LogEvents.Host + 6, Level = LogLevel.Error, Message = "Request {RequestId} attempt {Attempt} failed in inference")]
    public static partial void JobFailed(ILogger logger, string requestId, int attempt, Exception exception);

    [LoggerMessage(EventId = LogEvents.Host + 7, Level = LogLevel.Information, Message = "Reclaimed job entry {EntryId} (delivery {Deliveries})")]
    public static partial void Reclaimed(ILogger logger, string entryId, long deliveries);

    [LoggerMessage(EventId = LogEvents.Host + 8, Level = LogLevel.Information, Message = "Worker {WorkerId} leaving the registry; waiting for {Running} running jobs")]
    public static partial void Stopping(ILogger logger, string workerId, int running);

    [LoggerMessage(EventId = LogEvents.Host + 9, Level = LogLevel.Warning, Message = "Request {RequestId} attempt {Attempt}: gave up writing its result before the deadline; the entry stays pending")]
    public static partial void ResultUndeliverable(ILogger logger, string requestId, int attempt);

    [LoggerMessage(EventId = LogEvents.Host + 10, Level = LogLevel.Information, Message = "Worker {WorkerId} re-attested; valid until {ExpiresAt}")]
    public static partial void Reattested(ILogger logger, string workerId, DateTimeOffset expiresAt);

    [LoggerMessage(EventId = LogEvents.Host + 11, Level = LogLevel.Warning, Message = "Request {RequestId} attempt {Attempt}: ignored a cancel whose MAC does not verify (not sent by the job's gateway)")]
    public static partial void CancelUnauthenticated(ILogger logger, string requestId, int attempt);

    [LoggerMessage(EventId = LogEvents.Host + 12, Level = LogLevel.Warning, Message = "Request {RequestId} attempt {Attempt}: entry {EntryId} replays a job already opened (same encapsulated key); moved aside unrun")]
    public static partial void ReplayDropped(ILogger logger, string requestId, int attempt, string entryId);

    [LoggerMessage(EventId = LogEvents.Host + 13, Level = LogLevel.Debug, Message = "Attestation challenge {ChallengeId} answered to {ReplyTo}")]
    public static partial void ChallengeAnswered(ILogger logger, string challengeId, string replyTo);

    [LoggerMessage(EventId = LogEvents.Host + 14, Level = LogLevel.Warning, Message = "Attestation challenge {ChallengeId} dropped: {Reason}")]
    public static partial void ChallengeDropped(ILogger logger, string challengeId, string reason);
}
