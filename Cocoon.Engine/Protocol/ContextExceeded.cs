using System.Globalization;

namespace Cocoon.Engine.Protocol;

/// <summary>
/// The worker's exact count says the prompt and max_tokens do not fit its context. The inference service throws it
/// (it is an <see cref="ArgumentException"/>, so older catch sites still treat it as an invalid request); the worker
/// refuses the job with <see cref="ReasonCode"/>, which carries only the three numbers, never text, and the gateway
/// turns it back into <see cref="GenerationRules.CheckFit"/>'s message.
/// </summary>
public sealed class ContextExceededException(int promptTokens, int maxTokens, int contextLength)
    : ArgumentException(GenerationRules.CheckFit(promptTokens, maxTokens, contextLength)?.Message ?? "The request does not fit the model's context.")
{
    private const string Prefix = "context-exceeded:";

    public int PromptTokens { get; } = promptTokens;

    public int MaxTokens { get; } = maxTokens;

    public int ContextLength { get; } = contextLength;

    /// <summary>The refusal reason on the result stream (at most 49 characters).</summary>
    public string ReasonCode => string.Create(CultureInfo.InvariantCulture, $"{Prefix}{PromptTokens}:{MaxTokens}:{ContextLength}");

    /// <summary>The numbers of a <see cref="ReasonCode"/>, or null when the reason is another one.</summary>
    public static ContextExceededException? FromReasonCode(string? reason)
    {
        if (reason is null || !reason.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var parts = reason[Prefix.Length..].Split(':');
        return parts.Length == 3
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var prompt)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var max)
            && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var context)
                ? new ContextExceededException(prompt, max, context)
                : null;
    }
}
