namespace Cocoon.Engine.Protocol;

/// <summary>One chat turn. Role is "system", "user" or "assistant".</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>Sampling knobs shared by the OpenAI API, the bot and the worker. Temperature 0 is greedy.</summary>
public sealed record SamplingOptions
{
    public int MaxTokens { get; init; } = 256;
    public float Temperature { get; init; } = 0.8f;
    public float TopP { get; init; } = 0.95f;
    public int TopK { get; init; } = 40;
    public float MinP { get; init; } = 0.05f;
    public float RepetitionPenalty { get; init; } = 1.0f;
    public uint Seed { get; init; } = 42;
    public IReadOnlyList<string> Stop { get; init; } = [];
}

/// <summary>
/// What the worker runs: either chat messages (rendered through the model's chat template) or a raw prompt.
/// This is the plaintext that is sealed to the worker; it never leaves the gateway or the worker unsealed.
/// </summary>
public sealed record GenerationRequest
{
    public IReadOnlyList<ChatMessage>? Messages { get; init; }
    public string? Prompt { get; init; }
    public SamplingOptions Sampling { get; init; } = new();

    /// <summary>
    /// The prefix-cache scope the gateway gives this job: a keyed hash (HMAC with a gateway secret) of the caller and
    /// the conversation, opaque to the worker. A worker reuses cached prompt tokens only between jobs of the same
    /// scope, so one caller's cache never serves, or times, another's. Null: nothing is cached for or reused by this job.
    /// </summary>
    public string? CacheScope { get; init; }

    /// <summary>
    /// Set on a spot check's job only: instead of generating, score these answer tokens (see <see cref="ScoreRequest"/>).
    /// Absent from every other job's JSON, so the canonical request of an ordinary job is unchanged.
    /// </summary>
    public ScoreRequest? Score { get; init; }

    /// <summary>
    /// A resumed answer: the text already delivered to the caller by an earlier attempt whose worker failed. The worker
    /// pre-fills prompt + this text and generates only the rest (see Cocoon.Worker/Inference/Continuation.cs); its
    /// output and its receipt cover the rest only, and its prompt tokens include this text's. Null for a fresh answer
    /// (then it is left out of the canonical JSON, so a fresh request's bytes and hash are what they always were).
    /// </summary>
    public string? Continuation { get; init; }
}

public enum FinishReason
{
    Stop,
    Length,
    Cancelled,
    ContextFull,
}

/// <summary>Tokens counted by the worker. CachedTokens: prompt tokens taken from the prefix cache (part of PromptTokens, not decoded again).</summary>
public sealed record GenerationUsage(
    int PromptTokens,
    int CompletionTokens,
    FinishReason FinishReason,
    TimeSpan PromptTime,
    TimeSpan GenerationTime,
    int CachedTokens = 0)
{
    /// <summary>
    /// The token ids the sampler drew, in order, with the end-of-generation token last when the answer ended on one
    /// (what a spot check scores; see Crypto.AnswerTokenSeal). Null where the service does not report them.
    /// </summary>
    public IReadOnlyList<int>? AnswerTokens { get; init; }
}

/// <summary>
/// A streamed piece of text (never a split UTF-8 character); the last chunk carries Usage and empty text.
/// <paramref name="CompletionTokens"/> counts the tokens generated up to this piece and <paramref name="PromptTokens"/>
/// the prompt's, <paramref name="CachedTokens"/> the prompt tokens from the prefix cache (what a stopped answer bills).
/// </summary>
public sealed record GenerationChunk(string Text, GenerationUsage? Usage = null, int CompletionTokens = 0, int PromptTokens = 0, int CachedTokens = 0)
{
    public bool IsFinal => Usage is not null;
}

/// <summary>
/// Identity of a loaded model: the SHA-256 of the GGUF file (of an embedding model's files) is what attestation and
/// matching use. Kind is null for a chat model (<see cref="ModelKinds"/>); an embedding model states its vector length.
/// </summary>
public sealed record ModelInfo(
    string Name,
    string Sha256,
    string Architecture,
    long ParameterCount,
    int TrainedContextLength,
    int ContextLength,
    bool HasChatTemplate,
    string? Kind = null,
    int EmbeddingDimensions = 0);
