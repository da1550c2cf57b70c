using Cocoon.Engine.Attestation;

namespace Cocoon.Worker.Attestation;

/// <summary>
/// A worker without a TEE (Worker:Tee=none or consumer): it attests nothing. The document is signed by the worker's
/// own key only and the evidence is empty, so a gateway can admit it solely by policy, into the "consumer" trust
/// tier, for callers who opted in. Nothing here protects prompts from the machine's owner.
/// </summary>
public sealed class ConsumerTeeProvider : ITeeProvider
{
    public const string TeeKind = TeeKinds.Consumer;

    public string Kind => TeeKind;

    public Task<AttestationEvidence> AttestAsync(ReadOnlyMemory<byte> documentHash, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(new AttestationEvidence(TeeKind, []));
    }
}
