using Cocoon.Worker.Attestation;
using System.Security.Cryptography;
using System.Text;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Crypto;
using Cocoon.Engine.Protocol;
using Cocoon.Network.Transport;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Dispatch;

/// <summary>
/// A worker the test drives by hand over the real wire protocol: real keys, a real (simulated-TEE) attestation,
/// real HPKE and chunk sealing. It plays the misbehaving or slow peer a real worker never is: forged documents,
/// tampered or replayed chunks, jobs held open on purpose.
/// </summary>
public sealed class ScriptedWorker : IDisposable
{
    private readonly DispatchNetwork _network;

    private ScriptedWorker(DispatchNetwork network, WorkerIdentity identity, AttestationBundle bundle, int maxConcurrency)
    {
        _network = network;
        Identity = identity;
        Bundle = bundle;
        MaxConcurrency = maxConcurrency;
    }

    public const string ModelName = "scripted-model";

    public static readonly string ModelSha = Convert.ToHexStringLower(SHA256.HashData("scripted model weights"u8));

    public static readonly string AnyMeasurement = Convert.ToHexStringLower(SHA256.HashData("scripted worker build"u8));

    public WorkerIdentity Identity { get; }

    public AttestationBundle Bundle { get; }

    public int MaxConcurrency { get; }

    public string WorkerId => Identity.WorkerId;

    private JobStreams Jobs => _network.Gateway.Services.GetRequiredService<JobStreams>();

    private ResultStreams Results => _network.Gateway.Services.GetRequiredService<ResultStreams>();

    public static async Task<ScriptedWorker> CreateAsync(
        DispatchNetwork network,
        CancellationToken cancellationToken,
        string? platformDir = null,
        TimeProvider? clock = null,
        TimeSpan? validity = null,
        string? measurement = null,
        string? modelSha = null,
        int maxConcurrency = 2,
        Func<AttestationBundle, AttestationBundle>? forge = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        var identity = WorkerIdentity.Create("sw-" + Guid.NewGuid().ToString("N")[..10]);
        using var tee = SimulatedTeeProvider.LoadOrCreate(platformDir ?? Path.Combine(network.Data.Path, "tee"));
        var claims = new WorkerClaims("local", ModelName, modelSha ?? ModelSha, measurement ?? AnyMeasurement,
            Cocoon.Worker.Attestation.HardwareDetection.Detect(), "local", 1000, maxConcurrency);
        var bundle = await identity.AttestAsync(claims, tee, clock ?? TimeProvider.System, validity ?? TimeSpan.FromHours(1), cancellationToken);
        return new ScriptedWorker(network, identity, forge is null ? bundle : forge(bundle), maxConcurrency);
    }

    public async Task RegisterAsync(TimeSpan ttl, CancellationToken cancellationToken)
    {
        var registry = _network.Gateway.Services.GetRequiredService<WorkerRegistry>();
        await Jobs.EnsureGroupAsync(WorkerId, cancellationToken);
        await registry.PublishAsync(new WorkerRegistration
        {
            WorkerId = WorkerId,
            ModelName = Bundle.Document.ModelName,
            ModelSha256 = Bundle.Document.ModelSha256,
            Attestation = Encoding.UTF8.GetBytes(Bundle.ToJson()),
            MaxConcurrency = MaxConcurrency,
            StartedAt = DateTimeOffset.UtcNow,
        }, new WorkerLoad(0, MaxConcurrency, 0, 0, DateTimeOffset.UtcNow), ttl, cancellationToken, signer: Identity);
    }

    public async Task<long> QueuedJobsAsync() =>
        await _network.Connection.GetDatabase().StreamLengthAsync(_network.Keys.Jobs(WorkerId));

