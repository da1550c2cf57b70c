namespace Cocoon.Engine.Attestation;

/// <summary>
/// What a TEE says about a document hash. <see cref="Payload"/> is, for "simulated", the platform key's Ed25519
/// signature; for "tdx", the raw TD quote from configfs-tsm. <see cref="PlatformPublicKey"/> is set for "simulated".
/// </summary>
public sealed record AttestationEvidence(string Kind, byte[] Payload, byte[]? PlatformPublicKey = null);

/// <summary>A root of trust that binds a document hash to the hardware (or, for the simulated one, to a platform key).</summary>
public interface ITeeProvider
{
    /// <summary>"simulated" or "tdx"; written into every document this provider attests.</summary>
    string Kind { get; }

    Task<AttestationEvidence> AttestAsync(ReadOnlyMemory<byte> documentHash, CancellationToken cancellationToken);
}

/// <summary>This TEE cannot attest on this machine; the message names what is missing and what to use instead.</summary>
public sealed class TeeUnavailableException : Exception
{
    public TeeUnavailableException()
    {
    }

    public TeeUnavailableException(string message)
        : base(message)
    {
    }

    public TeeUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
