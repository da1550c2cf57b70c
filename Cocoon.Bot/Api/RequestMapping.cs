using Cocoon.Bot.Hosting;
using Cocoon.Engine.Protocol;

namespace Cocoon.Bot.Api;

/// <summary>What an OpenAI request becomes before dispatch: the generation, the model and the caller's limits.</summary>
/// <param name="Conversation">Which of the caller's conversations this is, for the prefix cache (see DispatchRequest.Conversation).</param>
internal sealed record MappedRequest(string Model, GenerationRequest Generation, bool Stream, bool IncludeUsage, int MaxCoefficient, TimeSpan Timeout, string? Conversation = null)
{
    /// <summary>The trust tiers the caller accepts (cocoon_tiers); null: the gateway's default.</summary>
    public IReadOnlyList<string>? Tiers { get; init; }

    /// <summary>The service level asked for (cocoon_sla).</summary>
    public Cocoon.Engine.Matching.SlaClass SlaClass { get; init; }

    /// <summary>The lowest reputation accepted (cocoon_reputation_floor); null: the gateway's floor.</summary>
    public double? ReputationFloor { get; init; }
}

/// <summary>
/// Validates OpenAI request bodies and maps them onto the shared <see cref="GenerationRequest"/>: the API's own shape
/// here, the generation limits by <see cref="GenerationRules"/> (the same rules the worker applies). Every refusal
/// names the parameter, so a client knows what to fix; nothing here echoes a prompt.
/// </summary>
internal static class RequestMapping
{
    /// <summary>The default price ceiling when a request gives none, as in <see cref="Dispatch.DispatchRequest"/>.</summary>
    public const int DefaultMaxCoefficient = 4000;

    public static MappedRequest Map(ChatCompletionRequest r, GatewayOptions options)
    {
        var model = RequireModel(r.Model);
        var requested = r.Messages ?? [];
        var messages = new List<ChatMessage>(requested.Count);
        for (var i = 0; i < requested.Count; i++)
        {
            var m = requested[i] ?? throw ApiProblem.Invalid("A message must be an object.", $"messages[{i}]", "invalid_type");
            var role = m.Role switch
            {
                "system" or "developer" => "system",
                "user" => "user",
                "assistant" => "assistant",
                null => throw ApiProblem.Invalid("Every message needs a 'role'.", $"messages[{i}].role", "missing_required_parameter"),
                "tool" or "function" => throw ApiProblem.Invalid("Tool messages are not supported.", $"messages[{i}].role", "unsupported_value"),
                _ => throw ApiProblem.Invalid("'role' must be one of system, developer, user, assistant.", $"messages[{i}].role", "invalid_value"),
            };
            if (m.ToolCalls is { ValueKind: not System.Text.Json.JsonValueKind.Null } || m.ToolCallId is not null)
            {
                throw ApiProblem.Invalid("Tool calls are not supported.", $"messages[{i}].tool_calls", "unsupported_parameter");
            }

            if (m.Content is null)
            {
                throw ApiProblem.Invalid("Every message needs a text 'content'.", $"messages[{i}].content", "missing_required_parameter");
            }

            messages.Add(new ChatMessage(role, m.Content));
        }

        Unsupported(r.Tools, "tools");
        Unsupported(r.ToolChoice, "tool_choice");
        Unsupported(r.LogitBias, "logit_bias");
        if (r.ParallelToolCalls is true)
        {
            throw ApiProblem.Invalid("Tool calls are not supported.", "parallel_tool_calls", "unsupported_parameter");
        }

        if (r.Logprobs is true || r.TopLogprobs is not null)
        {
            throw ApiProblem.Invalid("Log probabilities are not supported.", r.Logprobs is true ? "logprobs" : "top_logprobs", "unsupported_parameter");
        }

        if (r.ResponseFormat is { ValueKind: System.Text.Json.JsonValueKind.Object } format
            && !(format.TryGetProperty("type", out var t) && t.ValueKind == System.Text.Json.JsonValueKind.String && t.GetString() == "text"))
        {
            throw ApiProblem.Invalid("Only response_format {\"type\":\"text\"} is supported.", "response_format", "unsupported_value");
        }

        if (r.MaxTokens is not null && r.MaxCompletionTokens is not null && r.MaxTokens != r.MaxCompletionTokens)
        {
            throw ApiProblem.Invalid("Give max_tokens or max_completion_tokens, not two different values.", "max_tokens", "invalid_value");
        }

        var maxTokensParam = r.MaxCompletionTokens is null ? "max_tokens" : "max_completion_tokens";
        return Build(r, model, r.MaxCompletionTokens ?? r.MaxTokens ?? options.DefaultMaxTokens, maxTokensParam, new GenerationRequest { Messages = messages }, options, ChatConversation(r.User, messages));
    }

