using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Crypto;
using Cocoon.Engine.Protocol;
using StackExchange.Redis;

namespace Cocoon.Bench.Dispatch;

/// <summary>CPU spent by this process (gateway, worker, ledger, bench driver) and by redis-server, and Redis calls.</summary>
public sealed record CpuSample(TimeSpan Process, double RedisSeconds, long RedisCalls, IReadOnlyDictionary<string, long> ByCommand)
{
    public static async Task<CpuSample> TakeAsync(IConnectionMultiplexer redis)
    {
        ArgumentNullException.ThrowIfNull(redis);
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        var cpu = (await server.InfoAsync("cpu").ConfigureAwait(false)).SelectMany(g => g).ToDictionary(p => p.Key, p => p.Value);
        // "cmdstat_hget" -> "calls=12,usec=...": calls per command, so a change in the count can be traced to its commands.
        var byCommand = (await server.InfoAsync("commandstats").ConfigureAwait(false)).SelectMany(g => g)
            .ToDictionary(p => p.Key.Replace("cmdstat_", "", StringComparison.Ordinal), p => long.Parse(p.Value.Split(',')[0].Split('=')[1], CultureInfo.InvariantCulture));
        var redisSeconds = double.Parse(cpu["used_cpu_user"], CultureInfo.InvariantCulture) + double.Parse(cpu["used_cpu_sys"], CultureInfo.InvariantCulture);
        return new CpuSample(Environment.CpuUsage.TotalTime, redisSeconds, byCommand.Values.Sum(), byCommand);
    }

    /// <summary>Calls per operation of each command between two samples, most first (the later sample's INFO calls included).</summary>
    public IReadOnlyList<(string Command, double PerOperation)> CommandsPer(CpuSample later, int operations)
    {
        ArgumentNullException.ThrowIfNull(later);
        return [.. later.ByCommand
            .Select(p => (p.Key, (double)(p.Value - ByCommand.GetValueOrDefault(p.Key)) / operations))
            .Where(p => p.Item2 > 0)
            .OrderByDescending(p => p.Item2)];
    }

    /// <summary>Per operation, between two samples: microseconds of process CPU, of redis-server CPU, and Redis calls.</summary>
    public CostPerOp Per(CpuSample later, int operations)
    {
        ArgumentNullException.ThrowIfNull(later);
        return new CostPerOp(
            (later.Process - Process).TotalMicroseconds / operations,
            (later.RedisSeconds - RedisSeconds) * 1e6 / operations,
            (double)(later.RedisCalls - RedisCalls - 2) / operations); // the two INFO calls of the later sample
    }
}

public sealed record CostPerOp(double ProcessCpuMicros, double RedisCpuMicros, double RedisCalls)
{
    public double TotalCpuMicros => ProcessCpuMicros + RedisCpuMicros;
}

