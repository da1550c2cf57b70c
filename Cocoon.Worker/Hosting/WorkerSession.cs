using System.Text;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Protocol;
using Cocoon.Network.Providers;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cocoon.Worker.Hosting;

/// <summary>
/// This run of the worker: its in-memory keys, its current attestation and what it publishes in the registry.
/// Re-attesting keeps the signing key but rotates the X25519 sealing key: the previous one stays (jobs already sealed
/// to it still open) until its document has expired plus Worker:SealingKeyGrace, then it is wiped.
/// </summary>
public sealed class WorkerSession : IDisposable
{
    private readonly ITeeProvider _tee;
    private readonly TimeProvider _time;
    private readonly WorkerClaims _claims;
    private readonly TimeSpan _validity;
    private readonly TimeSpan _keyGrace;
    private readonly string _slaClass;

    private WorkerSession(WorkerIdentity identity, WorkerClaims claims, ITeeProvider tee, TimeProvider time, TimeSpan validity, TimeSpan keyGrace, string slaClass)
    {
        _slaClass = slaClass;
        _keyGrace = keyGrace;
        Identity = identity;
        _claims = claims;
        _tee = tee;
        _time = time;
        _validity = validity;
        StartedAt = time.GetUtcNow();
    }

    public WorkerIdentity Identity { get; }

    public string WorkerId => Identity.WorkerId;

    public string ModelSha256 => _claims.ModelSha256;

    public int MaxConcurrency => _claims.MaxConcurrency;

    public DateTimeOffset StartedAt { get; }

    public AttestationBundle Bundle { get; private set; } = null!;

    public WorkerRegistration Registration { get; private set; } = null!;

    /// <summary>The provider claim: SHA-256 of the provider's worker token, or "local" without one.</summary>
    public static string ProviderClaim(string? token) =>
        string.IsNullOrEmpty(token) ? ProviderDirectory.LocalProviderId : ProviderDirectory.HashToken(token);

    /// <param name="joined">A worker that joined through the gateway keeps the keys it joined with (the gateway pinned
    /// them) and names the provider the gateway bound it to.</param>
    public static async Task<WorkerSession> StartAsync(
        WorkerHostOptions options, IInferenceService inference, ITeeProvider tee, string measurement, TimeProvider time, CancellationToken cancellationToken,
        JoinedWorker? joined = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(inference);
        var workerId = joined?.Identity.WorkerId ?? (options.Id is { Length: > 0 } id ? id : NewWorkerId());
        var claims = new WorkerClaims(
            joined?.Grant.ProviderId ?? ProviderClaim(options.Token),
            inference.Model.Name,
            inference.Model.Sha256.ToLowerInvariant(),
            measurement,
            Cocoon.Worker.Attestation.HardwareDetection.Detect(),
            options.Region,
            options.PriceCoefficient,
            options.MaxConcurrency > 0 ? options.MaxConcurrency : inference.MaxConcurrency,
            inference.Model.ContextLength,
            inference.Model.Kind,
            inference.Model.EmbeddingDimensions);
        var session = new WorkerSession(joined?.Identity ?? WorkerIdentity.Create(workerId), claims, tee, time, options.AttestationValidity, options.SealingKeyGrace, options.SlaClass);
        try
        {
            await session.AttestAsync(cancellationToken).ConfigureAwait(false);
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    public static string NewWorkerId() => "w-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>True when half the document's validity is gone: re-attest before gateways start refusing it.</summary>
    public bool AttestationAging => _time.GetUtcNow() >= Bundle.Document.IssuedAt + (Bundle.Document.ExpiresAt - Bundle.Document.IssuedAt) / 2;

    public async Task AttestAsync(CancellationToken cancellationToken)
    {
        Identity.RetireSealingKeys(_time.GetUtcNow());
        if (Bundle is { } previous)
        {
            // Gateways may seal to the published key until its document expires; a job sealed then lives until its
            // deadline, which the grace covers.
            Identity.RotateSealing(previous.Document.ExpiresAt + _keyGrace);
        }

        var bundle = await Identity.AttestAsync(_claims, _tee, _time, _validity, cancellationToken).ConfigureAwait(false);
        Bundle = bundle;
        Registration = new WorkerRegistration
        {
            WorkerId = WorkerId,
            ModelName = _claims.ModelName,
            ModelSha256 = _claims.ModelSha256,
            Attestation = Encoding.UTF8.GetBytes(bundle.ToJson()),
            MaxConcurrency = _claims.MaxConcurrency,
            StartedAt = StartedAt,
            SlaClass = _slaClass,
        };
    }

    public void Dispose() => Identity.Dispose();
}
