namespace Cocoon.Engine.Attestation;

/// <summary>
/// What a gateway accepts. Hex values compare case-insensitively. An empty allow-list allows nothing: a gateway
/// that forgot to configure measurements refuses every worker rather than trusting any build.
/// </summary>
public sealed record AttestationPolicy
{
    /// <summary>Worker measurements (SHA-256 hex of its code, see <see cref="Measurement"/>) allowed to receive jobs.</summary>
    public IReadOnlyCollection<string> AllowedMeasurements { get; init; } = [];

    /// <summary>SHA-256 hex of the GGUF files this network serves.</summary>
    public IReadOnlyCollection<string> ServedModelHashes { get; init; } = [];

    /// <summary>Ed25519 public keys (hex) of simulated platforms whose documents are trusted.</summary>
    public IReadOnlyCollection<string> TrustedSimulatedPlatformKeys { get; init; } = [];

    /// <summary>Off in a deployment that must have hardware TEEs: then simulated documents are refused outright.</summary>
    public bool AllowSimulated { get; init; } = true;

    /// <summary>
    /// A TDX quote's Intel signature chain cannot be checked offline. False (the default) refuses TDX documents with
    /// <see cref="AttestationRefusal.TdxUnverifiable"/>; true accepts a well-formed quote whose report data binds the
    /// document, knowing the quote itself is not authenticated.
    /// </summary>
    public bool AcceptUnverifiedTdxQuotes { get; init; }

    /// <summary>When non-empty, a TDX quote's MRTD (hex) must be one of these.</summary>
    public IReadOnlyCollection<string> AllowedTdxMrTd { get; init; } = [];

    /// <summary>
    /// Accept workers without a TEE (<see cref="TeeKinds.Consumer"/>) into the consumer tier. Off by default. Their
    /// measurement is self-declared and not checked against <see cref="AllowedMeasurements"/>: nothing backs it.
    /// </summary>
    public bool AllowConsumer { get; init; }

    /// <summary>A document older than this is refused even before its own expiry: workers must re-attest.</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Tolerated clock difference between worker and gateway.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(30);
}
