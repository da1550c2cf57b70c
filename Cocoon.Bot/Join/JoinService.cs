using System.Text;
using System.Text.Json;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Pricing;
using Cocoon.Network.Access;
using Cocoon.Network.Providers;
using Cocoon.Network.Transport;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Bot.Join;

/// <summary>
/// A worker joins: the gateway authenticates the provider's token itself, checks the attestation with the same policy
/// the dispatcher uses, checks the worker's certificate against the provider's registered key (when it registered
/// one), pins the worker id to the document's signing key and binds it to the provider, then creates the worker's own
/// Redis user. Every refusal is recorded for /provider status and answered in words.
/// </summary>
public sealed partial class JoinService(
    ProviderDirectory providers,
    WorkerJoins joins,
    WorkerAccess access,
    WorkerDirectory directory,
    RedisKeys keys,
    PriceTable prices,
    IOptions<JoinOptions> options,
    IOptions<DispatchOptions> dispatch,
    IOptions<RedisOptions> redis,
    TimeProvider time,
    ILogger<JoinService> logger,
    Reputation.ProviderReputation? reputation = null)
{
    /// <summary>The grant, or the refusal (never both).</summary>
    public async Task<(JoinGrant? Grant, JoinRefusal? Refusal)> JoinAsync(string token, JoinRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var provider = string.IsNullOrEmpty(token) ? null : await providers.ResolveTokenAsync(token, cancellationToken).ConfigureAwait(false);
        if (provider is null)
        {
            return (null, JoinRefusals.For(JoinRefusals.TokenRevoked, "the worker token is not registered"));
        }

        AttestationBundle bundle;
        try
        {
            bundle = AttestationBundle.FromJson(request.Attestation);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or FormatException)
        {
            return (null, JoinRefusals.For("malformed", "the attestation bundle does not parse"));
        }

        var workerId = bundle.Document.WorkerId;
        async Task<(JoinGrant?, JoinRefusal?)> RefuseAsync(string reason, string detail)
        {
            LogRefused(logger, workerId, provider.ProviderId, reason, detail);
            await joins.RecordRefusalAsync(workerId, provider.ProviderId, reason, detail, cancellationToken).ConfigureAwait(false);
            return (null, JoinRefusals.For(reason, detail));
        }

        var (refusal, detail, doc) = directory.CheckAttestation(bundle);
        if (doc is null)
        {
            return await RefuseAsync(refusal, detail).ConfigureAwait(false);
        }

        // The document was made for this token (it carries its hash); who the provider is comes from the token itself.
        if (doc.ProviderId != ProviderDirectory.HashToken(token))
        {
            return await RefuseAsync(JoinRefusals.ProviderMismatch, $"worker {workerId}: the document does not carry this token's hash").ConfigureAwait(false);
        }

        if (provider.Paused)
        {
            return await RefuseAsync(JoinRefusals.Paused, $"provider {provider.ProviderId} is paused").ConfigureAwait(false);
        }

        var (certificateRefusal, certificateDetail, certificate) = CheckCertificate(provider, request.Certificate, doc, time.GetUtcNow());
        if (certificateRefusal is not null)
        {
            return await RefuseAsync(certificateRefusal, certificateDetail).ConfigureAwait(false);
        }

        var certificateExpires = certificate is null ? (DateTimeOffset?)null : DateTimeOffset.FromUnixTimeSeconds(certificate.ExpiresAt);
        if (!await joins.PinAsync(workerId, provider.ProviderId, doc.SigningPublicKey, doc.TeeKind, doc.ModelName,
                certificate?.ProviderKey.ToLowerInvariant(), certificateExpires, cancellationToken).ConfigureAwait(false))
        {
            return (null, JoinRefusals.For(JoinRefusals.WorkerIdTaken, $"worker id {workerId} is held by another live worker"));
        }

        if (reputation is not null)
        {
            // A new worker id of a penalised provider (or provider key) starts from that record, not neutral.
            await reputation.BindAsync(workerId, provider.ProviderId, certificate?.ProviderKey.ToLowerInvariant(), cancellationToken).ConfigureAwait(false);
        }

        var credentials = await access.GrantAsync(workerId, cancellationToken).ConfigureAwait(false);
        LogJoined(logger, workerId, provider.ProviderId, doc.TeeKind, doc.ModelName);
        return (Grant(workerId, provider.ProviderId, provider.PriceCoefficient ?? doc.PriceCoefficient, credentials), null);
    }

    /// <summary>
    /// The certificate check: a provider without a registered key needs none (and a worker that signs one anyway is
    /// told to register the key); one with a key needs a certificate signed by that key, for this worker id, signing
    /// key and model, not expired. Returns the refusal reason and detail, or the accepted certificate.
    /// </summary>
    internal static (string? Refusal, string Detail, WorkerCertificate? Certificate) CheckCertificate(
        ProviderInfo provider, string? certificateJson, AttestationDocument doc, DateTimeOffset now)
    {
        WorkerCertificate? certificate = null;
        if (!string.IsNullOrEmpty(certificateJson))
        {
            try
            {
                certificate = WorkerCertificate.FromJson(certificateJson);
            }
            catch (JsonException)
            {
                return (JoinRefusals.CertificateForged, $"worker {doc.WorkerId}: the certificate does not parse", null);
            }
        }

        if (provider.ProviderKey is not { } key)
        {
            return certificate is null
                ? (null, string.Empty, null)
                : (JoinRefusals.ProviderKeyUnregistered, $"worker {doc.WorkerId} is certified by provider key {ProviderWorkerControl.KeyPrefix(certificate.ProviderKey)}, but provider {provider.ProviderId} has registered no key", null);
        }

        if (certificate is null)
        {
            return (JoinRefusals.CertificateMissing, $"worker {doc.WorkerId} has no certificate; provider {provider.ProviderId} signs its workers with key {ProviderWorkerControl.KeyPrefix(key)}", null);
        }

        return certificate.Check(key, provider.Revoked, doc.WorkerId, doc.SigningPublicKey, doc.ModelSha256, now) switch
        {
            CertificateVerdict.Valid => (null, string.Empty, certificate),
            CertificateVerdict.RevokedKey => (JoinRefusals.ProviderKeyRevoked, $"worker {doc.WorkerId} is certified by provider key {ProviderWorkerControl.KeyPrefix(certificate.ProviderKey)}, which provider {provider.ProviderId} replaced by {ProviderWorkerControl.KeyPrefix(key)}", null),
            CertificateVerdict.Expired => (JoinRefusals.CertificateExpired, $"worker {doc.WorkerId}: the certificate expired at {DateTimeOffset.FromUnixTimeSeconds(certificate.ExpiresAt):u}", null),
            CertificateVerdict.OtherWorker => (JoinRefusals.CertificateForged, $"worker {doc.WorkerId}: the certificate was made for another worker id, signing key or model", null),
            _ => (JoinRefusals.CertificateForged, $"worker {doc.WorkerId}: the certificate is not signed by provider {provider.ProviderId}'s key {ProviderWorkerControl.KeyPrefix(key)}", null),
        };
    }

    /// <summary>Where the worker stands, for the worker (authenticated by its provider's token) when its Redis access fails.</summary>
    public async Task<JoinStatus?> StatusAsync(string token, string workerId, CancellationToken cancellationToken)
    {
        var provider = string.IsNullOrEmpty(token) ? null : await providers.ResolveTokenAsync(token, cancellationToken).ConfigureAwait(false);
        var record = await joins.GetAsync(workerId, cancellationToken).ConfigureAwait(false);
        if (provider is null)
        {
            return new JoinStatus(workerId, JoinStates.Revoked, JoinRefusals.For(JoinRefusals.TokenRevoked, "the worker token is not registered"));
        }

        if (record is null || record.ProviderId != provider.ProviderId)
        {
            return null;
        }

        if (provider.Paused)
        {
            return new JoinStatus(workerId, JoinStates.Paused, JoinRefusals.For(JoinRefusals.Paused, $"provider {provider.ProviderId} is paused"));
        }

        return new JoinStatus(workerId, record.State, record.Reason is { } reason ? JoinRefusals.For(reason, record.Detail ?? string.Empty) : null);
    }

    /// <summary>The worker leaves: its Redis user and join record go at once (a cut-off worker's record stays until the sweep).</summary>
    public async Task<bool> LeaveAsync(string token, string workerId, CancellationToken cancellationToken)
    {
        var provider = string.IsNullOrEmpty(token) ? null : await providers.ResolveTokenAsync(token, cancellationToken).ConfigureAwait(false);
        var record = await joins.GetAsync(workerId, cancellationToken).ConfigureAwait(false);
        if (provider is null || record is null || record.ProviderId != provider.ProviderId)
        {
            return false;
        }

        await access.DeleteAsync(workerId, cancellationToken).ConfigureAwait(false);
        if (record.State == JoinStates.Revoked)
        {
            // A worker cut off (revoked token or key, expired certificate) leaves the record of why for /provider
            // status; the sweep removes it with the others once the worker's registration is long gone.
            return true;
        }

        await joins.RemoveAsync(workerId, provider.ProviderId, cancellationToken).ConfigureAwait(false);
        return true;
    }

    private JoinGrant Grant(string workerId, string providerId, int priceCoefficient, WorkerCredentials credentials)
    {
        var o = options.Value;
        var (endpoint, tls, ca) = RedisForWorkers(o, redis.Value);
        var d = dispatch.Value;
        return new JoinGrant(
            workerId,
            providerId,
            new JoinRedis(endpoint, credentials.User, credentials.Password, keys.Prefix, tls, ca),
            new JoinStreams(keys.Jobs(workerId)!, keys.Worker(workerId)!, keys.Leases(workerId)!, keys.WorkerCancel(workerId).ToString()),
            new JoinPolicy(
                d.AllowedMeasurements,
                [.. d.Models.Select(m =>
                {
                    var price = prices.For(m.Name);
                    return new JoinModel(m.Name, m.Sha256.ToLowerInvariant(), price.PromptPerMillion, price.CompletionPerMillion);
                })],
                priceCoefficient,
                TimeSpan.FromSeconds(1),
                TimeSpan.FromSeconds(3)));
    }

    /// <summary>
    /// Where workers reach Redis: Gateway:Join:RedisEndpoint, else the gateway's own endpoint; "rediss://host:port" with
    /// the CA's PEM when TLS is on (asked for, or the gateway's own connection uses it).
    /// </summary>
    internal static (string Endpoint, bool Tls, string? CaPem) RedisForWorkers(JoinOptions join, RedisOptions redis)
    {
        var (configured, configuredTls) = RedisConnection.StripScheme(join.RedisEndpoint ?? string.Empty);
        var hostPort = configured.Length > 0
            ? configured
            : ConfigurationOptions.Parse(RedisConnection.StripScheme(redis.Endpoint).Address).EndPoints.Select(Format).First();
        var tls = join.RedisTls || configuredTls || (configured.Length == 0 && RedisConnection.UsesTls(redis));
        if (!tls)
        {
            return (hostPort, false, null);
        }

        var caFile = join.RedisTlsCaFile is { Length: > 0 } f ? f : redis.TlsCaFile;
        return (RedisConnection.TlsScheme + hostPort, true, string.IsNullOrEmpty(caFile) ? null : File.ReadAllText(caFile));
    }

    private static string Format(System.Net.EndPoint endpoint) => endpoint switch
    {
        System.Net.DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
        System.Net.IPEndPoint ip => ip.ToString(),
        _ => endpoint.ToString() ?? string.Empty,
    };

    [LoggerMessage(EventId = LogEvents.Join + 1, Level = LogLevel.Information, Message = "Worker {WorkerId} joined for provider {ProviderId} ({TeeKind}, {Model})")]
    private static partial void LogJoined(ILogger logger, string workerId, string providerId, string teeKind, string model);

    [LoggerMessage(EventId = LogEvents.Join + 2, Level = LogLevel.Warning, Message = "Worker {WorkerId} of provider {ProviderId} refused at join: {Reason} ({Detail})")]
    private static partial void LogRefused(ILogger logger, string workerId, string providerId, string reason, string detail);
}
