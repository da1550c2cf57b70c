using Cocoon.Engine.Protocol;
using Cocoon.Ledger.Accounts;

namespace Cocoon.Bot.Dispatch;

/// <summary>
/// The one internal request that every adapter (Telegram, Mini App, OpenAI API) builds: who pays, which model,
/// what to generate, what limits. The dispatcher picks an attested worker, holds funds, seals, enqueues,
/// streams the answer and settles from the worker's signed receipt.
/// </summary>
public sealed record DispatchRequest
{
    public required string RequestId { get; init; }
    public required AccountId Payer { get; init; }
    /// <summary>A model name or SHA-256; null for the first served model that has a worker online (resolved once, by the dispatcher).</summary>
    public required string? Model { get; init; }
    /// <summary>What to generate; unused (left empty) for an embedding request.</summary>
    public GenerationRequest Generation { get; init; } = new();

    /// <summary>Set for an embedding job: this is what is sealed to the worker instead of <see cref="Generation"/>.</summary>
    public EmbeddingRequest? Embedding { get; init; }

    /// <summary>The completion tokens the job may bill: max_tokens for generation, none for embeddings.</summary>
    public int MaxCompletionTokens => Embedding is null ? Generation.Sampling.MaxTokens : 0;

    /// <summary>Highest worker price coefficient the caller accepts (1000 = 1.0x).</summary>
    public int MaxCoefficient { get; init; } = 4000;

    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(2);
    public string? Region { get; init; }

    /// <summary>
    /// The conversation inside the payer's account whose turns may share a worker's prefix cache (a Telegram chat, an
    /// API caller's `user` or conversation). The dispatcher turns payer + conversation into the job's cache scope
    /// (<see cref="CacheScopes"/>); null: nothing is cached for this request.
    /// </summary>
    public string? Conversation { get; init; }

    /// <summary>
    /// Trust tiers the caller accepts (tee, simulated, consumer); null: the gateway's default, <c>tee</c> plus
    /// <c>simulated</c> where simulated platforms are trusted. A consumer worker is only ever matched when this lists it.
    /// </summary>
    public IReadOnlyList<string>? Tiers { get; init; }

    /// <summary>The lowest reputation score (0..1) a worker may have to get this request; null: Gateway:ReputationFloor.</summary>
    public double? ReputationFloor { get; init; }

    /// <summary>
    /// The service level asked for: only workers that promise it are matched, and a breach the gateway measures refunds
    /// part of the charge (Reputation/SlaRefunds). Best effort (default) promises nothing.
    /// </summary>
    public Cocoon.Engine.Matching.SlaClass SlaClass { get; init; } = Cocoon.Engine.Matching.SlaClass.BestEffort;

    /// <summary>
    /// The caller keeps what it was sent when it stops the answer (Telegram's Stop with keep_on_stop): the pieces the
    /// gateway had opened when the caller stopped are still handed over, before the cancellation, so the kept text is
    /// exactly the part billed from the worker's receipt. Off: a caller that stops has left, and gets nothing more.
    /// </summary>
    public bool KeepStoppedPart { get; init; }
}

public abstract record DispatchEvent;

public sealed record DispatchPiece(string Text) : DispatchEvent;

public sealed record DispatchCompleted(DispatchReceipt Receipt) : DispatchEvent;

/// <summary>
/// What the user is told about an answer: tokens, what it cost in the end (the charge less any SLA refund, which
/// <see cref="SlaRefundNanotons"/> states), and who answered under which attestation.
/// </summary>
public sealed record DispatchReceipt(
    string RequestId,
    string Model,
    int PromptTokens,
    int CompletionTokens,
    FinishReason FinishReason,
    long TotalCostNanotons,
    string WorkerId,
    string ProviderId,
    string AttestationKind,
    DateTimeOffset GatewayStart,
    DateTimeOffset WorkerStart,
    DateTimeOffset WorkerEnd,
    DateTimeOffset GatewayEnd,
    int CachedPromptTokens = 0,
    long SlaRefundNanotons = 0)
{
    /// <summary>The trust tier the answer was served in (tee, simulated, consumer).</summary>
    public string Tier => Cocoon.Engine.Matching.TrustTiers.FromTeeKind(AttestationKind);

    /// <summary>The signed receipt's request hash (lowercase hex): SHA-256 of the canonical request sealed to the worker.</summary>
    public string? RequestSha256 { get; init; }

    /// <summary>The signed receipt's response hash (lowercase hex): SHA-256 of the answer text's UTF-8 bytes.</summary>
    public string? ResponseSha256 { get; init; }

    /// <summary>
    /// The canonical request the completing attempt sealed, which the receipt's request hash covers: the caller's
    /// request with the cache scope the gateway put in it and, on a resumed answer, the delivered text as its
    /// <see cref="Engine.Protocol.GenerationRequest.Continuation"/>. A caller that hands out a receipt to be checked
    /// hands out these bytes (the request it built itself lacks the scope, so its hash would not match). Null for an
    /// embedding. In memory for the caller's answer only, never stored or logged (a byte array, so even a record's
    /// ToString shows no text).
    /// </summary>
    public byte[]? SealedRequest { get; init; }

    /// <summary>More than one attempt wrote the answer: the completing one resumed after <see cref="ResumedAfterBytes"/>.</summary>
    public bool Resumed { get; init; }

    /// <summary>A resumed answer: UTF-8 bytes of it delivered before the completing attempt; the response hash covers the bytes after them.</summary>
    public int ResumedAfterBytes { get; init; }
}

/// <summary>A model the network serves right now, with its live workers; Kind and Dimensions as its workers attest them.</summary>
/// <param name="ContextLength">The smallest context its workers attested (0 with no worker); for an embedding model, the tokens one input may hold.</param>
public sealed record ServedModel(string Name, string Sha256, IReadOnlyList<ServedWorker> Workers, string Kind = ModelKinds.Chat, int Dimensions = 0, int ContextLength = 0);

public sealed record ServedWorker(string WorkerId, string ProviderId, int PriceCoefficient, int Running, int MaxConcurrency, string AttestationKind)
{
    /// <summary>The worker's trust tier (tee, simulated, consumer).</summary>
    public string Tier => Cocoon.Engine.Matching.TrustTiers.FromTeeKind(AttestationKind);
}

/// <summary>Raised when every matching worker is at its concurrency cap.</summary>
public sealed class WorkersBusyException(TimeSpan retryAfter) : Exception("Every worker for this model is busy.")
{
    public TimeSpan RetryAfter { get; } = retryAfter;
}

public interface IDispatcher
{
    IAsyncEnumerable<DispatchEvent> DispatchAsync(DispatchRequest request, CancellationToken cancellationToken);

    Task<IReadOnlyList<ServedModel>> GetModelsAsync(CancellationToken cancellationToken);
}
