using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Cocoon.Engine.Crypto;
using Cocoon.Engine.Protocol;
using Cocoon.Testing;

namespace Cocoon.Engine.Tests.Fuzz;

/// <summary>
/// Seeded property tests of what crosses Redis: a job envelope goes through the worker's whole open path (JSON, HPKE,
/// the sealed request, the rules) and a sealed answer stream through the gateway's opener. Each step either accepts or
/// throws its documented exception (<see cref="JsonException"/>, <see cref="CryptographicException"/>,
/// <see cref="ChunkStreamException"/>), and nothing altered is ever accepted.
/// </summary>
public sealed class WireFuzzTests
{
    private static readonly string[] EnvelopeNames = ["version", "requestId", "attempt", "workerId", "modelSha256", "replyTo", "encapsulatedKey", "ciphertext", "issuedAt", "deadline"];

    [Fact]
    public void A_mutated_job_envelope_opens_only_unaltered_or_fails_with_a_documented_exception()
    {
        using var worker = HpkeKeyPair.Generate();
        var request = new GenerationRequest
        {
            Messages = [new ChatMessage("user", "hello")],
            Sampling = new SamplingOptions { MaxTokens = 8, Seed = 5 },
        };
        var plaintext = JsonSerializer.SerializeToUtf8Bytes(request, WireJsonContext.Default.GenerationRequest);
        var original = Seal(worker, plaintext);
        var originalJson = JsonSerializer.Serialize(original, WireJsonContext.Default.JobEnvelope);
        var opened = 0;
        Cocoon.Testing.Fuzz.Run(seed: 1441, cases: 1500, fuzz =>
        {
            var json = fuzz.Show(fuzz.Next(8) switch
            {
                0 => originalJson,
                1 => JsonSerializer.Serialize(original with { EncapsulatedKey = fuzz.Mutate(original.EncapsulatedKey) }, WireJsonContext.Default.JobEnvelope),
                2 => JsonSerializer.Serialize(original with { Ciphertext = fuzz.Mutate(original.Ciphertext) }, WireJsonContext.Default.JobEnvelope),
                3 => JsonSerializer.Serialize(original with { Attempt = original.Attempt + fuzz.Pick<int>([1, -1, int.MinValue]) }, WireJsonContext.Default.JobEnvelope),
                _ => fuzz.MutateJson(originalJson, EnvelopeNames),
            });

            JobEnvelope? job;
            try
            {
                job = JsonSerializer.Deserialize(json, WireJsonContext.Default.JobEnvelope);
            }
            catch (JsonException)
            {
                return;
            }

            if (job is not { RequestId: not null, WorkerId: not null, ModelSha256: not null, ReplyTo: not null, EncapsulatedKey: not null, Ciphertext: not null })
            {
                return; // what the worker's Parse refuses before any cryptography
            }

            byte[] opened1;
            try
            {
                using var context = Hpke.SetupRecipient(worker, job.EncapsulatedKey, JobBinding.Info(job.RequestId, job.Attempt, job.WorkerId, job.ModelSha256, job.Deadline));
                opened1 = context.Open(JobBinding.Aad(job.ReplyTo), job.Ciphertext);
            }
            catch (CryptographicException)
            {
                return;
            }

            // Opened: then nothing the binding covers was changed, and the plaintext is the one sealed.
            Assert.Equal(plaintext, opened1);
            Assert.Equal((original.RequestId, original.Attempt, original.WorkerId, original.ModelSha256, original.ReplyTo), (job.RequestId, job.Attempt, job.WorkerId, job.ModelSha256, job.ReplyTo));
            Assert.Equal(original.EncapsulatedKey, job.EncapsulatedKey);
            var generation = JsonSerializer.Deserialize(opened1, WireJsonContext.Default.GenerationRequest);
            Assert.Null(GenerationRules.Check(generation!));
            opened++;
        });

        Assert.InRange(opened, 1, int.MaxValue);
    }

    [Fact]
    public void A_sealed_request_with_any_json_is_a_request_or_a_JsonException_and_the_rules_never_throw()
    {
        var seed = JsonSerializer.Serialize(new GenerationRequest { Prompt = "x", Sampling = new SamplingOptions { MaxTokens = 4, Stop = ["a"] } }, WireJsonContext.Default.GenerationRequest);
        string[] names = ["messages", "prompt", "sampling", "maxTokens", "temperature", "topP", "topK", "minP", "repetitionPenalty", "seed", "stop", "role", "content"];
        Cocoon.Testing.Fuzz.Run(seed: 1442, cases: 2000, fuzz =>
        {
            var json = fuzz.Show(fuzz.MutateJson(seed, names));
            GenerationRequest? request;
            try
            {
                request = JsonSerializer.Deserialize(json, WireJsonContext.Default.GenerationRequest);
            }
            catch (JsonException)
            {
                return;
            }

            if (request is not null)
            {
                GenerationRules.Check(request);
            }
        });
    }

