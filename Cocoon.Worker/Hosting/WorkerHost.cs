using Cocoon.Worker.Attestation;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Protocol;
using Cocoon.Network.Transport;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Registry;
using StackExchange.Redis;

namespace Cocoon.Worker.Hosting;

/// <summary>
/// The Redis-connected worker: attests at start, registers with live load, heartbeats, consumes its job stream up
/// to its concurrency cap, reclaims stuck entries, and on shutdown leaves the registry before finishing its jobs.
/// </summary>
public sealed class WorkerHost(
    IInferenceService inference,
    ITeeProvider tee,
    WorkerMeasurement measurement,
    WorkerRegistry registry,
    JobStreams jobs,
    JobCancellations cancellations,
    JobProcessor processor,
    AttestationChallenges challenges,
    ChallengeResponder responder,
    IOptions<WorkerHostOptions> options,
    TimeProvider time,
    ResiliencePipelineProvider<string> pipelines,
    ILogger<WorkerHost> logger,
    JoinedWorker? joined = null) : BackgroundService
{
    private readonly ResiliencePipeline _redisRetry = pipelines.GetPipeline(RedisResilience.Pipeline);

    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(30);

    private readonly TaskCompletionSource<WorkerSession> _session = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _running;

    /// <summary>The session once attested and registered (tests and `run` wait for it).</summary>
    public Task<WorkerSession> Session => _session.Task;

    public int Running => Volatile.Read(ref _running);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        WorkerSession session;
        try
        {
            session = await WorkerSession.StartAsync(o, inference, tee, measurement.Value, time, stoppingToken, joined).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _session.TrySetException(e);
            throw;
        }

        using var sessionScope = session;
        var consumer = session.WorkerId;
        await RetryAsync(session, ct => jobs.EnsureGroupAsync(session.WorkerId, ct), stoppingToken).ConfigureAwait(false);
        await RetryAsync(session, ct => registry.PublishAsync(session.Registration, Load(session), o.HeartbeatTtl, ct, announce: joined is null, signer: session.Identity), stoppingToken).ConfigureAwait(false);
        var doc = session.Bundle.Document;
        WorkerLog.Started(logger, session.WorkerId, doc.TeeKind, doc.Measurement, doc.ProviderId, doc.ModelName, doc.ModelSha256, session.MaxConcurrency);
        _session.TrySetResult(session);

        // Jobs keep running a little after stop is requested, so a rolling restart does not throw away work.
        using var jobsCts = new CancellationTokenSource();
        var slots = new SemaphoreSlim(session.MaxConcurrency, session.MaxConcurrency);
        var inFlight = new HashSet<Task>();
        // Entries this process is running now: a long job's own entry comes back from XAUTOCLAIM once it has been
        // pending for ReclaimAfter, and must not be mistaken for a job an earlier run of this worker abandoned.
        var running = new System.Collections.Concurrent.ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        IAsyncDisposable? cancels = null;
        await RetryAsync(session, async ct => cancels = await cancellations.SubscribeAsync(session.WorkerId, processor.Cancel, ct).ConfigureAwait(false), stoppingToken).ConfigureAwait(false);
        await using var cancelSubscription = cancels!;
        IAsyncDisposable? challengeFeed = null;
        await RetryAsync(session, async ct => challengeFeed = await challenges.SubscribeAsync(session.WorkerId, c => responder.Answer(session, c, stoppingToken), ct).ConfigureAwait(false), stoppingToken).ConfigureAwait(false);
        await using var challengeSubscription = challengeFeed!;
        using var heartbeatCts = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var heartbeat = HeartbeatAsync(session, heartbeatCts.Token);
        var nextReclaim = time.GetUtcNow();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var free = slots.CurrentCount;
                IReadOnlyList<JobEntry> batch = [];
                if (free == 0)
                {
                    // Every slot is busy: wait for one to free up (a finished job releases it), then read again.
                    if (await slots.WaitAsync(o.JobPoll, stoppingToken).ConfigureAwait(false))
                    {
                        slots.Release();
                    }

                    continue;
                }

                try
                {
                    if (time.GetUtcNow() >= nextReclaim)
                    {
                        nextReclaim = time.GetUtcNow() + o.ReclaimAfter / 2;
                        batch = await jobs.ReclaimAsync(session.WorkerId, consumer, o.ReclaimAfter, free, stoppingToken).ConfigureAwait(false);
                        foreach (var entry in batch)
                        {
                            WorkerLog.Reclaimed(logger, entry.EntryId, entry.Deliveries);
                        }
                    }

                    if (batch.Count == 0)
                    {
                        // Blocks (on the blocking connection) until a job arrives or JobPoll passes.
                        batch = await jobs.ReadAsync(session.WorkerId, consumer, free, o.JobPoll, stoppingToken).ConfigureAwait(false);
                    }
                }
                catch (Exception e) when (e is RedisException or TimeoutException && !stoppingToken.IsCancellationRequested)
                {
                    WorkerLog.RedisFailed(logger, session.WorkerId, 200, e);
                    await Task.Delay(TimeSpan.FromMilliseconds(200), time, stoppingToken).ConfigureAwait(false);
                    continue;
                }

                // A lone job (the usual case when the worker is not saturated) starts on this thread, up to its first
                // wait (opened, sealed, its first chunk on the way): a hop to another thread first would put a thread
                // wake-up on its path to the first token. The next read waits for that much. Several jobs, or
                // embeddings (computed before their first wait), each start on a thread of their own.
                var inline = batch.Count == 1 && inference is not Embeddings.IEmbeddingService;
                foreach (var entry in batch)
                {
                    if (!running.TryAdd(entry.EntryId, true))
                    {
                        continue;
                    }

                    await slots.WaitAsync(stoppingToken).ConfigureAwait(false);
                    Interlocked.Increment(ref _running);
                    var task = RunOneAsync(session, entry, slots, inline, jobsCts.Token);
                    lock (inFlight)
                    {
                        inFlight.Add(task);
                    }

                    _ = task.ContinueWith(t => { lock (inFlight) { inFlight.Remove(t); } }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            Task[] remaining;
            lock (inFlight)
            {
                remaining = [.. inFlight];
            }

            WorkerLog.Stopping(logger, session.WorkerId, remaining.Length);
            await heartbeatCts.CancelAsync().ConfigureAwait(false);
            await heartbeat.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            try
            {
                await registry.RemoveAsync(session.WorkerId, CancellationToken.None, announced: joined is null).WaitAsync(TimeSpan.FromSeconds(2), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                // The entry expires on its own within one heartbeat TTL.
            }

            jobsCts.CancelAfter(DrainTimeout);
            await Task.WhenAll(remaining).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            slots.Dispose();
        }

        async Task RunOneAsync(WorkerSession s, JobEntry entry, SemaphoreSlim gate, bool inline, CancellationToken ct)
        {
            if (!inline)
            {
                await Task.Yield();
            }

            try
            {
                await processor.ProcessAsync(s, entry, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ResultUndeliverableException or RedisException or TimeoutException or OperationCanceledException)
            {
                // Left pending on purpose: a reclaim retries it (or dead-letters it after MaxDeliveries).
            }
            finally
            {
                running.TryRemove(entry.EntryId, out _);
                Interlocked.Decrement(ref _running);
                gate.Release();
            }
        }
    }

    private async Task HeartbeatAsync(WorkerSession session, CancellationToken cancellationToken)
    {
        var o = options.Value;
        using var timer = new PeriodicTimer(o.HeartbeatInterval, time);
        // Redis came back (perhaps restarted, with this worker's entry expired): publish now, not at the next tick, so
        // gateways see the worker again within their reconnect grace and keep its in-flight jobs.
        using var reconnected = registry.WhenReconnected(() => _ = RepublishAsync());
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    // Previous sealing keys are wiped as soon as their retirement time comes, not only at a rotation.
                    session.Identity.RetireSealingKeys(time.GetUtcNow());
                    if (session.AttestationAging)
                    {
                        await session.AttestAsync(cancellationToken).ConfigureAwait(false);
                        WorkerLog.Reattested(logger, session.WorkerId, session.Bundle.Document.ExpiresAt);
                    }

                    await registry.PublishAsync(session.Registration, Load(session), o.HeartbeatTtl, cancellationToken, announce: joined is null, signer: session.Identity).ConfigureAwait(false);
                }
                catch (Exception e) when (e is RedisException or TimeoutException && !cancellationToken.IsCancellationRequested)
                {
                    WorkerLog.RedisFailed(logger, session.WorkerId, o.HeartbeatInterval.TotalMilliseconds, e);

                    // A joined worker whose Redis user was turned off (paused) or deleted (revoked) asks the gateway why.
                    if (joined is not null)
                    {
                        await joined.AccessFailedAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        async Task RepublishAsync()
        {
            try
            {
                await registry.PublishAsync(session.Registration, Load(session), o.HeartbeatTtl, cancellationToken, announce: joined is null, signer: session.Identity).ConfigureAwait(false);
                WorkerLog.Reregistered(logger, session.WorkerId);
            }
            catch (Exception e) when (e is RedisException or TimeoutException or OperationCanceledException)
            {
                // The next heartbeat tries again.
            }
        }
    }

    private WorkerLoad Load(WorkerSession session) =>
        new(Running, session.MaxConcurrency, processor.AverageJobMilliseconds, processor.JobsDone, time.GetUtcNow());

    private Task RetryAsync(WorkerSession session, Func<CancellationToken, Task> action, CancellationToken cancellationToken) =>
        _redisRetry.ExecuteAsync(action, (e, delay) => WorkerLog.RedisFailed(logger, session.WorkerId, delay.TotalMilliseconds, e), cancellationToken);
}

/// <summary>The worker's code measurement, computed once at start (hashing the binaries takes a moment).</summary>
public sealed class WorkerMeasurement(string value)
{
    public string Value { get; } = value;
}
