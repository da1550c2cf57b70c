using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Protocol;

namespace Cocoon.Network.Tests.Interop;

/// <summary>A worker's usage receipt signature is plain Ed25519: an independent implementation (Node) verifies it.</summary>
public sealed class UsageReceiptInteropTests : IDisposable
{
    private readonly WorkerIdentity _worker = WorkerIdentity.Create("worker-7");

    public void Dispose() => _worker.Dispose();

    private UsageReceipt Receipt() => new()
    {
        RequestId = "req-42",
        WorkerId = _worker.WorkerId,
        ModelSha256 = new string('a', 64),
        PromptTokens = 12,
        CompletionTokens = 34,
        FinishReason = FinishReason.Stop,
        ChunksSha256 = SHA256.HashData("chunks"u8),
        WorkerStartedAt = new DateTimeOffset(2026, 11, 23, 12, 0, 0, 250, TimeSpan.Zero),
        WorkerFinishedAt = new DateTimeOffset(2026, 11, 23, 12, 0, 1, 750, TimeSpan.Zero),
        RequestSha256 = SHA256.HashData("request"u8),
        ResponseSha256 = SHA256.HashData("response"u8),
        PriceCoefficient = 1000,
        TeeKind = TeeKinds.Simulated,
    };

    [Fact]
    public async Task Receipt_signature_is_plain_ed25519_that_node_verifies()
    {
        var signed = Receipt().Sign(_worker);
        async Task<bool> NodeVerifies(UsageReceipt receipt) => (await NodeHpke.RunAsync(new JsonObject
        {
            ["op"] = "verify-ed25519",
            ["publicKey"] = Convert.ToHexStringLower(_worker.SigningPublicKey),
            ["message"] = Convert.ToHexStringLower(receipt.SignedMessage()),
            ["signature"] = Convert.ToHexStringLower(signed.Signature),
        }))["valid"]!.GetValue<bool>();

        Assert.True(await NodeVerifies(signed.Receipt));
        Assert.False(await NodeVerifies(signed.Receipt with { CompletionTokens = 35 }));
        Assert.StartsWith("cocoon usage receipt v1\0", System.Text.Encoding.UTF8.GetString(signed.Receipt.SignedMessage()));
    }
}
