using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Matching;
using Cocoon.Network.Access;
using Cocoon.Network.Providers;
using Cocoon.Network.Transport;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Bot.Dispatch;

/// <summary>
/// A worker that passed this gateway's policy, with the load the registry reported: the inputs of the matcher (which
/// holds the choosing policy). Its reputation is not here: the matcher reads it from the shared
/// <see cref="Reputation.ReputationBook"/>.
/// </summary>
public sealed record EligibleWorker(
    AttestationDocument Document,
    string ProviderId,
    int PriceCoefficient,
    int MaxConcurrency,
    int Running,
    double AverageJobMilliseconds)
{
    /// <summary>The trust tier the gateway verified: tee, simulated or consumer.</summary>
    public string Tier => TrustTiers.FromTeeKind(Document.TeeKind);

    /// <summary>The attestation bundle the document was verified from (stored beside each receipt it signs).</summary>
    public AttestationBundle? Bundle { get; init; }

    /// <summary>The service level the worker's provider promises in its registration (best effort when it states none).</summary>
    public SlaClass SlaClass { get; init; } = SlaClass.BestEffort;
}

/// <summary>
/// The gateway's view of the registry: re-read every Gateway:RegistryRefresh, each attestation verified once per
/// document (cached by its hash) and checked against the policy: verifies, fresh, allow-listed measurement, served
/// model, known and unpaused provider. Refusals are logged once per worker and reason, and counted every refresh.
/// </summary>
public sealed partial class WorkerDirectory : BackgroundService
{
    private readonly WorkerRegistry _registry;
    private readonly ProviderDirectory _providers;
    private readonly WorkerJoins _joins;
    private readonly AttestationVerifier _verifier;
    private readonly HeartbeatCheck _heartbeats;
    private readonly DispatchOptions _options;
    private readonly GatewayMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<WorkerDirectory> _logger;
    private readonly FrozenSet<string> _servedModels;
    private readonly ConcurrentDictionary<string, string> _loggedRefusals = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _refreshGate = new(1, 1);
    private readonly TaskCompletionSource _firstRefresh = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile IReadOnlyList<EligibleWorker> _eligible = [];
    private volatile FrozenSet<string> _registered = FrozenSet<string>.Empty;
    private readonly IConnectionMultiplexer _redis;
    private readonly object _outageLock = new();
    // Workers registered when this gateway lost Redis; they count as registered until the grace after reconnect ends.
    private FrozenSet<string>? _beforeOutage;
    private bool _disconnected;
    private DateTimeOffset _graceUntil;

    public WorkerDirectory(
        WorkerRegistry registry,
        ProviderDirectory providers,
        WorkerJoins joins,
        IConnectionMultiplexer redis,
        IOptions<DispatchOptions> options,
        GatewayMetrics metrics,
        TimeProvider time,
        IConfiguration configuration,
        ILogger<WorkerDirectory> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _registry = registry;
        _providers = providers;
        _joins = joins;
        _redis = redis;
        _options = options.Value;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _servedModels = _options.Models.Select(m => m.Sha256.ToLowerInvariant()).ToFrozenSet(StringComparer.OrdinalIgnoreCase);
        var platformKeys = _options.TrustedSimulatedPlatformKeys;
        _verifier = new AttestationVerifier(new AttestationPolicy
        {
            AllowedMeasurements = _options.AllowedMeasurements,
            ServedModelHashes = _servedModels,
            TrustedSimulatedPlatformKeys = platformKeys,
            AllowSimulated = _options.AllowSimulated,
            AllowConsumer = _options.AllowConsumerWorkers,
            AcceptUnverifiedTdxQuotes = _options.AcceptUnverifiedTdxQuotes,
            AllowedTdxMrTd = _options.AllowedTdxMrTd,
            MaxAge = _options.MaxAttestationAge,
        }, time);
        _heartbeats = new HeartbeatCheck(_options.HeartbeatMaxAge);

        redis.ConnectionFailed += OnConnectionFailed;
        redis.ConnectionRestored += OnConnectionRestored;

        if (_options.AllowSimulated)
        {
            LogSimulatedAllowed(logger, platformKeys.Count);
        }

        if (_options.AcceptAnySimulatedMeasurement)
        {
            LogAnyMeasurement(logger);
        }

        if (_options.AllowLocalProvider)
        {
            LogLocalProvider(logger);
        }
    }

    /// <summary>Workers that may receive jobs right now.</summary>
    public IReadOnlyList<EligibleWorker> Eligible => _eligible;

