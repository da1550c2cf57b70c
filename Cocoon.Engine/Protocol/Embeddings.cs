using System.Globalization;

namespace Cocoon.Engine.Protocol;

/// <summary>What a loaded model does; attested with it, so gateways route chat and embeddings to the right workers.</summary>
public static class ModelKinds
{
    /// <summary>Text generation (llama.cpp): /v1/chat/completions and /v1/completions. Attested as no kind at all.</summary>
    public const string Chat = "chat";

    /// <summary>An embedding model (ONNX Runtime): /v1/embeddings.</summary>
    public const string Embedding = "embedding";

    /// <summary>The kind an attestation's (optional) field names; absent means chat, as before the field existed.</summary>
    public static string Of(string? attested) => string.IsNullOrEmpty(attested) ? Chat : attested;
}

/// <summary>One input to embed: text (tokenized by the worker) or token ids of the model's own vocabulary.</summary>
public sealed record EmbeddingInput
{
    public string? Text { get; init; }

    /// <summary>Ids of the model's vocabulary, without [CLS]/[SEP]: the worker adds them as it does for text.</summary>
    public IReadOnlyList<int>? Tokens { get; init; }
}

/// <summary>
/// An embedding job: the plaintext sealed to an embedding worker (like <see cref="GenerationRequest"/> to a chat
/// worker). <see cref="Truncate"/> says an input longer than the model's limit is cut to it instead of refused.
/// </summary>
public sealed record EmbeddingRequest
{
    public required IReadOnlyList<EmbeddingInput> Inputs { get; init; }

    public bool Truncate { get; init; }
}

/// <summary>
/// The worker's answer, sealed as the job's one final chunk: the vectors as little-endian float32 rows (input order),
/// the tokens each input took (after truncation) and which inputs were cut.
/// </summary>
public sealed record EmbeddingResult
{
    public required int Dimensions { get; init; }

    public required IReadOnlyList<int> TokenCounts { get; init; }

    public IReadOnlyList<int> Truncated { get; init; } = [];

    public required byte[] Vectors { get; init; }
}

/// <summary>
/// The limits of an <see cref="EmbeddingRequest"/>, named as the OpenAI API names them; the gateway checks them before
/// dispatch and the worker again after opening the job. The per-input token limit depends on the model: the worker
/// decides it exactly (<see cref="InputTooLongException"/>), the gateway only for token arrays.
/// </summary>
public static class EmbeddingRules
{
    /// <summary>OpenAI's own limit on inputs per request.</summary>
    public const int MaxInputs = 2048;

    public static GenerationViolation? Check(EmbeddingRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Inputs is null || request.Inputs.Count == 0)
        {
            return new GenerationViolation("input", "'input' must be a non-empty string or array.", "missing_required_parameter");
        }

        if (request.Inputs.Count > MaxInputs)
        {
            return Invalid(string.Create(CultureInfo.InvariantCulture, $"'input' may hold at most {MaxInputs} inputs; this request has {request.Inputs.Count}. Split it into several requests."));
        }

        for (var i = 0; i < request.Inputs.Count; i++)
        {
            var input = request.Inputs[i];
            var bad = input switch
            {
                null or { Text: null, Tokens: null } or { Text: not null, Tokens: not null } => "must be a string or an array of token ids",
                { Text: { } t } when string.IsNullOrWhiteSpace(t) => "is empty: every input must contain text",
                { Tokens: { Count: 0 } } => "is an empty token array",
                { Tokens: { } ids } when ids.Any(id => id < 0) => "holds a negative token id",
                _ => null,
            };
            if (bad is not null)
            {
                return Invalid(string.Create(CultureInfo.InvariantCulture, $"input[{i}] {bad}."));
            }
        }

        return null;
    }

    /// <summary>Token arrays are counted exactly at the gateway: the model's [CLS] and [SEP] come on top.</summary>
    public static InputTooLongException? CheckTokenArrays(EmbeddingRequest request, int maxTokens)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Truncate || maxTokens <= 0)
        {
            return null;
        }

        for (var i = 0; i < request.Inputs.Count; i++)
        {
            if (request.Inputs[i].Tokens is { } ids && ids.Count + SpecialTokens > maxTokens)
            {
                return new InputTooLongException(i, ids.Count + SpecialTokens, maxTokens);
            }
        }

        return null;
    }

    /// <summary>[CLS] and [SEP] around every input (BERT).</summary>
    public const int SpecialTokens = 2;

    /// <summary>Bytes bound a text's tokens from above (WordPiece never makes more tokens than bytes), plus the specials.</summary>
    public static long TokenUpperBound(EmbeddingRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        long total = 0;
        foreach (var input in request.Inputs)
        {
            total += (input.Text is { } t ? System.Text.Encoding.UTF8.GetByteCount(t) : input.Tokens?.Count ?? 0) + SpecialTokens;
        }

        return total;
    }

    private static GenerationViolation Invalid(string message) => new("input", message, "invalid_value");
}

/// <summary>
/// An input has more tokens than the embedding model takes and the request did not ask to truncate. The worker
/// refuses the job with <see cref="ReasonCode"/> (numbers only, never text); the gateway turns it back into this message.
/// </summary>
public sealed class InputTooLongException(int index, int tokens, int maxTokens)
    : ArgumentException(string.Create(CultureInfo.InvariantCulture,
        $"input[{index}] is {tokens} tokens long, and this model takes at most {maxTokens} tokens per input (with [CLS] and [SEP]). Shorten it, or send \"truncate\": true to have it cut to the first {maxTokens} tokens."), "input")
{
    private const string Prefix = "input-too-long:";

    public int Index { get; } = index;

    public int Tokens { get; } = tokens;

    public int MaxTokens { get; } = maxTokens;

    public string ReasonCode => string.Create(CultureInfo.InvariantCulture, $"{Prefix}{Index}:{Tokens}:{MaxTokens}");

    /// <summary>The rule's own words, without the " (Parameter '…')" suffix ArgumentException adds.</summary>
    public override string Message => base.Message.Replace(" (Parameter 'input')", string.Empty, StringComparison.Ordinal);

    public static InputTooLongException? FromReasonCode(string? reason)
    {
        if (reason is null || !reason.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var parts = reason[Prefix.Length..].Split(':');
        return parts.Length == 3
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var tokens)
            && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var max)
                ? new InputTooLongException(index, tokens, max)
                : null;
    }
}
