using System.Security.Cryptography;
using System.Text;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Protocol;

namespace Cocoon.Engine.Tests.Attestation;

/// <summary>The gateway's acceptance of a receipt (<see cref="SignedUsageReceipt.Accept"/>): pure, no server.</summary>
public sealed class ReceiptAcceptanceTests : IDisposable
{
    private static readonly byte[] Transcript = SHA256.HashData("sealed chunks"u8);
    private static readonly byte[] RequestHash = SHA256.HashData("canonical request"u8);
    private static readonly byte[] ResponseHash = SHA256.HashData("answer text"u8);
    private static readonly ReceiptContent Content = new(RequestHash, ResponseHash, Stopped: false);
    private readonly WorkerIdentity _worker = WorkerIdentity.Create("worker-7");

    public void Dispose() => _worker.Dispose();

    private AttestationDocument Document(WorkerIdentity? signer = null) => new()
    {
        WorkerId = _worker.WorkerId,
        ProviderId = "local",
        ModelName = "m",
        ModelSha256 = new string('a', 64),
        Measurement = new string('c', 64),
        HpkePublicKey = _worker.Sealing.PublicKey,
        SigningPublicKey = (signer ?? _worker).SigningPublicKey,
        Hardware = new HardwareInfo("cpu", null, 1, 1),
        Region = "eu",
        PriceCoefficient = 1000,
        MaxConcurrency = 1,
        IssuedAt = DateTimeOffset.UnixEpoch,
        ExpiresAt = DateTimeOffset.UnixEpoch.AddHours(1),
        TeeKind = TeeKinds.Simulated,
    };

    private UsageReceipt Receipt() => new()
    {
        RequestId = "req-42",
        WorkerId = _worker.WorkerId,
        ModelSha256 = new string('A', 64),
        PromptTokens = 12,
        CompletionTokens = 34,
        FinishReason = FinishReason.Stop,
        ChunksSha256 = Transcript,
        WorkerStartedAt = DateTimeOffset.UnixEpoch,
        WorkerFinishedAt = DateTimeOffset.UnixEpoch.AddSeconds(1),
        RequestSha256 = RequestHash,
        ResponseSha256 = ResponseHash,
        PriceCoefficient = 1000,
        TeeKind = TeeKinds.Simulated,
    };

    private byte[] Json(UsageReceipt receipt) => Encoding.UTF8.GetBytes(receipt.Sign(_worker).ToJson());

    [Fact]
    public void A_matching_receipt_is_accepted_with_the_model_hash_compared_case_insensitively()
    {
        var accepted = SignedUsageReceipt.Accept(Json(Receipt()), Document(), "req-42", Transcript, maxTokens: 34, Content);
        Assert.NotNull(accepted);
        Assert.Equal(34, accepted.Receipt.CompletionTokens);
    }

    [Fact]
    public void Cached_prompt_tokens_are_signed_and_a_receipt_without_them_leaves_the_field_out()
    {
        var accepted = SignedUsageReceipt.Accept(Json(Receipt() with { CachedPromptTokens = 5 }), Document(), "req-42", Transcript, maxTokens: 34, Content);
        Assert.Equal(5, accepted!.Receipt.CachedPromptTokens);
        Assert.DoesNotContain("cachedPromptTokens", Encoding.UTF8.GetString(Receipt().ToCanonicalBytes()), StringComparison.Ordinal);

        // Changing the cached count after signing breaks the signature.
        var signed = Receipt() with { CachedPromptTokens = 5 };
        var tampered = signed.Sign(_worker) with { Receipt = signed with { CachedPromptTokens = 12 } };
        Assert.Null(SignedUsageReceipt.Accept(Encoding.UTF8.GetBytes(tampered.ToJson()), Document(), "req-42", Transcript, maxTokens: 34, Content));
    }

    public static TheoryData<string> Mismatches => ["missing", "garbage", "request", "worker", "model", "transcript", "short-hash", "negative", "over-max", "signer",
        "cached-over-prompt", "cached-negative", "request-hash", "response-hash", "price", "tee", "version", "stopped-not-cancelled", "cancelled-not-stopped"];

    [Theory]
    [MemberData(nameof(Mismatches))]
    public void Any_mismatch_refuses_the_receipt(string mismatch)
    {
        var r = Receipt();
        using var other = WorkerIdentity.Create("worker-7");
        var content = mismatch switch
        {
            "request-hash" => Content with { RequestSha256 = SHA256.HashData("changed request"u8) },
            "response-hash" => Content with { ResponseSha256 = SHA256.HashData("changed answer"u8) },
            "stopped-not-cancelled" => Content with { Stopped = true },
            _ => Content,
        };
        var (json, doc, request, transcript, max) = mismatch switch
        {
            "missing" => (null, Document(), "req-42", Transcript, 34),
            "garbage" => ("{"u8.ToArray(), Document(), "req-42", Transcript, 34),
            "request" => (Json(r), Document(), "req-43", Transcript, 34),
            "worker" => (Json(r with { WorkerId = "worker-8" }), Document(), "req-42", Transcript, 34),
            "model" => (Json(r with { ModelSha256 = new string('b', 64) }), Document(), "req-42", Transcript, 34),
            "transcript" => (Json(r), Document(), "req-42", SHA256.HashData("other"u8), 34),
            "short-hash" => (Json(r with { ChunksSha256 = Transcript[..16] }), Document(), "req-42", Transcript[..16], 34),
            "negative" => (Json(r with { PromptTokens = -1 }), Document(), "req-42", Transcript, 34),
            "over-max" => (Json(r), Document(), "req-42", Transcript, 33),
            "cached-over-prompt" => (Json(r with { CachedPromptTokens = r.PromptTokens + 1 }), Document(), "req-42", Transcript, 34),
            "cached-negative" => (Json(r with { CachedPromptTokens = -1 }), Document(), "req-42", Transcript, 34),
            "price" => (Json(r with { PriceCoefficient = 900 }), Document(), "req-42", Transcript, 34),
            "tee" => (Json(r with { TeeKind = TeeKinds.Tdx }), Document(), "req-42", Transcript, 34),
            "version" => (Json(r with { Version = 1 }), Document(), "req-42", Transcript, 34),
            "cancelled-not-stopped" => (Json(r with { FinishReason = FinishReason.Cancelled }), Document(), "req-42", Transcript, 34),
            "signer" => (Json(r), Document(other), "req-42", Transcript, 34),
            _ => (Json(r), Document(), "req-42", Transcript, 34),
        };
        Assert.Null(SignedUsageReceipt.Accept(json, doc, request, transcript, max, content));
    }

    [Fact]
    public void A_stopped_answer_is_accepted_only_with_a_cancelled_receipt_for_the_part_taken()
    {
        var stopped = Content with { Stopped = true };
        var part = Receipt() with { FinishReason = FinishReason.Cancelled, CompletionTokens = 3 };
        Assert.NotNull(SignedUsageReceipt.Accept(Json(part), Document(), "req-42", Transcript, maxTokens: 34, stopped));
    }
}