    /// <summary>Completes after the first registry read (successful or not).</summary>
    public Task FirstRefresh => _firstRefresh.Task;

    /// <summary>
    /// True while the worker's registry entry exists (it heartbeats), whether or not it still gets new jobs. During
    /// this gateway's Redis outage and the grace after it (<see cref="DispatchOptions.RedisReconnectGrace"/>), a worker
    /// registered before the outage counts too: its entry may have lapsed with the restart, not with the worker.
    /// </summary>
    public bool IsRegistered(string workerId)
    {
        if (_registered.Contains(workerId))
        {
            return true;
        }

        lock (_outageLock)
        {
            if (_beforeOutage is null)
            {
                return false;
            }

            if (!_disconnected && _time.GetUtcNow() >= _graceUntil)
            {
                _beforeOutage = null;
                return false;
            }

            return _beforeOutage.Contains(workerId);
        }
    }

    /// <summary>True while this gateway is without Redis or within the grace after its reconnect.</summary>
    public bool InReconnectGrace
    {
        get
        {
            lock (_outageLock)
            {
                return _beforeOutage is not null && (_disconnected || _time.GetUtcNow() < _graceUntil);
            }
        }
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType != ConnectionType.Interactive)
        {
            return;
        }

        lock (_outageLock)
        {
            // A second failure inside the grace keeps the first snapshot: it is the view from before Redis went away.
            if (_beforeOutage is null || (!_disconnected && _time.GetUtcNow() >= _graceUntil))
            {
                _beforeOutage = _registered;
            }

            _disconnected = true;
        }

