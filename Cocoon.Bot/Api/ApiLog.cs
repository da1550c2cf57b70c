namespace Cocoon.Bot.Api;

/// <summary>The API's log lines: request ids, models, counts and reasons; never a prompt, an answer or a key.</summary>
internal static partial class ApiLog
{
    /// <summary>The category every API log line is written under.</summary>
    public const string Category = "Cocoon.Bot.Api";

    [LoggerMessage(EventId = LogEvents.Api + 1, Level = LogLevel.Information, Message = "Request {RequestId} refused with {Status} ({Code})")]
    public static partial void Refused(ILogger logger, string requestId, int status, string code);

    [LoggerMessage(EventId = LogEvents.Api + 2, Level = LogLevel.Information, Message = "Request {RequestId} answered on {Model} by worker {WorkerId} ({Attestation}): {PromptTokens}+{CompletionTokens} tokens, {CostNanotons} nanotons, {Finish}")]
    public static partial void Answered(ILogger logger, string requestId, string model, string workerId, string attestation, int promptTokens, int completionTokens, long costNanotons, string finish);

    [LoggerMessage(EventId = LogEvents.Api + 3, Level = LogLevel.Error, Message = "Request {RequestId} failed in dispatch")]
    public static partial void DispatchFailed(ILogger logger, string requestId, Exception exception);

    [LoggerMessage(EventId = LogEvents.Api + 4, Level = LogLevel.Information, Message = "Request {RequestId} abandoned: the client disconnected")]
    public static partial void ClientGone(ILogger logger, string requestId);

    [LoggerMessage(EventId = LogEvents.Api + 5, Level = LogLevel.Warning, Message = "Request {RequestId} failed after streaming had started ({Code})")]
    public static partial void StreamFailed(ILogger logger, string requestId, string code, Exception exception);

    [LoggerMessage(EventId = LogEvents.Api + 6, Level = LogLevel.Information, Message = "Local developer API key registered (id {KeyId})")]
    public static partial void LocalKeyRegistered(ILogger logger, string keyId);

    [LoggerMessage(EventId = LogEvents.Api + 7, Level = LogLevel.Warning, Message = "Registering the local developer API key failed (Redis not up yet?); retrying in {DelayMs} ms")]
    public static partial void LocalKeyRetry(ILogger logger, double delayMs, Exception exception);

    [LoggerMessage(EventId = LogEvents.Api + 8, Level = LogLevel.Warning, Message = "Checking an API key failed (Redis restarting?); retrying in {DelayMs} ms")]
    public static partial void KeyCheckRetry(ILogger logger, double delayMs, Exception exception);
}
