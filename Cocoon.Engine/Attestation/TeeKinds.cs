namespace Cocoon.Engine.Attestation;

/// <summary>
/// The TEE kinds a document can name, and what each kind's evidence signs. The providers that produce evidence live
/// with the worker (<c>Cocoon.Worker/Attestation</c>); the verifier here only needs these rules.
/// </summary>
public static class TeeKinds
{
    /// <summary>A platform key in a file stands in for hardware: development only.</summary>
    public const string Simulated = "simulated";

    /// <summary>Intel TDX: a TD quote from configfs-tsm whose report data binds the document hash.</summary>
    public const string Tdx = "tdx";

    /// <summary>
    /// No TEE (a consumer GPU, a home PC): the document is signed by the worker's own key only and its evidence is
    /// empty. Nothing attests the code, the measurement or the privacy of prompts; accepted only by policy, into the
    /// separate <c>consumer</c> trust tier.
    /// </summary>
    public const string Consumer = "consumer";

    private static ReadOnlySpan<byte> SimulatedDomain => "cocoon simulated tee v1\0"u8;

    /// <summary>What a simulated platform key signs for a document hash.</summary>
    public static byte[] SimulatedSignedMessage(ReadOnlySpan<byte> documentHash) => [.. SimulatedDomain, .. documentHash];
}
