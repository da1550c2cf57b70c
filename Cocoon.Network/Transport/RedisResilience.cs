using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using Polly.Telemetry;
using StackExchange.Redis;

namespace Cocoon.Network.Transport;

/// <summary>
/// How this process waits out Redis: one Polly pipeline, registered in DI under <see cref="Pipeline"/>, that every
/// caller of Redis that must not give up (registration, result delivery, the result reader, key import) runs through.
/// Exponential backoff with jitter, so gateways and workers that lost Redis together do not reconnect in lockstep.
/// </summary>
/// <remarks>
/// It retries until the call succeeds, the caller's token is cancelled, or the caller's <see cref="Deadline"/> passes:
/// Redis is the network's only broker, so there is nothing to fail over to and a circuit breaker would only add a
/// second wait. The multiplexer reconnects on its own; the pipeline only spaces the attempts.
/// </remarks>
public static class RedisResilience
{
    public const string Pipeline = "cocoon-redis";

    /// <summary>After this instant no further attempt is made; the last failure is thrown.</summary>
    public static readonly ResiliencePropertyKey<DateTimeOffset> Deadline = new("cocoon.redis.deadline");

    private static readonly ResiliencePropertyKey<Action<Exception, TimeSpan>> RetryLog = new("cocoon.redis.retry-log");

    public static IServiceCollection AddRedisResilience(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddResiliencePipeline(Pipeline, (builder, context) =>
        {
            var time = context.ServiceProvider.GetRequiredService<TimeProvider>();
            builder.TimeProvider = time;
            builder.ConfigureTelemetry(new TelemetryOptions(context.ServiceProvider.GetRequiredService<IOptions<TelemetryOptions>>().Value)
            {
                SeverityProvider = Severity,
            });
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is RedisException or TimeoutException
                    && !(args.Context.Properties.TryGetValue(Deadline, out var deadline) && time.GetUtcNow() >= deadline)),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(50),
                MaxDelay = TimeSpan.FromSeconds(1),
                MaxRetryAttempts = int.MaxValue,
                OnRetry = args =>
                {
                    // Each caller logs the failure under its own event id, with what it was doing.
                    if (args.Context.Properties.TryGetValue(RetryLog, out var log) && args.Outcome.Exception is { } exception)
                    {
                        log(exception, args.RetryDelay);
                    }

                    return default;
                },
            });
        });
        return services;
    }

    /// <summary>
    /// Polly reports every call through the pipeline at Information, a successful one included ("Execution attempt" and
    /// "Resilience pipeline executed"): two console lines per Redis call (heartbeats, leases, result reads), which
    /// buried everything else a gateway logs under <c>./cocoon up</c>. Those are Debug here; a failed attempt (Warning),
    /// a retry and a pipeline that gave up keep Polly's own severity, so a Redis outage still shows, beside the
    /// caller's own retry line.
    /// </summary>
    internal static ResilienceEventSeverity Severity(SeverityProviderArguments args) =>
        args.Event.Severity == ResilienceEventSeverity.Information ? ResilienceEventSeverity.Debug : args.Event.Severity;

    /// <summary>Runs <paramref name="action"/> through the pipeline; <paramref name="onRetry"/> logs each failure and the wait before the next attempt.</summary>
    public static async Task ExecuteAsync(
        this ResiliencePipeline pipeline, Func<CancellationToken, Task> action, Action<Exception, TimeSpan> onRetry, CancellationToken cancellationToken, DateTimeOffset? deadline = null)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            context.Properties.Set(RetryLog, onRetry);
            if (deadline is { } until)
            {
                context.Properties.Set(Deadline, until);
            }

            await pipeline.ExecuteAsync(static async (ctx, run) => await run(ctx.CancellationToken).ConfigureAwait(false), context, action).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }
}
