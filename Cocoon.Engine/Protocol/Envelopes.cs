using System.Text.Json.Serialization;

namespace Cocoon.Engine.Protocol;

/// <summary>
/// The wire records that travel through Redis between gateways and workers. Every record carries a version so that a
/// gateway and a worker of different builds refuse each other's messages instead of misreading them.
/// Nothing here is plaintext user data: prompts and answers appear only as HPKE / chunk ciphertexts.
/// </summary>
public static class WireVersion
{
    /// <summary>
    /// 2: the HPKE info is length-prefixed and binds the deadline, the job names the key it is sealed to (keys rotate),
    /// and error results carry a MAC from the job's HPKE context.
    /// </summary>
    public const int Current = 2;
}

/// <summary>
/// A job on a worker's stream: the GenerationRequest JSON sealed with HPKE to that worker's X25519 key. The HPKE info
/// binds request id, attempt, worker id, model hash and deadline (see <see cref="JobBinding"/>), so a job copied to
/// another worker, another attempt or another model, or given a later deadline, fails to open.
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

    /// <summary>
    /// The worker's X25519 public key the job is sealed to (from the document the gateway verified). A worker rotates
    /// its key when it re-attests and keeps the previous one for a while; this says which one opens the job.
    /// </summary>
    public required byte[] RecipientKey { get; init; }

    public required byte[] EncapsulatedKey { get; init; }
    public required byte[] Ciphertext { get; init; }
    public required DateTimeOffset IssuedAt { get; init; }

    /// <summary>After this the gateway has given up on the attempt; a worker drops the job instead of running it.</summary>
    public required DateTimeOffset Deadline { get; init; }

    /// <summary>
    /// The gateway's attempt span as a W3C traceparent, so the worker's span joins the request's trace. Plain routing
    /// data like the ids above (never user content), and not authenticated: it can only misfile a trace.
    /// </summary>
    public string? TraceParent { get; init; }
}

public enum ResultKind
{
    /// <summary>A sealed piece of the answer.</summary>
    Chunk,

    /// <summary>The sealed last chunk plus the signed usage receipt.</summary>
    Final,

    /// <summary>The worker refuses or failed the job; Error says why (never user text).</summary>
    Error,

    /// <summary>
    /// Not a job: the worker's signed answer to an attestation challenge (RequestId is the challenge id, Statement the
    /// signed statement, see <see cref="Attestation.AttestationStatement"/>).
    /// </summary>
    Statement,
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

    /// <summary>On Statement: the worker's signed attestation statement (serialized by the attestation code).</summary>
    public byte[]? Statement { get; init; }

    /// <summary>
    /// On Error: HMAC-SHA256 with the job's control key (exported from its HPKE context, see
    /// <see cref="Crypto.JobControlKey"/>). A gateway drops an error without a valid MAC: anyone who can write to
    /// Redis could otherwise end a request. Null when the worker could not open the job's context at all.
    /// </summary>
    public byte[]? Mac { get; init; }

    /// <summary>
    /// On Final: the answer's token ids, sealed to the gateway under the job's HPKE context
    /// (<see cref="Crypto.AnswerTokenSeal"/>), for a spot check of this answer. Never plaintext.
    /// </summary>
    public byte[]? AnswerTokens { get; init; }
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

    /// <summary>
    /// The service level the provider promises (best-effort, standard, premium; null = best-effort). Not attested: it
    /// is a promise the provider answers for with its earnings (a breach refunds the user) and its reputation.
    /// </summary>
    public string? SlaClass { get; init; }
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

/// <summary>The HPKE info and AAD both sides derive from a job; one place so they cannot drift apart.</summary>
public static class JobBinding
{
    private static ReadOnlySpan<byte> InfoLabel => "cocoon/job/v2"u8;

    private static ReadOnlySpan<byte> AadLabel => "cocoon/job-aad/v2"u8;

    /// <summary>
    /// label || lp(request id) || i32 attempt || lp(worker id) || lp(model hash) || i64 deadline (UTC ticks), with lp =
    /// u16 big-endian length || UTF-8 bytes and integers big-endian. Every field has a fixed width or a length, so no
    /// two different jobs share an info (joining with newlines let a field's text take the next field's place).
    /// The deadline is inside: a job given a later deadline (to run it again after the gateway gave up) fails to open.
    /// </summary>
    public static byte[] Info(string requestId, int attempt, string workerId, string modelSha256, DateTimeOffset deadline)
    {
        var writer = new BindingWriter(InfoLabel);
        writer.String(requestId);
        writer.Int32(attempt);
        writer.String(workerId);
        writer.String(modelSha256);
        writer.Int64(deadline.UtcTicks);
        return writer.ToArray();
    }

    /// <summary>HPKE AAD of the job: label || lp(reply stream), so a job redirected to another gateway fails to open.</summary>
    public static byte[] Aad(string replyTo)
    {
        var writer = new BindingWriter(AadLabel);
        writer.String(replyTo);
        return writer.ToArray();
    }
}

/// <summary>Length-prefixed, fixed-width encoding of the fields a key or MAC binds.</summary>
internal sealed class BindingWriter
{
    private readonly System.Buffers.ArrayBufferWriter<byte> _buffer = new(128);

    public BindingWriter(ReadOnlySpan<byte> label)
    {
        String(label);
    }

    public void String(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        String(System.Text.Encoding.UTF8.GetBytes(value));
    }

    public void String(ReadOnlySpan<byte> value)
    {
        if (value.Length > ushort.MaxValue)
        {
            throw new ArgumentException($"A bound field is at most {ushort.MaxValue} bytes, got {value.Length}.", nameof(value));
        }

        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(_buffer.GetSpan(2), (ushort)value.Length);
        _buffer.Advance(2);
        value.CopyTo(_buffer.GetSpan(value.Length));
        _buffer.Advance(value.Length);
    }

    public void Int32(int value)
    {
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    public void Int64(long value)
    {
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
    }

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();
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
