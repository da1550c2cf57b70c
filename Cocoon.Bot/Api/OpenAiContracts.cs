using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cocoon.Bot.Api;

// The wire shapes of the OpenAI-compatible API. Requests list every field OpenAI clients send, so that an unknown
// field can be refused (as the reference API does) while a known-but-unsupported one gets a precise message.

/// <summary>The fields chat and text completions share: the model, streaming, sampling and Cocoon's extensions.</summary>
internal abstract class GenerationRequestDto
{
    public string? Model { get; set; }
    public bool? Stream { get; set; }
    public StreamOptionsDto? StreamOptions { get; set; }
    public int? MaxTokens { get; set; }
    public float? Temperature { get; set; }
    public float? TopP { get; set; }
    public int? TopK { get; set; }
    public float? MinP { get; set; }
    public float? RepetitionPenalty { get; set; }
    public float? PresencePenalty { get; set; }
    public float? FrequencyPenalty { get; set; }
    public long? Seed { get; set; }

    [JsonConverter(typeof(StringOrArrayConverter))]
    public List<string>? Stop { get; set; }

    public int? N { get; set; }
    public string? User { get; set; }
    public JsonElement? LogitBias { get; set; }

    /// <summary>Cocoon extension: the highest worker price coefficient accepted (1000 = 1.0x).</summary>
    public int? MaxCoefficient { get; set; }

    /// <summary>Cocoon extension: seconds the caller is willing to wait for the whole answer.</summary>
    public double? Timeout { get; set; }

    /// <summary>Cocoon extension: the trust tiers accepted ("tee", "simulated", "consumer"), a list or a comma-separated string.</summary>
    [JsonConverter(typeof(StringOrArrayConverter))]
    public List<string>? CocoonTiers { get; set; }

    /// <summary>Cocoon extension: the service level asked for ("best-effort", "standard", "premium"); a breach is refunded in part.</summary>
    public string? CocoonSla { get; set; }

    /// <summary>Cocoon extension: the lowest worker reputation score (0..1) accepted; default the gateway's floor.</summary>
    public double? CocoonReputationFloor { get; set; }
}

internal sealed class ChatCompletionRequest : GenerationRequestDto
{
    public List<ChatMessageDto>? Messages { get; set; }
    public int? MaxCompletionTokens { get; set; }
    public bool? Logprobs { get; set; }
    public int? TopLogprobs { get; set; }
    public JsonElement? Tools { get; set; }
    public JsonElement? ToolChoice { get; set; }
    public bool? ParallelToolCalls { get; set; }
    public JsonElement? ResponseFormat { get; set; }
    public JsonElement? Metadata { get; set; }
    public bool? Store { get; set; }
}

internal sealed class CompletionRequest : GenerationRequestDto
{
    [JsonConverter(typeof(StringOrArrayConverter))]
    public List<string>? Prompt { get; set; }

    public int? BestOf { get; set; }
    public bool? Echo { get; set; }
    public int? Logprobs { get; set; }
    public string? Suffix { get; set; }
}

internal sealed class StreamOptionsDto
{
    public bool? IncludeUsage { get; set; }
}

internal sealed class ChatMessageDto
{
    public string? Role { get; set; }

    [JsonConverter(typeof(MessageContentConverter))]
    public string? Content { get; set; }

    public string? Name { get; set; }
    public JsonElement? ToolCalls { get; set; }
    public string? ToolCallId { get; set; }
    public string? Refusal { get; set; }
}

internal sealed record ChatCompletionResponse(
    string Id,
    string Object,
    long Created,
    string Model,
    IReadOnlyList<ChatChoice> Choices,
    UsageDto Usage,
    string SystemFingerprint,
    CocoonInfo Cocoon);

internal sealed record ChatChoice(int Index, AssistantMessage Message, string FinishReason, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] object? Logprobs);

internal sealed record AssistantMessage(string Role, string Content, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Refusal);

internal sealed record ChatCompletionChunk(
    string Id,
    string Object,
    long Created,
    string Model,
    IReadOnlyList<ChunkChoice> Choices,
    string SystemFingerprint,
    UsageDto? Usage = null,
    CocoonInfo? Cocoon = null);

internal sealed record ChunkChoice(int Index, ChunkDelta Delta, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason);

internal sealed record ChunkDelta(string? Role = null, string? Content = null);

internal sealed record TextCompletionResponse(
    string Id,
    string Object,
    long Created,
    string Model,
    IReadOnlyList<TextChoice> Choices,
    UsageDto? Usage = null,
    CocoonInfo? Cocoon = null);

internal sealed record TextChoice(string Text, int Index, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] object? Logprobs, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason);

/// <summary>
/// OpenAI's usage plus what the caller paid, in nanotons, as actually posted by the ledger. prompt_tokens_details
/// .cached_tokens: prompt tokens the worker's prefix cache served (billed at the cached-prompt price), as OpenAI reports them.
/// </summary>
/// <param name="TotalCost">What the answer cost in the end, in nanotons: the charge less <paramref name="SlaRefund"/>.</param>
/// <param name="SlaRefund">Nanotons refunded because the answer missed its SLA class's targets (absent when none).</param>
internal sealed record UsageDto(
    int PromptTokens, int CompletionTokens, int TotalTokens, long TotalCost, PromptTokensDetails PromptTokensDetails,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] long SlaRefund = 0);