    /// <summary>
    /// The conversation a chat request continues: the caller's `user` when given (OpenAI's end-user id, so a service
    /// that serves many people under one key keeps them apart), else the conversation's opening (every message up to
    /// and including the first user message), which every later turn re-sends unchanged. Only a digest is kept.
    /// </summary>
    internal static string ChatConversation(string? user, IReadOnlyList<ChatMessage> messages)
    {
        if (!string.IsNullOrEmpty(user))
        {
            return "user:" + user;
        }

        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var m in messages)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"{m.Role.Length}:{m.Role}{m.Content.Length}:{m.Content}"));
            if (m.Role == "user")
            {
                break;
            }
        }

        return "opening:" + Convert.ToHexString(hash.GetHashAndReset());
    }

    public static MappedRequest Map(CompletionRequest r, GatewayOptions options)
    {
        var model = RequireModel(r.Model);
        if (r.Prompt is null || r.Prompt.Count == 0)
        {
            throw ApiProblem.Invalid("'prompt' must be a non-empty string.", "prompt", "missing_required_parameter");
        }

        if (r.Prompt.Count > 1)
        {
            throw ApiProblem.Invalid("Only one prompt per request is supported; send one request per prompt.", "prompt", "unsupported_value");
        }

        if (r.Echo is true)
        {
            throw ApiProblem.Invalid("echo is not supported.", "echo", "unsupported_parameter");
        }

        if (r.Suffix is not null)
        {
            throw ApiProblem.Invalid("suffix is not supported.", "suffix", "unsupported_parameter");
        }

        if (r.Logprobs is not null)
        {
            throw ApiProblem.Invalid("Log probabilities are not supported.", "logprobs", "unsupported_parameter");
        }

        if (r.BestOf is not null and not 1)
        {
            throw ApiProblem.Invalid("best_of must be 1.", "best_of", "unsupported_value");
        }

        Unsupported(r.LogitBias, "logit_bias");
        // OpenAI's legacy completions default to 16 tokens; keep that so existing clients behave as they expect.
        // A raw prompt has no conversation structure: only a caller that names its `user` gets a cache scope.
        return Build(r, model, r.MaxTokens ?? 16, "max_tokens", new GenerationRequest { Prompt = r.Prompt[0] }, options, string.IsNullOrEmpty(r.User) ? null : "user:" + r.User);
    }

    /// <summary>What chat and text completions share: sampling, the protocol's rules, streaming and Cocoon's extensions.</summary>
    private static MappedRequest Build(GenerationRequestDto r, string model, int maxTokens, string maxTokensParam, GenerationRequest input, GatewayOptions options, string? conversation) =>
        new(
            model,
            Checked(input with { Sampling = Sampling(maxTokens, r) }, maxTokensParam),
            r.Stream ?? false,
            r.StreamOptions?.IncludeUsage ?? false,
            MaxCoefficient(r.MaxCoefficient),
            Timeout(r.Timeout, options),
            conversation) { Tiers = Tiers(r.CocoonTiers), SlaClass = Sla(r.CocoonSla), ReputationFloor = Floor(r.CocoonReputationFloor) };

    private static Cocoon.Engine.Matching.SlaClass Sla(string? value) =>
        value is null ? Cocoon.Engine.Matching.SlaClass.BestEffort
        : Cocoon.Engine.Matching.SlaClasses.TryParse(value) ?? throw ApiProblem.Invalid("cocoon_sla must be best-effort, standard or premium.", "cocoon_sla", "invalid_value");

    private static double? Floor(double? value) =>
        value is null or (>= 0 and <= 1) ? value : throw ApiProblem.Invalid("cocoon_reputation_floor must be between 0 and 1.", "cocoon_reputation_floor", "invalid_value");

    private static IReadOnlyList<string>? Tiers(List<string>? values) =>
        values is null ? null
        : Cocoon.Engine.Matching.TrustTiers.Parse(values, out var error) ?? throw ApiProblem.Invalid(error!, "cocoon_tiers", "invalid_value");

    internal static string RequireModel(string? model) =>
        string.IsNullOrWhiteSpace(model)
            ? throw ApiProblem.Invalid("'model' is required; GET /v1/models lists the served models.", "model", "missing_required_parameter")
            : model;

    private static void Unsupported(System.Text.Json.JsonElement? value, string param)
    {
        if (value is { ValueKind: not System.Text.Json.JsonValueKind.Null })
        {
            throw ApiProblem.Invalid($"{param} is not supported.", param, "unsupported_parameter");
        }
    }

    /// <summary>The protocol's rules (<see cref="GenerationRules"/>), refused with the rule's parameter, message and code.</summary>
    private static GenerationRequest Checked(GenerationRequest generation, string maxTokensParam) =>
        GenerationRules.Check(generation, maxTokensParam) is { } violation ? throw Refuse(violation) : generation;

    private static ApiProblem Refuse(GenerationViolation violation) => ApiProblem.Invalid(violation.Message, violation.Param, violation.Code);

    private static SamplingOptions Sampling(int maxTokens, GenerationRequestDto r)
    {
        var (n, presencePenalty, frequencyPenalty, seed) = (r.N, r.PresencePenalty, r.FrequencyPenalty, r.Seed);
        var defaults = new SamplingOptions();
        if (n is not null and not 1)
        {
            throw ApiProblem.Invalid("Only n = 1 is supported.", "n", "unsupported_value");
        }

        // Presence and frequency penalties have no equivalent in the worker's sampler; accept only the neutral value
        // instead of silently ignoring a setting the caller relies on.
        if (presencePenalty is not null and not 0)
        {
            throw ApiProblem.Invalid("presence_penalty is not supported (use repetition_penalty).", "presence_penalty", "unsupported_value");
        }

        if (frequencyPenalty is not null and not 0)
        {
            throw ApiProblem.Invalid("frequency_penalty is not supported (use repetition_penalty).", "frequency_penalty", "unsupported_value");
        }

        if (seed is < 0 or > uint.MaxValue)
        {
            throw ApiProblem.Invalid($"'seed' must be between 0 and {uint.MaxValue}.", "seed", "invalid_value");
        }

        return defaults with
        {
            MaxTokens = maxTokens,
            Temperature = r.Temperature ?? defaults.Temperature,
            TopP = r.TopP ?? defaults.TopP,
            TopK = r.TopK ?? defaults.TopK,
            MinP = r.MinP ?? defaults.MinP,
            RepetitionPenalty = r.RepetitionPenalty ?? defaults.RepetitionPenalty,
            Seed = seed is { } s ? (uint)s : defaults.Seed,
            Stop = r.Stop ?? [],
        };
    }

    internal static int MaxCoefficient(int? value) => value switch
    {
        null => DefaultMaxCoefficient,
        < 1 or > 1_000_000 => throw ApiProblem.Invalid("'max_coefficient' must be between 1 and 1000000 (1000 = 1.0x the base price).", "max_coefficient", "invalid_value"),
        _ => value.Value,
    };

    /// <summary>
    /// The shortest <c>timeout</c> a request may ask for: less cannot cover one round trip to a worker, so it could only
    /// end in a 504 after holding funds (a fuzzer's 1e-300 did exactly that).
    /// </summary>
    public const double MinTimeoutSeconds = 1;

    internal static TimeSpan Timeout(double? seconds, GatewayOptions options) => seconds switch
    {
        null => TimeSpan.FromSeconds(Math.Min(120, options.MaxTimeoutSeconds)),
        { } s when !double.IsFinite(s) || s < MinTimeoutSeconds || s > options.MaxTimeoutSeconds =>
            throw ApiProblem.Invalid($"'timeout' must be between {MinTimeoutSeconds} and {options.MaxTimeoutSeconds} seconds.", "timeout", "invalid_value"),
        { } s => TimeSpan.FromSeconds(s),
    };
}