    /// <summary>Waits for the next job and opens it, as a real worker would.</summary>
    public async Task<OpenedJob> NextJobAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var entries = await Jobs.ReadAsync(WorkerId, WorkerId, 1, TimeSpan.FromMilliseconds(20), cancellationToken);
            if (entries.Count == 1)
            {
                var job = System.Text.Json.JsonSerializer.Deserialize(entries[0].Payload!, WireJsonContext.Default.JobEnvelope)!;
                var context = Hpke.SetupRecipient(Identity.Sealing, job.EncapsulatedKey, JobBinding.Info(job.RequestId, job.Attempt, job.WorkerId, job.ModelSha256, job.Deadline));
                var plaintext = context.Open(JobBinding.Aad(job.ReplyTo), job.Ciphertext);
                var request = System.Text.Json.JsonSerializer.Deserialize(plaintext, WireJsonContext.Default.GenerationRequest)!;
                return new OpenedJob(this, entries[0], job, context, request) { RequestSha256 = ReceiptHashes.Request(plaintext) };
            }
        }
    }

    public Task SendAsync(JobEnvelope job, ResultEnvelope result, CancellationToken cancellationToken) =>
        Results.AppendAsync(job.ReplyTo, result, cancellationToken);

    public void Dispose() => Identity.Dispose();

    public sealed class OpenedJob(ScriptedWorker worker, JobEntry entry, JobEnvelope job, HpkeRecipientContext context, GenerationRequest request) : IDisposable
    {
        public JobEnvelope Job { get; } = job;

        public GenerationRequest Request { get; } = request;

        /// <summary>SHA-256 of the request exactly as it was sealed (what a receipt must carry).</summary>
        public required byte[] RequestSha256 { get; init; }

        /// <summary>The UTF-8 text sent so far, for the receipt's response hash.</summary>
        public List<byte> SentText { get; } = [];

        public ChunkSealer Sealer { get; } = ChunkSealer.Create(context, job.RequestId);

        public ResultEnvelope Chunk(SealedChunk sealedChunk) => new()
        {
            RequestId = Job.RequestId,
            Attempt = Job.Attempt,
            WorkerId = worker.WorkerId,
            Kind = sealedChunk.IsFinal ? ResultKind.Final : ResultKind.Chunk,
            Sequence = sealedChunk.Sequence,
            Ciphertext = sealedChunk.Ciphertext,
        };

        public async Task<ResultEnvelope> SendPieceAsync(string text, CancellationToken cancellationToken)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            SentText.AddRange(bytes);
            var result = Chunk(Sealer.Seal(bytes, isFinal: false));
            await worker.SendAsync(Job, result, cancellationToken);
            return result;
        }

        public Task SendRawAsync(ResultEnvelope result, CancellationToken cancellationToken) => worker.SendAsync(Job, result, cancellationToken);

        /// <summary>The last chunk and a receipt signed with the worker's key (optionally altered before signing).</summary>
        public async Task FinishAsync(int promptTokens, int completionTokens, CancellationToken cancellationToken, Func<UsageReceipt, UsageReceipt>? alter = null)
        {
            var last = Sealer.Seal([], isFinal: true);
            var receipt = new UsageReceipt
            {
                RequestId = Job.RequestId,
                WorkerId = worker.WorkerId,
                ModelSha256 = Job.ModelSha256,
                PromptTokens = promptTokens,
                CompletionTokens = completionTokens,
                FinishReason = FinishReason.Stop,
                ChunksSha256 = Sealer.TranscriptHash,
                WorkerStartedAt = Job.IssuedAt,
                WorkerFinishedAt = DateTimeOffset.UtcNow,
                RequestSha256 = RequestSha256,
                ResponseSha256 = System.Security.Cryptography.SHA256.HashData(SentText.ToArray()),
                PriceCoefficient = worker.Bundle.Document.PriceCoefficient,
                TeeKind = worker.Bundle.Document.TeeKind,
            };
            var signed = (alter?.Invoke(receipt) ?? receipt).Sign(worker.Identity);
            await worker.SendAsync(Job, Chunk(last) with { Receipt = Encoding.UTF8.GetBytes(signed.ToJson()) }, cancellationToken);
            await worker.Jobs.AcknowledgeAsync(worker.WorkerId, entry.EntryId, cancellationToken);
        }

        public void Dispose()
        {
            Sealer.Dispose();
            context.Dispose();
        }
    }
}
