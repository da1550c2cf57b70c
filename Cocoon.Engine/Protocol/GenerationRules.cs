using System.Globalization;

namespace Cocoon.Engine.Protocol;

/// <summary>
/// One broken request rule, named as the OpenAI API names it: the parameter, a message that says what to fix (it never
/// quotes the prompt) and an error code ("invalid_value", "context_length_exceeded").
/// </summary>
public sealed record GenerationViolation(string Param, string Message, string Code);

/// <summary>
/// The limits of a <see cref="GenerationRequest"/>, in one place: the gateway checks them before dispatch (a 400 that
/// names the parameter) and the worker again after opening a job (a sealed request is not trusted to have passed a
/// gateway). What depends on the loaded model (its tokenizer, its context) is checked by the worker; the context fit
/// is decided here from the numbers either side knows (<see cref="CheckFit"/>).
/// </summary>
public static class GenerationRules
{
    public const float MaxTemperature = 2f;
    public const int MaxStopStrings = 4;
    public const int MaxStopLength = 256;
    public const int MaxMessages = 1024;
    public const float MaxRepetitionPenalty = 10f;

    /// <summary>Roles the worker's chat template is given; API adapters map their own spellings onto these.</summary>
    public static IReadOnlySet<string> Roles { get; } = new HashSet<string>(["system", "user", "assistant"], StringComparer.Ordinal);

    /// <summary>
    /// The first rule the request breaks, or null. <paramref name="maxTokensParam"/> is how the caller spelled the
    /// completion limit (OpenAI accepts max_tokens and max_completion_tokens).
    /// </summary>
    public static GenerationViolation? Check(GenerationRequest request, string maxTokensParam = "max_tokens")
    {
        ArgumentNullException.ThrowIfNull(request);
        return CheckInput(request) ?? CheckContinuation(request) ?? CheckSampling(request.Sampling, maxTokensParam);
    }

    // A continuation is text the model already wrote for this request; an empty one is no resume at all.
    private static GenerationViolation? CheckContinuation(GenerationRequest request) =>
        request.Continuation is { Length: 0 } ? Invalid("continuation", "'continuation' must not be empty; leave it out for a fresh answer.") : null;

    /// <summary>
    /// Whether a prompt of <paramref name="promptTokens"/> and an answer of up to <paramref name="maxTokens"/> fit a
    /// context of <paramref name="contextLength"/> tokens; <paramref name="promptIsLowerBound"/> says the prompt was
    /// not counted exactly (the gateway has no tokenizer) and only at least that many tokens are certain.
    /// </summary>
    public static GenerationViolation? CheckFit(int promptTokens, int maxTokens, int contextLength, bool promptIsLowerBound = false)
    {
        if (contextLength <= 0 || (long)promptTokens + maxTokens <= contextLength)
        {
            return null;
        }

        var prompt = promptIsLowerBound
            ? string.Create(CultureInfo.InvariantCulture, $"at least {promptTokens}")
            : promptTokens.ToString(CultureInfo.InvariantCulture);
        return new GenerationViolation(
            maxTokens >= contextLength ? "max_tokens" : "messages",
            string.Create(CultureInfo.InvariantCulture,
                $"This model's maximum context length is {contextLength} tokens. However, you requested {(promptIsLowerBound ? "more than " : "")}{(long)promptTokens + maxTokens} tokens ({prompt} in the prompt, {maxTokens} in max_tokens). Please reduce the length of the messages or max_tokens."),
            "context_length_exceeded");
    }

    private static GenerationViolation? CheckInput(GenerationRequest request)
    {
        if (request.Messages is { } messages)
        {
            if (request.Prompt is not null)
            {
                return Invalid("prompt", "Give either 'messages' or 'prompt', not both.");
            }

            if (messages.Count == 0)
            {
                return new GenerationViolation("messages", "'messages' must be a non-empty array of chat messages.", "missing_required_parameter");
            }

            if (messages.Count > MaxMessages)
            {
                return Invalid("messages", $"'messages' may hold at most {MaxMessages} messages.");
            }

            for (var i = 0; i < messages.Count; i++)
            {
                if (messages[i] is not { Content: not null } m || !Roles.Contains(m.Role))
                {
                    return Invalid($"messages[{i}]", "Every message needs a text 'content' and a role of system, user or assistant.");
                }
            }

            if (messages.All(m => string.IsNullOrWhiteSpace(m.Content)))
            {
                return Invalid("messages", "Every message is empty: at least one must contain text.");
            }

            return null;
        }

        return string.IsNullOrEmpty(request.Prompt) ? Invalid("prompt", "'prompt' must not be empty.") : null;
    }

    private static GenerationViolation? CheckSampling(SamplingOptions? s, string maxTokensParam)
    {
        if (s is null)
        {
            return Invalid("max_tokens", "Sampling options are required.");
        }

        if (s.MaxTokens <= 0)
        {
            return Invalid(maxTokensParam, $"'{maxTokensParam}' must be at least 1.");
        }

        if (!float.IsFinite(s.Temperature) || s.Temperature < 0 || s.Temperature > MaxTemperature)
        {
            return Invalid("temperature", "'temperature' must be between 0 and 2.");
        }

        if (!float.IsFinite(s.TopP) || s.TopP <= 0 || s.TopP > 1)
        {
            return Invalid("top_p", "'top_p' must be greater than 0 and at most 1.");
        }

        if (s.TopK < 0)
        {
            return Invalid("top_k", "'top_k' must be 0 (off) or more.");
        }

        if (!float.IsFinite(s.MinP) || s.MinP < 0 || s.MinP > 1)
        {
            return Invalid("min_p", "'min_p' must be between 0 and 1.");
        }

        if (!float.IsFinite(s.RepetitionPenalty) || s.RepetitionPenalty <= 0 || s.RepetitionPenalty > MaxRepetitionPenalty)
        {
            return Invalid("repetition_penalty", "'repetition_penalty' must be greater than 0 and at most 10.");
        }

        if (s.Stop is null || s.Stop.Count > MaxStopStrings)
        {
            return Invalid("stop", $"'stop' may hold at most {MaxStopStrings} strings.");
        }

        if (s.Stop.Any(x => string.IsNullOrEmpty(x) || x.Length > MaxStopLength))
        {
            return Invalid("stop", $"Every 'stop' string must be 1 to {MaxStopLength} characters.");
        }

        return null;
    }

    private static GenerationViolation Invalid(string param, string message) => new(param, message, "invalid_value");
}
