using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Registry;

namespace Cocoon.Bot.Telegram.Transport;

/// <summary>
/// Sits under Telegram.Bot's HttpClient and applies the Bot API's rules to every call: outgoing messages wait for
/// the global token bucket (before each attempt), 429, 5xx and network errors go through the
/// <see cref="TelegramResilience"/> pipeline (retry_after honoured, otherwise backoff), 403 marks the chat as
/// blocked so nothing more is sent there. Everything else goes back to the caller.
/// </summary>
public sealed partial class BotApiHandler(SendThrottle throttle, BlockedChats blocked, ResiliencePipelineProvider<string> pipelines, ILogger<BotApiHandler> logger)
    : DelegatingHandler
{
    internal const int MaxAttempts = 6;
    private readonly ResiliencePipeline _retry = pipelines.GetPipeline(TelegramResilience.Pipeline);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var method = request.RequestUri?.Segments[^1] ?? string.Empty;
        var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var chatId = ReadChatId(body);

        var response = await _retry.ExecuteAsync(
            ct => SendOnceAsync(request, body, method, ct),
            (outcome, attempt, delay) => LogRetry(method, outcome, attempt, delay),
            MaxAttempts,
            cancellationToken).ConfigureAwait(false);

        if (response.StatusCode == HttpStatusCode.Forbidden && chatId is { } blockedChat)
        {
            LogBlocked(logger, blockedChat, method);
            await blocked.BlockAsync(blockedChat, cancellationToken).ConfigureAwait(false);
        }

        return response;
    }

    /// <summary>One attempt: a fresh copy of the request (a sent one cannot be sent again), paced by the throttle.</summary>
    private async ValueTask<HttpResponseMessage> SendOnceAsync(HttpRequestMessage request, byte[]? body, string method, CancellationToken cancellationToken)
    {
        if (IsMessage(method))
        {
            await throttle.AcquireAsync(cancellationToken).ConfigureAwait(false);
        }

        using var copy = new HttpRequestMessage(request.Method, request.RequestUri) { Version = request.Version };
        if (body is not null)
        {
            copy.Content = new ByteArrayContent(body);
            foreach (var (name, values) in request.Content!.Headers)
            {
                copy.Content.Headers.TryAddWithoutValidation(name, values);
            }
        }

        return await base.SendAsync(copy, cancellationToken).ConfigureAwait(false);
    }

    private void LogRetry(string method, Outcome<object> outcome, int attempt, TimeSpan delay)
    {
        switch (outcome)
        {
            case { Result: HttpResponseMessage { StatusCode: HttpStatusCode.TooManyRequests } }:
                LogFloodWait(logger, method, delay);
                break;
            case { Result: HttpResponseMessage }:
                LogServerRetry(logger, method, attempt + 1, delay);
                break;
            case { Exception: { } ex }:
                LogNetworkRetry(logger, method, attempt + 1, delay, ex);
                break;
        }
    }

    /// <summary>Messages, edits, drafts, invoices and chat actions count against Telegram's per-bot limit; queries and answers do not.</summary>
    internal static bool IsMessage(string method) =>
        method.StartsWith("send", StringComparison.OrdinalIgnoreCase)
        || method.StartsWith("edit", StringComparison.OrdinalIgnoreCase)
        || method.StartsWith("copy", StringComparison.OrdinalIgnoreCase)
        || method.StartsWith("forward", StringComparison.OrdinalIgnoreCase);

    internal static long? ReadChatId(byte[]? body)
    {
        if (body is not { Length: > 0 } || body[0] != (byte)'{')
        {
            return null;
        }

        try
        {
            var reader = new Utf8JsonReader(body);
            var depth = 0;
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        depth++;
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        depth--;
                        break;
                    case JsonTokenType.PropertyName when depth == 1 && (reader.ValueTextEquals("chat_id") || reader.ValueTextEquals("user_id")):
                        reader.Read();
                        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var id))
                        {
                            return id;
                        }

                        if (reader.TokenType == JsonTokenType.String && long.TryParse(reader.GetString(), out id))
                        {
                            return id;
                        }

                        return null;
                }
            }
        }
        catch (JsonException)
        {
        }

        return null;
    }

    [LoggerMessage(EventId = LogEvents.BotApi + 1, Level = LogLevel.Warning, Message = "Telegram flood limit on {Method}: waiting {RetryAfter} as retry_after asks")]
    private static partial void LogFloodWait(ILogger logger, string method, TimeSpan retryAfter);

    [LoggerMessage(EventId = LogEvents.BotApi + 2, Level = LogLevel.Warning, Message = "Network error calling {Method} (attempt {Attempt}); retrying in {Backoff}")]
    private static partial void LogNetworkRetry(ILogger logger, string method, int attempt, TimeSpan backoff, Exception exception);

    [LoggerMessage(EventId = LogEvents.BotApi + 3, Level = LogLevel.Warning, Message = "Bot API server error on {Method} (attempt {Attempt}); retrying in {Backoff}")]
    private static partial void LogServerRetry(ILogger logger, string method, int attempt, TimeSpan backoff);

    [LoggerMessage(EventId = LogEvents.BotApi + 4, Level = LogLevel.Information, Message = "Chat {ChatId} refused {Method} with 403: the bot stops sending there until the user writes again")]
    private static partial void LogBlocked(ILogger logger, long chatId, string method);
}