/// <summary>
/// The cryptographic work of one dispatch, each stage alone on one thread with the real engine code: what no
/// transport change can remove. Means over many runs, after a warm-up, in microseconds of process CPU.
/// </summary>
public sealed record CryptoStages(
    double X25519KeyGen,
    double SealJob,
    double OpenJob,
    double SignReceipt,
    double VerifyReceipt,
    double Chunks,
    int SealedJobBytes)
{
    /// <summary>Everything above but the lone key generation (which SealJob already contains).</summary>
    public double PerDispatch => SealJob + OpenJob + SignReceipt + VerifyReceipt + Chunks;

    public static CryptoStages Measure(int iterations)
    {
        using var identity = WorkerIdentity.Create("bench-worker-" + Guid.NewGuid().ToString("N")[..12]);
        var requestId = Guid.NewGuid().ToString("N");
        var workerId = identity.WorkerId;
        var modelSha = new string('b', 64);
        var gatewayId = "gw-" + Guid.NewGuid().ToString("N")[..12];
        var deadline = DateTimeOffset.UtcNow.AddMinutes(5);
        var info = JobBinding.Info(requestId, 0, workerId, modelSha, deadline);
        var aad = JobBinding.Aad(gatewayId);
        var request = new GenerationRequest { Prompt = "Once upon a time", Sampling = new SamplingOptions { MaxTokens = 2, Temperature = 0 } };
        var plaintext = JsonSerializer.SerializeToUtf8Bytes(request, WireJsonContext.Default.GenerationRequest);

        byte[] SealJob()
        {
            using var sender = Hpke.SetupSender(identity.Sealing.PublicKey, info);
            var job = new JobEnvelope
            {
                RequestId = requestId,
                Attempt = 0,
                WorkerId = workerId,
                ModelSha256 = modelSha,
                ReplyTo = gatewayId,
                RecipientKey = identity.Sealing.PublicKey,
                EncapsulatedKey = sender.Enc,
                Ciphertext = sender.Seal(aad, plaintext),
                IssuedAt = DateTimeOffset.UtcNow,
                Deadline = deadline,
            };
            return JsonSerializer.SerializeToUtf8Bytes(job, WireJsonContext.Default.JobEnvelope);
        }

        var sealedJob = SealJob();
        var parsed = JsonSerializer.Deserialize(sealedJob, WireJsonContext.Default.JobEnvelope)!;
        var receipt = new UsageReceipt
        {
            RequestId = requestId,
            WorkerId = workerId,
            ModelSha256 = modelSha,
            PromptTokens = 1,
            CompletionTokens = 1,
            FinishReason = FinishReason.Length,
            ChunksSha256 = new byte[32],
            WorkerStartedAt = DateTimeOffset.UtcNow,
            WorkerFinishedAt = DateTimeOffset.UtcNow,
            RequestSha256 = new byte[32],
            ResponseSha256 = new byte[32],
            PriceCoefficient = 1000,
            TeeKind = TeeKinds.Simulated,
        };
        var signed = receipt.Sign(identity);
        using var streamContext = Hpke.SetupSender(identity.Sealing.PublicKey, info);
        var signedJson = signed.ToJson();

        return new CryptoStages(
            Mean(iterations, () => HpkeKeyPair.Generate().Dispose()),
            Mean(iterations, () => SealJob()),
            Mean(iterations, () =>
            {
                var job = JsonSerializer.Deserialize(sealedJob, WireJsonContext.Default.JobEnvelope)!;
                using var recipient = Hpke.SetupRecipient(identity.Sealing, job.EncapsulatedKey, info);
                var opened = recipient.Open(aad, job.Ciphertext);
                _ = JsonSerializer.Deserialize(opened, WireJsonContext.Default.GenerationRequest);
                CryptographicOperations.ZeroMemory(opened);
            }),
            Mean(iterations, () => _ = Encoding(receipt.Sign(identity).ToJson())),
            Mean(iterations, () => _ = SignedUsageReceipt.FromJson(signedJson).Verify(identity.SigningPublicKey)),
            Mean(iterations, () =>
            {
                // Each side keys its stream from the job's HPKE context (set up once, above), then seals/opens 2 chunks.
                using var sealer = ChunkSealer.Create(streamContext, requestId);
                using var opener = ChunkOpener.Create(streamContext, requestId);
                _ = opener.Open(sealer.Seal("ok"u8, isFinal: false));
                _ = opener.Open(sealer.Seal([], isFinal: true));
            }),
            sealedJob.Length);
    }

    private static byte[] Encoding(string json) => System.Text.Encoding.UTF8.GetBytes(json);

    private static double Mean(int iterations, Action action)
    {
        for (var i = 0; i < Math.Max(200, iterations / 4); i++)
        {
            action();
        }

        // Process CPU, not wall-clock time: nothing else runs in the process yet (the gateway and the worker start
        // after), and on a shared machine the wall clock also counts the time this thread waited for a core, which made
        // the ceiling swing with the load (session 7: the same build gave 240 us quiet and 880 us at load 37).
        var cpu = Environment.CpuUsage.TotalTime;
        for (var i = 0; i < iterations; i++)
        {
            action();
        }

        return (Environment.CpuUsage.TotalTime - cpu).TotalMicroseconds / iterations;
    }
}
