using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Crypto;
using Cocoon.Engine.Protocol;

namespace Cocoon.Engine.Tests.Attestation;

public sealed class UsageReceiptTests : IDisposable
{
    private readonly WorkerIdentity _worker = WorkerIdentity.Create("worker-7");

    public void Dispose() => _worker.Dispose();

    private UsageReceipt Receipt(byte[]? chunksHash = null) => new()
    {
        RequestId = "req-42",
        WorkerId = _worker.WorkerId,
        ModelSha256 = new string('a', 64),
        PromptTokens = 12,
        CompletionTokens = 34,
        FinishReason = FinishReason.Stop,
        ChunksSha256 = chunksHash ?? SHA256.HashData("chunks"u8),
        WorkerStartedAt = new DateTimeOffset(2026, 11, 23, 12, 0, 0, 250, TimeSpan.Zero),
        WorkerFinishedAt = new DateTimeOffset(2026, 11, 23, 12, 0, 1, 750, TimeSpan.Zero),
        RequestSha256 = SHA256.HashData("request"u8),
        ResponseSha256 = SHA256.HashData("response"u8),
        PriceCoefficient = 1000,
        TeeKind = TeeKinds.Simulated,
    };

    [Fact]
    public void Signed_receipt_verifies_under_the_worker_key_only()
    {
        var signed = Receipt().Sign(_worker);
        Assert.True(signed.Verify(_worker.SigningPublicKey));
        using var other = WorkerIdentity.Create("other");
        Assert.False(signed.Verify(other.SigningPublicKey));
        Assert.False(signed.Verify(new byte[5]));
    }

    [Fact]
    public void Receipt_binds_the_transcript_hash_of_the_sealed_stream()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        using var sealer = new ChunkSealer(key, "req-42");
        using var opener = new ChunkOpener(key, "req-42");
        opener.Open(sealer.Seal("a"u8, isFinal: false));
        opener.Open(sealer.Seal("b"u8, isFinal: true));

        var signed = Receipt(sealer.TranscriptHash).Sign(_worker);
        Assert.True(signed.Verify(_worker.SigningPublicKey));
        Assert.Equal(opener.TranscriptHash, signed.Receipt.ChunksSha256);
    }

    public static TheoryData<string> Fields => ["request", "worker", "model", "prompt", "completion", "finish", "chunks", "start", "end", "version", "request-hash", "response-hash", "price", "tee"];

    [Theory]
    [MemberData(nameof(Fields))]
    public void Any_tampered_field_fails_verification(string field)
    {
        var signed = Receipt().Sign(_worker);
        var r = signed.Receipt;
        var tampered = field switch
        {
            "request" => r with { RequestId = "req-43" },
            "worker" => r with { WorkerId = "worker-8" },
            "model" => r with { ModelSha256 = new string('b', 64) },
            "prompt" => r with { PromptTokens = 1 },
            "completion" => r with { CompletionTokens = 3 },
            "finish" => r with { FinishReason = FinishReason.Length },
            "chunks" => r with { ChunksSha256 = SHA256.HashData("other"u8) },
            "start" => r with { WorkerStartedAt = r.WorkerStartedAt.AddMilliseconds(1) },
            "end" => r with { WorkerFinishedAt = r.WorkerFinishedAt.AddMilliseconds(-1) },
            "request-hash" => r with { RequestSha256 = SHA256.HashData("other request"u8) },
            "response-hash" => r with { ResponseSha256 = SHA256.HashData("other response"u8) },
            "price" => r with { PriceCoefficient = 1001 },
            "tee" => r with { TeeKind = TeeKinds.Tdx },
            _ => r with { Version = 1 },
        };
        Assert.False((signed with { Receipt = tampered }).Verify(_worker.SigningPublicKey));
    }

    [Fact]
    public void Tampered_signature_fails_verification()
    {
        var signed = Receipt().Sign(_worker);
        var sig = (byte[])signed.Signature.Clone();
        sig[0] ^= 1;
        Assert.False((signed with { Signature = sig }).Verify(_worker.SigningPublicKey));
        Assert.False((signed with { Signature = sig[..63] }).Verify(_worker.SigningPublicKey));
    }

    [Fact]
    public void Receipt_json_round_trip_verifies_and_tampered_json_does_not()
    {
        var json = Receipt().Sign(_worker).ToJson();
        Assert.True(SignedUsageReceipt.FromJson(json).Verify(_worker.SigningPublicKey));
        Assert.Contains("\"finishReason\":\"Stop\"", json);

        var node = JsonNode.Parse(json)!.AsObject();
        node["receipt"]!["completionTokens"] = 3400;
        Assert.False(SignedUsageReceipt.FromJson(node.ToJsonString()).Verify(_worker.SigningPublicKey));
    }

    [Fact]
    public void Canonical_encoding_is_fixed()
    {
        var text = System.Text.Encoding.UTF8.GetString(Receipt(new byte[32]).ToCanonicalBytes());
        Assert.Equal(
            "{\"version\":2,\"requestId\":\"req-42\",\"workerId\":\"worker-7\",\"modelSha256\":\"" + new string('a', 64) +
            "\",\"promptTokens\":12,\"completionTokens\":34,\"finishReason\":\"Stop\",\"chunksSha256\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"," +
            "\"workerStartedAt\":1795435200250,\"workerFinishedAt\":1795435201750," +
            "\"requestSha256\":\"H1i5FFsk0QjXrDiIcziz6jIpgzucHkGCUDQ/kHv9EEc=\",\"responseSha256\":\"qfSz0ipSP9raQchcF1QlvNFbMrTND1TZQzrM1S1xlaE=\"," +
            "\"priceCoefficient\":1000,\"teeKind\":\"simulated\"}",
            text);
    }
}