        LogRedisLost(_logger, _beforeOutage?.Count ?? 0);
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType != ConnectionType.Interactive)
        {
            return;
        }

        lock (_outageLock)
        {
            _disconnected = false;
            _graceUntil = _time.GetUtcNow() + _options.RedisReconnectGrace;
        }

        LogRedisBack(_logger, _options.RedisReconnectGrace.TotalSeconds);
    }

    /// <summary>How many workers the last registry read found (eligible or not).</summary>
    public int RegisteredCount => _registered.Count;

    public EligibleWorker? Find(string workerId) => _eligible.FirstOrDefault(w => w.Document.WorkerId == workerId);

    /// <summary>Re-reads the registry now (the dispatcher calls it when its view looks stale).</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        // One refresh at a time: an explicit refresh waits for the periodic one instead of racing it, so when it
        // returns every refusal it saw is counted and logged, and an older view never overwrites a newer one.
        await _refreshGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await RefreshOnceAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _refreshGate.Release();
        }
    }

    private async Task RefreshOnceAsync(CancellationToken cancellationToken)
    {
        var registered = await _registry.ListAsync(cancellationToken).ConfigureAwait(false);
        var eligible = new List<EligibleWorker>(registered.Count);
        var providerCache = new Dictionary<string, ProviderInfo?>(StringComparer.Ordinal);
        foreach (var worker in registered)
        {
            var (refusal, detail, accepted) = await CheckAsync(worker, providerCache, cancellationToken).ConfigureAwait(false);
            if (accepted is not null)
            {
                eligible.Add(accepted);
                _loggedRefusals.TryRemove(worker.Registration.WorkerId, out _);
                continue;
            }

            if (!_loggedRefusals.TryGetValue(worker.Registration.WorkerId, out var logged) || logged != refusal)
            {
                // Counted and logged once per worker and reason, not on every refresh.
                _loggedRefusals[worker.Registration.WorkerId] = refusal;
                _metrics.Refused(refusal);
                LogRefused(_logger, worker.Registration.WorkerId, refusal, detail);
            }
        }

        _registered = registered.Select(w => w.Registration.WorkerId).ToFrozenSet(StringComparer.Ordinal);
        _heartbeats.Forget(id => !_registered.Contains(id));
        _eligible = eligible;
        _metrics.WorkersOnline(eligible.Count);
    }

    public override void Dispose()
    {
        _redis.ConnectionFailed -= OnConnectionFailed;
        _redis.ConnectionRestored -= OnConnectionRestored;
        _refreshGate.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.RegistryRefresh, _time);
        try
        {
            do
            {
                try
                {
                    await RefreshAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is RedisException or TimeoutException && !stoppingToken.IsCancellationRequested)
                {
                    // Keep the last view: workers that were attested a moment ago are still the best guess.
                    LogRefreshFailed(_logger, e);
                }

                _firstRefresh.TrySetResult();
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task<(string Refusal, string Detail, EligibleWorker? Accepted)> CheckAsync(
        RegisteredWorker worker, Dictionary<string, ProviderInfo?> providerCache, CancellationToken cancellationToken)
    {
        AttestationBundle bundle;
        try
        {
            bundle = AttestationBundle.FromJson(Encoding.UTF8.GetString(worker.Registration.Attestation));
        }
        catch (Exception e) when (e is JsonException or ArgumentException or FormatException)
        {
            return ("malformed", "the attestation bundle does not parse", null);
        }

        var (attestationRefusal, attestationDetail, doc) = CheckAttestation(bundle);
        if (doc is null)
        {
            return (attestationRefusal, attestationDetail, null);
        }

        if (doc.WorkerId != worker.Registration.WorkerId || !string.Equals(doc.ModelSha256, worker.Registration.ModelSha256, StringComparison.OrdinalIgnoreCase))
        {
            return ("registration-mismatch", $"registry entry {worker.Registration.WorkerId} carries the document of {doc.WorkerId}", null);
        }

        string providerId;
        int? coefficientOverride = null;
        if (doc.ProviderId == ProviderDirectory.LocalProviderId)
        {
            if (!_options.AllowLocalProvider)
            {
                return ("no-provider", $"worker {doc.WorkerId} has no provider token (set COCOON_WORKER_TOKEN)", null);
            }

            providerId = ProviderDirectory.LocalProviderId;
        }
        else
        {
            // The provider is the one the gateway bound the worker id to when it joined (token checked there), and the
            // document must be signed by the key pinned then: a published document or token hash claims nothing.
            var join = await _joins.GetAsync(doc.WorkerId, cancellationToken).ConfigureAwait(false);
            if (join is not { Pinned: true })
            {
                return (JoinRefusals.NotJoined, $"worker {doc.WorkerId} claims provider {doc.ProviderId} but did not join through the gateway", null);
            }

            if (!string.Equals(join.SigningKeyHex, Convert.ToHexStringLower(doc.SigningPublicKey), StringComparison.Ordinal))
            {
                return (JoinRefusals.KeyMismatch, $"worker {doc.WorkerId}: the document is signed by another key than the one pinned at join", null);
            }

            if (join.ProviderId != doc.ProviderId)
            {
                return (JoinRefusals.ProviderMismatch, $"worker {doc.WorkerId} joined for {join.ProviderId}, its document names {doc.ProviderId}", null);
            }

            if (join.State == JoinStates.Revoked)
            {
                return (join.Reason ?? JoinRefusals.TokenRevoked, join.Detail ?? $"worker {doc.WorkerId}: its provider's token was revoked", null);
            }

            if (!providerCache.TryGetValue(join.ProviderId, out var provider))
            {
                provider = await _providers.GetAsync(join.ProviderId, cancellationToken).ConfigureAwait(false);
                providerCache[join.ProviderId] = provider;
            }

            if (provider is null)
            {
                return ("unknown-provider", $"worker {doc.WorkerId}: provider {join.ProviderId} is not registered", null);
            }

            if (provider.Paused)
            {
                return (JoinRefusals.Paused, $"worker {doc.WorkerId}: provider {provider.ProviderId} is paused", null);
            }

            providerId = provider.ProviderId;
            coefficientOverride = provider.PriceCoefficient;
        }

        // The load and liveness count only when the worker's attested key signed them, recently, and not older than
        // what this gateway already saw from it (a forged or written-back entry is refused, not believed).
        var (heartbeatRefusal, load) = _heartbeats.Check(doc.WorkerId, doc.SigningPublicKey, worker.LoadJson, worker.LoadSignature, _time.GetUtcNow());
        if (load is null)
        {
            return (HeartbeatRefusalName(heartbeatRefusal), $"worker {doc.WorkerId}: its heartbeat is {HeartbeatRefusalName(heartbeatRefusal)}", null);
        }

        var max = Math.Min(doc.MaxConcurrency, worker.Registration.MaxConcurrency);
        return ("none", string.Empty, new EligibleWorker(doc, providerId, coefficientOverride ?? doc.PriceCoefficient, max,
            Math.Max(worker.Leases, load.Running), load.AverageJobMilliseconds)
        {
            SlaClass = SlaClasses.Parse(worker.Registration.SlaClass),
            Bundle = bundle,
        });
    }

    /// <summary>
    /// The attestation checks alone (signature, evidence, freshness, platform, measurement, model), with this gateway's
    /// development switches: the document when it passes, else the refusal code and detail. The join endpoint asks the
    /// same question before it hands out credentials.
    /// </summary>
    public (string Refusal, string Detail, AttestationDocument? Document) CheckAttestation(AttestationBundle bundle)
    {
        var verdict = _verifier.Verify(bundle);
        var doc = verdict.Document;
        if (!verdict.Accepted)
        {
            // Development switches override only the last two checks: by then signature, evidence and freshness passed.
            var overridable = (verdict.Refusal == AttestationRefusal.UnknownMeasurement && _options.AcceptAnySimulatedMeasurement && verdict.IsSimulated)
                || (verdict.Refusal == AttestationRefusal.UnknownModel && _servedModels.Count == 0);
            if (!overridable || doc is null)
            {
                return (RefusalName(verdict.Refusal), verdict.Detail, null);
            }

            if (_servedModels.Count > 0 && !_servedModels.Contains(doc.ModelSha256))
            {
                return (RefusalName(AttestationRefusal.UnknownModel), $"worker {doc.WorkerId}: model {doc.ModelSha256} is not served", null);
            }
        }

        return ("none", string.Empty, doc);
    }

    /// <summary>Stable kebab-case metric labels for heartbeats that are not believed.</summary>
    public static string HeartbeatRefusalName(HeartbeatRefusal refusal) => refusal switch
    {
        HeartbeatRefusal.NoSignature => "unsigned-heartbeat",
        HeartbeatRefusal.BadSignature => "forged-heartbeat",
        HeartbeatRefusal.Malformed => "malformed-heartbeat",
        HeartbeatRefusal.Stale => "stale-heartbeat",
        HeartbeatRefusal.Replayed => "replayed-heartbeat",
        _ => "other",
    };

    /// <summary>Stable kebab-case metric labels.</summary>
    public static string RefusalName(AttestationRefusal refusal) => refusal switch
    {
        AttestationRefusal.Malformed => "malformed",
        AttestationRefusal.BadSignature => "bad-signature",
        AttestationRefusal.EvidenceMismatch => "evidence-mismatch",
        AttestationRefusal.UntrustedPlatform => "untrusted-platform",
        AttestationRefusal.SimulatedNotAllowed => "simulated-not-allowed",
        AttestationRefusal.TdxUnverifiable => "tdx-unverifiable",
        AttestationRefusal.UnknownTee => "unknown-tee",
        AttestationRefusal.ConsumerNotAllowed => "consumer-not-allowed",
        AttestationRefusal.NotYetValid => "not-yet-valid",
        AttestationRefusal.Expired => "expired",
        AttestationRefusal.UnknownMeasurement => "unknown-measurement",
        AttestationRefusal.UnknownModel => "unknown-model",
        _ => "other",
    };

    [LoggerMessage(EventId = LogEvents.WorkerDirectory + 1, Level = LogLevel.Warning, Message = "Worker {WorkerId} refused: {Reason} ({Detail})")]
    private static partial void LogRefused(ILogger logger, string workerId, string reason, string detail);

    [LoggerMessage(EventId = LogEvents.WorkerDirectory + 2, Level = LogLevel.Warning, Message = "Reading the worker registry failed; keeping the last view")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = LogEvents.WorkerDirectory + 5, Level = LogLevel.Warning, Message = "Lost Redis: the {Workers} worker(s) registered now keep their in-flight jobs until the grace after reconnect ends")]
    private static partial void LogRedisLost(ILogger logger, int workers);

    [LoggerMessage(EventId = LogEvents.WorkerDirectory + 6, Level = LogLevel.Information, Message = "Redis is back: workers known before the outage have {GraceSeconds} s to register again before their jobs are given up")]
    private static partial void LogRedisBack(ILogger logger, double graceSeconds);

    [LoggerMessage(EventId = LogEvents.WorkerDirectory + 9, Level = LogLevel.Warning, Message = "Gateway:AllowSimulated is on: workers attested by {Platforms} simulated TEE platform key(s) get jobs; their documents prove nothing about the hardware. Development only.")]
    private static partial void LogSimulatedAllowed(ILogger logger, int platforms);

    [LoggerMessage(EventId = LogEvents.WorkerDirectory + 3, Level = LogLevel.Warning, Message = "Gateway:AcceptAnySimulatedMeasurement is on: any build attested by a trusted simulated platform gets jobs. Local development only.")]
    private static partial void LogAnyMeasurement(ILogger logger);

    [LoggerMessage(EventId = LogEvents.WorkerDirectory + 4, Level = LogLevel.Warning, Message = "Gateway:AllowLocalProvider is on: workers without a provider token get jobs as provider 'local'. Local development only.")]
    private static partial void LogLocalProvider(ILogger logger);
}