    [Fact]
    public void A_tampered_or_reordered_chunk_stream_yields_only_what_was_sealed_in_order_or_a_ChunkStreamException()
    {
        Cocoon.Testing.Fuzz.Run(seed: 1443, cases: 1000, fuzz =>
        {
            var key = RandomNumberGenerator.GetBytes(32);
            const string requestId = "req-fuzz";
            using var sealer = new ChunkSealer(key, requestId);
            var count = fuzz.Next(1, 6);
            var pieces = Enumerable.Range(0, count).Select(_ => fuzz.Bytes(24)).ToList();
            var sealedChunks = pieces.Select((p, i) => sealer.Seal(p, isFinal: i == count - 1)).ToList();

            // The delivery: in order, with one to three faults among drop, duplicate, swap, altered bytes, flipped final, moved sequence.
            var delivered = new List<SealedChunk>(sealedChunks);
            var faults = fuzz.Next(0, 4);
            for (var f = 0; f < faults && delivered.Count > 0; f++)
            {
                var at = fuzz.Next(delivered.Count);
                var chunk = delivered[at];
                switch (fuzz.Next(6))
                {
                    case 0:
                        delivered.RemoveAt(at);
                        break;
                    case 1:
                        delivered.Insert(at, chunk);
                        break;
                    case 2:
                        var other = fuzz.Next(delivered.Count);
                        (delivered[at], delivered[other]) = (delivered[other], delivered[at]);
                        break;
                    case 3:
                        delivered[at] = chunk with { Ciphertext = fuzz.Mutate(chunk.Ciphertext) };
                        break;
                    case 4:
                        delivered[at] = chunk with { IsFinal = !chunk.IsFinal };
                        break;
                    default:
                        delivered[at] = chunk with { Sequence = fuzz.Pick<long>([-1, chunk.Sequence + 1, long.MaxValue, long.MinValue, 0]) };
                        break;
                }
            }

            fuzz.Show(string.Join(" ", delivered.Select(c => $"{c.Sequence}{(c.IsFinal ? "F" : "")}:{Convert.ToHexString(c.Ciphertext)}")));
            using var opener = new ChunkOpener(key, requestId);
            var next = 0;
            foreach (var chunk in delivered)
            {
                try
                {
                    var plaintext = opener.Open(chunk);
                    // Accepted: it is the next sealed chunk, unaltered.
                    Assert.True(next < count, "a chunk was accepted after the final one");
                    Assert.Equal(sealedChunks[next], chunk with { Ciphertext = sealedChunks[next].Ciphertext });
                    Assert.Equal(sealedChunks[next].Ciphertext, chunk.Ciphertext);
                    Assert.Equal(pieces[next], plaintext);
                    next++;
                }
                catch (ChunkStreamException)
                {
                }
            }

            try
            {
                opener.Complete();
                Assert.Equal(count, next);
                Assert.Equal(sealer.TranscriptHash, opener.TranscriptHash);
            }
            catch (ChunkStreamException)
            {
                Assert.True(next < count || delivered.Count > count || !delivered.SequenceEqual(sealedChunks), "an intact stream was refused");
            }
        });
    }

    private static JobEnvelope Seal(HpkeKeyPair worker, byte[] plaintext)
    {
        const string requestId = "req-1", workerId = "worker-1", model = "aa", replyTo = "cocoon:results:gw-1";
        var now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
        using var sender = Hpke.SetupSender(worker.PublicKey, JobBinding.Info(requestId, 0, workerId, model, now.AddMinutes(1)));
        return new JobEnvelope
        {
            RequestId = requestId,
            Attempt = 0,
            WorkerId = workerId,
            ModelSha256 = model,
            ReplyTo = replyTo,
            RecipientKey = worker.PublicKey,
            EncapsulatedKey = sender.Enc,
            Ciphertext = sender.Seal(JobBinding.Aad(replyTo), plaintext),
            IssuedAt = now,
            Deadline = now.AddMinutes(1),
        };
    }
}
