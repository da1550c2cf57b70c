using System.Net;
using System.Text.Json;
using global::Telegram.Bot.Exceptions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using Polly.Telemetry;

namespace Cocoon.Bot.Telegram.Transport;

/// <summary>
/// How the bot waits out the Telegram Bot API: one Polly pipeline, registered in DI under <see cref="Pipeline"/>,
/// that both layers run through: <see cref="BotApiHandler"/> for each HTTP call (429, 5xx, dropped connections;
/// a few attempts, then the caller sees the error) and <c>UpdateSource</c> for start-up and getUpdates (until it
/// works or the host stops). Exponential backoff with jitter, so a restarted fleet does not hammer Telegram in step;
/// a 429 waits exactly the retry_after Telegram asked for, read by the pipeline's delay generator.
/// </summary>
/// <remarks>
/// The send throttle is not part of this: it paces every attempt (retries included) to Telegram's message rate and
/// lives in <see cref="BotApiHandler"/>. The pipeline's clock is the TimeProvider from DI, so tests can run it on a
/// fake clock.
/// </remarks>
public static class TelegramResilience
{
    public const string Pipeline = "telegram-bot-api";

    /// <summary>Telegram asks for at most a few seconds in practice; a longer answer is capped so a bad value cannot park the bot.</summary>
    internal static readonly TimeSpan MaxRetryAfter = TimeSpan.FromMinutes(5);

    /// <summary>Attempts in all (first call included); absent means retry until the caller's token is cancelled.</summary>
    private static readonly ResiliencePropertyKey<int> MaxAttempts = new("cocoon.telegram.max-attempts");

    private static readonly ResiliencePropertyKey<RetryLog> Log = new("cocoon.telegram.retry-log");

    /// <summary>Logs one failed attempt (0-based) and the wait before the next, under the caller's own event id.</summary>
    public delegate void RetryLog(Outcome<object> outcome, int attempt, TimeSpan delay);

    public static IServiceCollection AddTelegramResilience(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddResiliencePipeline(Pipeline, (builder, context) =>
        {
            builder.TimeProvider = context.ServiceProvider.GetRequiredService<TimeProvider>();
            // Polly reports every call at Information, each getUpdates long poll and a poll cancelled at shutdown (with
            // its stack trace) included: under ./cocoon up with Telegram on, that was most of the console. Those are
            // Debug, as for the cocoon-redis pipeline; a failed attempt, a retry and giving up keep Polly's severity.
            builder.ConfigureTelemetry(new TelemetryOptions(context.ServiceProvider.GetRequiredService<IOptions<TelemetryOptions>>().Value)
            {
                SeverityProvider = args => args.Event.Severity == ResilienceEventSeverity.Information ? ResilienceEventSeverity.Debug : args.Event.Severity,
            });
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = args => ValueTask.FromResult(
                    IsTransient(args.Outcome)
                    && !(args.Context.Properties.TryGetValue(MaxAttempts, out var max) && args.AttemptNumber + 1 >= max)),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(250),
                MaxDelay = TimeSpan.FromSeconds(30),
                MaxRetryAttempts = int.MaxValue,
                DelayGenerator = args => RetryAfterAsync(args.Outcome, args.Context.CancellationToken),
                OnRetry = args =>
                {
                    if (args.Context.Properties.TryGetValue(Log, out var log))
                    {
                        log(args.Outcome, args.AttemptNumber, args.RetryDelay);
                    }

                    return default;
                },
            });
        });
        return services;
    }

    /// <summary>Runs <paramref name="action"/> through the pipeline, at most <paramref name="maxAttempts"/> times when given.</summary>
    public static async ValueTask<T> ExecuteAsync<T>(
        this ResiliencePipeline pipeline, Func<CancellationToken, ValueTask<T>> action, RetryLog onRetry, int? maxAttempts, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            context.Properties.Set(Log, onRetry);
            if (maxAttempts is { } max)
            {
                context.Properties.Set(MaxAttempts, max);
            }

            return await pipeline.ExecuteAsync(static (ctx, run) => run(ctx.CancellationToken), context, action).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>Flood limits, Bot API server errors and lost connections pass; anything else is the caller's answer.</summary>
    private static bool IsTransient(Outcome<object> outcome) =>
        outcome.Result is HttpResponseMessage { StatusCode: HttpStatusCode.TooManyRequests } or HttpResponseMessage { StatusCode: >= HttpStatusCode.InternalServerError }
        || outcome.Exception is HttpRequestException or IOException or ApiRequestException or RequestException;

    /// <summary>The wait a 429 asks for (parameters.retry_after, at least a second); null leaves the exponential backoff.</summary>
    private static async ValueTask<TimeSpan?> RetryAfterAsync(Outcome<object> outcome, CancellationToken cancellationToken)
    {
        int? seconds = outcome switch
        {
            { Exception: ApiRequestException { ErrorCode: 429 } api } => api.Parameters?.RetryAfter ?? 1,
            { Result: HttpResponseMessage { StatusCode: HttpStatusCode.TooManyRequests } response } => await ReadRetryAfterAsync(response, cancellationToken).ConfigureAwait(false),
            _ => null,
        };
        if (seconds is not { } s)
        {
            return null;
        }

        var wait = TimeSpan.FromSeconds(Math.Max(1, s));
        return wait > MaxRetryAfter ? MaxRetryAfter : wait;
    }

    private static async Task<int> ReadRetryAfterAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
            if (doc.RootElement.TryGetProperty("parameters", out var p) && p.TryGetProperty("retry_after", out var r) && r.TryGetInt32(out var s))
            {
                return s;
            }
        }
        catch (JsonException)
        {
        }

        return 1;
    }
}
