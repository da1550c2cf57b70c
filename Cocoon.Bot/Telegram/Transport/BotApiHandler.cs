using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Cocoon.Bot.Telegram.Transport;

/// <summary>
/// Sits under Telegram.Bot's HttpClient and applies the Bot API's rules to every call: outgoing messages wait for
/// the global token bucket, 429 waits retry_after and tries again, network errors and 5xx retry with backoff,
/// 403 marks the chat as blocked so nothing more is sent there. Everything else goes back to the caller.
/// </summary>
public sealed partial class BotApiHandler(SendThrottle throttle, BlockedChats blocked, TimeProvider time, ILogger<BotApiHandler> logger)
    : DelegatingHandler
{
    internal const int MaxAttempts = 6;
    private static readonly TimeSpan MaxRetryAfter = TimeSpan.FromMinutes(5);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var method = request.RequestUri?.Segments[^1] ?? string.Empty;
        var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var contentHeaders = request.Content?.Headers.ToList();
        var chatId = ReadChatId(body);
        var counts = IsMessage(method);

        for (var attempt = 1; ; attempt++)
        {
            if (counts)
            {
                await throttle.AcquireAsync(cancellationToken).ConfigureAwait(false);
            }

            using var copy = new HttpRequestMessage(request.Method, request.RequestUri) { Version = request.Version };
            if (body is not null)
            {
                copy.Content = new ByteArrayContent(body);
                foreach (var (name, values) in contentHeaders!)
                {
                    copy.Content.Headers.TryAddWithoutValidation(name, values);
                }
            }

            HttpResponseMessage response;
            try
            {
                response = await base.SendAsync(copy, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException && attempt < MaxAttempts && !cancellationToken.IsCancellationRequested)
            {
                var backoff = Backoff(attempt);
                LogNetworkRetry(logger, method, attempt, backoff, ex);
                await Task.Delay(backoff, time, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (response.StatusCode == HttpStatusCode.TooManyRequests && attempt < MaxAttempts)
            {
                var retryAfter = await ReadRetryAfterAsync(response, cancellationToken).ConfigureAwait(false);
                response.Dispose();
                LogFloodWait(logger, method, retryAfter);
                await Task.Delay(retryAfter, time, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if ((int)response.StatusCode >= 500 && attempt < MaxAttempts)
            {
                response.Dispose();
                var backoff = Backoff(attempt);
                LogServerRetry(logger, method, attempt, backoff);
                await Task.Delay(backoff, time, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (response.StatusCode == HttpStatusCode.Forbidden && chatId is { } blockedChat)
            {
                LogBlocked(logger, blockedChat, method);
                await blocked.BlockAsync(blockedChat, cancellationToken).ConfigureAwait(false);
            }

            return response;
        }
    }

    private static TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds(Math.Min(30_000, 250 * Math.Pow(2, attempt - 1)));

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

    private static async Task<TimeSpan> ReadRetryAfterAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var seconds = 1;
        try
        {
            using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
            if (doc.RootElement.TryGetProperty("parameters", out var p) && p.TryGetProperty("retry_after", out var r) && r.TryGetInt32(out var s))
            {
                seconds = s;
            }
        }
        catch (JsonException)
        {
        }

        var wait = TimeSpan.FromSeconds(Math.Max(1, seconds));
        return wait > MaxRetryAfter ? MaxRetryAfter : wait;
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning, Message = "Telegram flood limit on {Method}: waiting {RetryAfter} as retry_after asks")]
    private static partial void LogFloodWait(ILogger logger, string method, TimeSpan retryAfter);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Network error calling {Method} (attempt {Attempt}); retrying in {Backoff}")]
    private static partial void LogNetworkRetry(ILogger logger, string method, int attempt, TimeSpan backoff, Exception exception);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Warning, Message = "Bot API server error on {Method} (attempt {Attempt}); retrying in {Backoff}")]
    private static partial void LogServerRetry(ILogger logger, string method, int attempt, TimeSpan backoff);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Information, Message = "Chat {ChatId} refused {Method} with 403: the bot stops sending there until the user writes again")]
    private static partial void LogBlocked(ILogger logger, long chatId, string method);
}
