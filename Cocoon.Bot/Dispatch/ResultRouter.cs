using System.Collections.Concurrent;
using System.Threading.Channels;
using Cocoon.Engine.Protocol;
using Cocoon.Network.Transport;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Registry;
using StackExchange.Redis;

namespace Cocoon.Bot.Dispatch;

/// <summary>
/// Reads this gateway's result stream and hands each entry to the in-flight request it belongs to. One reader per
/// gateway (not one per request) keeps Redis traffic flat with load; it blocks on its own connection (XREAD BLOCK)
/// so an entry is routed as soon as Redis has it. Consumed entries are deleted at once, so the stream only ever
/// holds sealed bytes that are still in transit.
/// </summary>
public sealed partial class ResultRouter(
    ResultStreams results,
    GatewayIdentity gateway,
    GatewayMetrics metrics,
    IOptions<DispatchOptions> options,
    ResiliencePipelineProvider<string> pipelines,
    ILogger<ResultRouter> logger) : BackgroundService
{
    private readonly ResiliencePipeline _redisRetry = pipelines.GetPipeline(RedisResilience.Pipeline);

    private const int BatchSize = 256;
    private static readonly TimeSpan StreamTtl = TimeSpan.FromHours(1);

    private readonly ConcurrentDictionary<string, Channel<ResultEnvelope>> _inFlight = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the reader is reading (tests and the benchmark wait for it).</summary>
    public Task Ready => _ready.Task;

    /// <summary>Starts routing entries for requestId to the returned reader until the registration is disposed.</summary>
    public Registration Register(string requestId)
    {
        // The request's reader runs on the router's thread when an entry comes (up to its next wait: open the piece,
        // queue it to the caller) instead of after a hop through the thread pool, which on a busy machine is a
        // wake-up on the path to every first token. The router's thread is a pool thread, not Redis's socket reader.
        var channel = Channel.CreateUnbounded<ResultEnvelope>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = true });
        if (!_inFlight.TryAdd(requestId, channel))
        {
            throw new InvalidOperationException($"Request {requestId} is already in flight on this gateway.");
        }

        return new Registration(this, requestId, channel.Reader);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var lastId = "0-0";
        var nextTouch = DateTimeOffset.MinValue;
        try
        {
            // The loop keeps the reader alive; each read goes through the Redis pipeline, which spaces the retries.
            while (!stoppingToken.IsCancellationRequested)
            {
                await _redisRetry.ExecuteAsync(
                    async ct =>
                    {
                        if (DateTimeOffset.UtcNow >= nextTouch)
                        {
                            await results.TouchAsync(gateway.Id, StreamTtl, ct).ConfigureAwait(false);
                            nextTouch = DateTimeOffset.UtcNow + StreamTtl / 4;
                        }

                        _ready.TrySetResult();
                        var entries = await results.ReadAsync(gateway.Id, lastId, BatchSize, options.Value.ResultPoll, ct).ConfigureAwait(false);
                        if (entries.Count == 0)
                        {
                            return;
                        }

                        foreach (var entry in entries)
                        {
                            Route(entry);
                        }

                        lastId = entries[^1].EntryId;
                        results.DeleteInBackground(gateway.Id, [.. entries.Select(e => e.EntryId)]);
                    },
                    (e, delay) => LogReadFailed(logger, gateway.Id, delay.TotalMilliseconds, e),
                    stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private void Route(ResultEntry entry)
    {
        if (entry.Envelope is null)
        {
            metrics.Refused("malformed-result");
            LogMalformed(logger, entry.EntryId);
            return;
        }

        // No reader: a late entry of a request that finished or moved to another worker; dropping it is the dedupe.
        if (_inFlight.TryGetValue(entry.Envelope.RequestId, out var channel))
        {
            channel.Writer.TryWrite(entry.Envelope);
        }
    }

    public sealed class Registration(ResultRouter router, string requestId, ChannelReader<ResultEnvelope> reader) : IDisposable
    {
        public ChannelReader<ResultEnvelope> Reader { get; } = reader;

        public void Dispose()
        {
            if (router._inFlight.TryRemove(requestId, out var channel))
            {
                channel.Writer.TryComplete();
            }
        }
    }

    [LoggerMessage(EventId = LogEvents.Results + 1, Level = LogLevel.Warning, Message = "Reading result stream of gateway {GatewayId} failed; retrying in {DelayMs} ms")]
    private static partial void LogReadFailed(ILogger logger, string gatewayId, double delayMs, Exception exception);

    [LoggerMessage(EventId = LogEvents.Results + 2, Level = LogLevel.Warning, Message = "Dropped malformed result entry {EntryId} (not a version-1 result envelope)")]
    private static partial void LogMalformed(ILogger logger, string entryId);
}

/// <summary>This gateway instance's id: names its result stream.</summary>
public sealed class GatewayIdentity(IOptions<DispatchOptions> options)
{
    public string Id { get; } = options.Value.InstanceId is { Length: > 0 } id ? id : "gw-" + Guid.NewGuid().ToString("N")[..12];
}
