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
}

public enum FinishReason
{
    Stop,
    Length,
    Cancelled,
    ContextFull,
}

public sealed record GenerationUsage(
    int PromptTokens,
    int CompletionTokens,
    FinishReason FinishReason,
    TimeSpan PromptTime,
    TimeSpan GenerationTime);

/// <summary>A streamed piece of text (never a split UTF-8 character); the last chunk carries Usage and empty text.</summary>
public sealed record GenerationChunk(string Text, GenerationUsage? Usage = null)
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
