using System.Text.Json.Serialization;

namespace Cocoon.Engine.Protocol;

/// <summary>
/// The wire records that travel through Redis between gateways and workers. Every record carries a version so that a
/// gateway and a worker of different builds refuse each other's messages instead of misreading them.
/// Nothing here is plaintext user data: prompts and answers appear only as HPKE / chunk ciphertexts.
/// </summary>
public static class WireVersion
{
    public const int Current = 1;
}

/// <summary>
/// A job on a worker's stream: the GenerationRequest JSON sealed with HPKE to that worker's X25519 key. The HPKE info
/// binds request id, attempt, worker id and model hash (see <see cref="JobBinding"/>), so a job copied to another
/// worker, another attempt or another model fails to open.
/// </summary>
public sealed record JobEnvelope
{
    public int Version { get; init; } = WireVersion.Current;
    public required string RequestId { get; init; }

    /// <summary>0 for the first worker; +1 each time the gateway re-seals the job to another worker.</summary>
    public required int Attempt { get; init; }

    public required string WorkerId { get; init; }
    public required string ModelSha256 { get; init; }

    /// <summary>The result stream the worker answers on (one per gateway instance).</summary>
    public required string ReplyTo { get; init; }

    public required byte[] EncapsulatedKey { get; init; }
    public required byte[] Ciphertext { get; init; }
    public required DateTimeOffset IssuedAt { get; init; }

    /// <summary>After this the gateway has given up on the attempt; a worker drops the job instead of running it.</summary>
    public required DateTimeOffset Deadline { get; init; }
}

public enum ResultKind
{
    /// <summary>A sealed piece of the answer.</summary>
    Chunk,

    /// <summary>The sealed last chunk plus the signed usage receipt.</summary>
    Final,

    /// <summary>The worker refuses or failed the job; Error says why (never user text).</summary>
    Error,
}

/// <summary>One entry on a gateway's result stream.</summary>
public sealed record ResultEnvelope
{
    public int Version { get; init; } = WireVersion.Current;
    public required string RequestId { get; init; }
    public required int Attempt { get; init; }
    public required string WorkerId { get; init; }
    public required ResultKind Kind { get; init; }

    /// <summary>Chunk sequence number inside the attempt, from 0; the chunk AEAD binds it too.</summary>
    public long Sequence { get; init; }

    public byte[]? Ciphertext { get; init; }

    /// <summary>The worker's signed usage receipt (serialized by the attestation code), on Final only.</summary>
    public byte[]? Receipt { get; init; }

    public string? Error { get; init; }
}

/// <summary>What a worker publishes in the registry besides its attestation document.</summary>
public sealed record WorkerRegistration
{
    public int Version { get; init; } = WireVersion.Current;
    public required string WorkerId { get; init; }
    public required string ModelName { get; init; }
    public required string ModelSha256 { get; init; }

    /// <summary>The signed attestation document (serialized by the attestation code).</summary>
    public required byte[] Attestation { get; init; }

    public required int MaxConcurrency { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
}

/// <summary>The live part of a worker's registry entry, refreshed by every heartbeat.</summary>
public sealed record WorkerLoad(int Running, int MaxConcurrency, double AverageJobMilliseconds, long JobsDone, DateTimeOffset At);

/// <summary>A job a worker could not or would not run, moved aside with the reason (still sealed).</summary>
public sealed record DeadLetter
{
    public int Version { get; init; } = WireVersion.Current;
    public required string Reason { get; init; }
    public required string Stream { get; init; }
    public required string EntryId { get; init; }
    public string? RequestId { get; init; }
    public string? WorkerId { get; init; }
    public required long Deliveries { get; init; }
    public required DateTimeOffset At { get; init; }

    /// <summary>The original entry's payload, byte for byte (sealed, or garbage if the entry was malformed).</summary>
    public byte[]? Payload { get; init; }
}

/// <summary>The HPKE info and chunk-key labels both sides derive from a job; one place so they cannot drift apart.</summary>
public static class JobBinding
{
    public static byte[] Info(string requestId, int attempt, string workerId, string modelSha256) =>
        System.Text.Encoding.UTF8.GetBytes(
            $"cocoon/job/v{WireVersion.Current}\n{requestId}\n{attempt.ToString(System.Globalization.CultureInfo.InvariantCulture)}\n{workerId}\n{modelSha256}");

    /// <summary>HPKE AAD of the job: the reply stream, so a job redirected to another gateway fails to open.</summary>
    public static byte[] Aad(string replyTo) => System.Text.Encoding.UTF8.GetBytes(replyTo);
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JobEnvelope))]
[JsonSerializable(typeof(ResultEnvelope))]
[JsonSerializable(typeof(WorkerRegistration))]
[JsonSerializable(typeof(WorkerLoad))]
[JsonSerializable(typeof(DeadLetter))]
[JsonSerializable(typeof(GenerationRequest))]
[JsonSerializable(typeof(EmbeddingRequest))]
[JsonSerializable(typeof(EmbeddingResult))]
public sealed partial class WireJsonContext : JsonSerializerContext;
