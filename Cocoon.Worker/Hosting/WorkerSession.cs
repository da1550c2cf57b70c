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
/// Re-attesting keeps the keys (jobs in flight stay openable) and only renews the document's validity.
/// </summary>
public sealed class WorkerSession : IDisposable
{
    private readonly ITeeProvider _tee;
    private readonly TimeProvider _time;
    private readonly WorkerClaims _claims;
    private readonly TimeSpan _validity;

    private WorkerSession(WorkerIdentity identity, WorkerClaims claims, ITeeProvider tee, TimeProvider time, TimeSpan validity)
    {
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

    public static async Task<WorkerSession> StartAsync(
        WorkerHostOptions options, IInferenceService inference, ITeeProvider tee, string measurement, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(inference);
        var workerId = options.Id is { Length: > 0 } id ? id : "w-" + Guid.NewGuid().ToString("N")[..12];
        var claims = new WorkerClaims(
            ProviderClaim(options.Token),
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
        var session = new WorkerSession(WorkerIdentity.Create(workerId), claims, tee, time, options.AttestationValidity);
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

    /// <summary>True when half the document's validity is gone: re-attest before gateways start refusing it.</summary>
    public bool AttestationAging => _time.GetUtcNow() >= Bundle.Document.IssuedAt + (Bundle.Document.ExpiresAt - Bundle.Document.IssuedAt) / 2;

    public async Task AttestAsync(CancellationToken cancellationToken)
    {
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
        };
    }

    public void Dispose() => Identity.Dispose();
}
