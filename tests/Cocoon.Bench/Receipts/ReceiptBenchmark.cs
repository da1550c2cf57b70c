using System.Globalization;
using System.Security.Cryptography;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Crypto;
using Cocoon.Engine.Protocol;

namespace Cocoon.Bench.Receipts;

/// <summary>
/// `./cocoon bench receipts`: what a verifiable receipt adds to one answer, in CPU microseconds on one thread, beside
/// the sealing every answer already pays (the ratio is the honest number; absolute µs move with the machine's load).
/// Stages: the two content hashes (canonical request + the response hashed chunk by chunk with the hash so far kept
/// after each chunk, as the worker does for a stop), the Ed25519 signature, the gateway's Accept, and, as the peer,
/// sealing + opening the same answer's chunks.
/// </summary>
public static class ReceiptBenchmark
{
    private const int Iterations = 4000;
    private const int Chunks = 32;

    public static async Task RunAsync(BenchContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        using var identity = WorkerIdentity.Create("bench-receipts");
        var request = new GenerationRequest { Messages = [new ChatMessage("user", new string('x', 400))], Sampling = new SamplingOptions { MaxTokens = 256 } };
        var pieces = Enumerable.Range(0, Chunks).Select(i => System.Text.Encoding.UTF8.GetBytes($" token{i}")).ToArray();
        var key = RandomNumberGenerator.GetBytes(32);
        var transcript = SHA256.HashData("t"u8);
        var receipt = new UsageReceipt
        {
            RequestId = "req-bench", WorkerId = identity.WorkerId, ModelSha256 = new string('a', 64), PromptTokens = 100, CompletionTokens = Chunks,
            FinishReason = FinishReason.Stop, ChunksSha256 = transcript, WorkerStartedAt = DateTimeOffset.UtcNow, WorkerFinishedAt = DateTimeOffset.UtcNow,
            RequestSha256 = new byte[32], ResponseSha256 = new byte[32], PriceCoefficient = 1000, TeeKind = TeeKinds.Simulated,
        };
        var doc = new AttestationDocument
        {
            WorkerId = identity.WorkerId, ProviderId = "local", ModelName = "m", ModelSha256 = receipt.ModelSha256, Measurement = new string('c', 64),
            HpkePublicKey = identity.Sealing.PublicKey, SigningPublicKey = identity.SigningPublicKey, Hardware = new HardwareInfo("cpu", null, 1, 1),
            Region = "eu", PriceCoefficient = 1000, MaxConcurrency = 1, IssuedAt = DateTimeOffset.UnixEpoch, ExpiresAt = DateTimeOffset.UnixEpoch.AddHours(1),
            TeeKind = TeeKinds.Simulated,
        };
        var json = System.Text.Encoding.UTF8.GetBytes(receipt.Sign(identity).ToJson());
        var content = new ReceiptContent(receipt.RequestSha256, receipt.ResponseSha256, Stopped: false);

        var hashes = Mean(() =>
        {
            _ = ReceiptHashes.Request(ReceiptHashes.CanonicalRequest(request));
            using var response = new ResponseHasher();
            foreach (var p in pieces)
            {
                response.Append(p);
                _ = response.Current();
            }
        });
        var sign = Mean(() => _ = receipt.Sign(identity).ToJson());
        var accept = Mean(() => _ = SignedUsageReceipt.Accept(json, doc, "req-bench", transcript, 256, content));
        var seal = Mean(() =>
        {
            using var sealer = new ChunkSealer(key, "req-bench");
            using var opener = new ChunkOpener(key, "req-bench");
            foreach (var p in pieces)
            {
                _ = opener.Open(sealer.Seal(p, isFinal: false));
            }

            _ = opener.Open(sealer.Seal([], isFinal: true));
        });

        // GET /v1/attestation: per worker asked, one statement signed over the client's nonce and checked by the gateway.
        var nonce = RandomNumberGenerator.GetBytes(AttestationStatement.NonceSize);
        var statement = new AttestationStatement
        {
            Nonce = nonce, WorkerId = identity.WorkerId, ModelSha256 = doc.ModelSha256, HpkePublicKey = doc.HpkePublicKey, IssuedAt = DateTimeOffset.UtcNow,
        };
        var statementJson = System.Text.Encoding.UTF8.GetBytes(statement.Sign(identity).ToJson());
        var statementSign = Mean(() => _ = statement.Sign(identity).ToJson());
        var statementAccept = Mean(() => _ = SignedAttestationStatement.Accept(statementJson, doc, nonce));

        var added = hashes + sign + accept;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"receipts: hashes {hashes:F1} µs + sign {sign:F1} µs + accept {accept:F1} µs = {added:F1} µs per answer ({Chunks} chunks); sealing+opening the same answer {seal:F1} µs; ratio {added / seal:F2}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"attestation statement: worker signs {statementSign:F1} µs, gateway accepts {statementAccept:F1} µs per worker per GET /v1/attestation"));
        await context.WriteJsonAsync("receipts", new { hashes, sign, accept, added, seal, ratio = added / seal, chunks = Chunks, statementSign, statementAccept }).ConfigureAwait(false);
    }

    private static double Mean(Action action)
    {
        for (var i = 0; i < Iterations / 4; i++)
        {
            action();
        }

        var cpu = Environment.CpuUsage.UserTime + Environment.CpuUsage.PrivilegedTime;
        for (var i = 0; i < Iterations; i++)
        {
            action();
        }

        var used = Environment.CpuUsage.UserTime + Environment.CpuUsage.PrivilegedTime - cpu;
        return used.TotalMicroseconds / Iterations;
    }
}