internal sealed record PromptTokensDetails(int CachedTokens);

/// <summary>Who answered and when: the same facts as the X-Cocoon-* headers, for streams whose headers left early.</summary>
internal sealed record CocoonInfo(
    string RequestId,
    string WorkerId,
    string ProviderId,
    string Attestation,
    DateTimeOffset GatewayStart,
    DateTimeOffset WorkerStart,
    DateTimeOffset WorkerEnd,
    DateTimeOffset GatewayEnd)
{
    /// <summary>The trust tier the answer was served in (tee, simulated, consumer); also the X-Cocoon-Tier header.</summary>
    public string? Tier { get; init; }

    /// <summary>The id <c>GET /v1/receipts/{id}</c> answers to (the request id).</summary>
    public string? ReceiptId { get; init; }

    /// <summary>The receipt's request hash: SHA-256 of <see cref="CanonicalRequest"/>'s bytes (lowercase hex).</summary>
    public string? RequestSha256 { get; init; }

    /// <summary>The receipt's response hash: SHA-256 of the answer text's UTF-8 bytes (lowercase hex).</summary>
    public string? ResponseSha256 { get; init; }

    /// <summary>
    /// Base64 of the exact bytes sealed to the worker (the canonical request JSON the gateway built from this call), so
    /// the caller can recompute the request hash and read what was run. Only in the answer to the caller, never stored.
    /// </summary>
    public string? CanonicalRequest { get; init; }

    /// <summary>
    /// Set when the answer was resumed after its first worker failed mid-stream: the UTF-8 bytes of the answer that
    /// came before the worker that completed it. The response hash covers the bytes after them; the canonical request
    /// holds the delivered text as its <c>continuation</c>. Absent for an answer written by one worker.
    /// </summary>
    public int? ResumedAfterBytes { get; init; }
}

internal sealed record ModelList(string Object, IReadOnlyList<ModelDto> Data);

internal sealed record ModelDto(string Id, string Object, long Created, string OwnedBy, string Sha256, IReadOnlyList<ModelWorkerDto> Workers)
{
    /// <summary>The trust tiers this model is served in now, each with its list prices (nanotons per 1M tokens at 1.0x).</summary>
    public IReadOnlyList<ModelTierDto>? Tiers { get; init; }
}

internal sealed record ModelTierDto(string Tier, int Workers, long PromptPerMillion, long CachedPromptPerMillion, long CompletionPerMillion);

internal sealed record ModelWorkerDto(string Id, string Provider, int PriceCoefficient, int Running, int MaxConcurrency, string Attestation)
{
    public string? Tier { get; init; }
}

internal sealed record ErrorEnvelope(ErrorBody Error);

internal sealed record ErrorBody(
    string Message,
    string Type,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Param,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Code);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    NumberHandling = JsonNumberHandling.Strict,
    MaxDepth = 32)]
[JsonSerializable(typeof(ChatCompletionRequest))]
[JsonSerializable(typeof(EmbeddingApiRequest))]
[JsonSerializable(typeof(CocoonInfo))]
[JsonSerializable(typeof(CompletionRequest))]
[JsonSerializable(typeof(ChatCompletionResponse))]
[JsonSerializable(typeof(ChatCompletionChunk))]
[JsonSerializable(typeof(TextCompletionResponse))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ErrorEnvelope))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;

/// <summary>OpenAI accepts <c>stop</c> and <c>prompt</c> as a string or an array of strings.</summary>
internal sealed class StringOrArrayConverter : JsonConverter<List<string>>
{
    public override List<string>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return [reader.GetString()!];
            case JsonTokenType.StartArray:
                var list = new List<string>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        throw new JsonException("expected a string or an array of strings");
                    }

                    list.Add(reader.GetString()!);
                }

                return list;
            default:
                throw new JsonException("expected a string or an array of strings");
        }
    }

    public override void Write(Utf8JsonWriter writer, List<string> value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (var s in value)
        {
            writer.WriteStringValue(s);
        }

        writer.WriteEndArray();
    }
}

/// <summary>Message content is a string or an array of parts; only text parts are supported and are joined.</summary>
internal sealed class MessageContentConverter : JsonConverter<string>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return reader.GetString();
            case JsonTokenType.StartArray:
                var text = new System.Text.StringBuilder();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        throw new JsonException("content parts must be objects");
                    }

                    string? type = null, partText = null;
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                    {
                        var name = reader.GetString();
                        reader.Read();
                        switch (name)
                        {
                            case "type" when reader.TokenType == JsonTokenType.String:
                                type = reader.GetString();
                                break;
                            case "text" when reader.TokenType == JsonTokenType.String:
                                partText = reader.GetString();
                                break;
                            default:
                                throw new JsonException("only text content parts ({\"type\":\"text\",\"text\":...}) are supported");
                        }
                    }

                    if (type != "text" || partText is null)
                    {
                        throw new JsonException("only text content parts ({\"type\":\"text\",\"text\":...}) are supported");
                    }

                    text.Append(partText);
                }

                return text.ToString();
            default:
                throw new JsonException("content must be a string or an array of text parts");
        }
    }

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}
