using Cocoon.Engine.Protocol;

namespace Cocoon.Worker.Inference;

/// <summary>
/// The request limits that do not depend on the loaded model. They are the worker's copy of the protocol's rules and
/// are meant to become one call to the shared GenerationRules (Cocoon.Engine.Protocol) once it lands, so the gateway
/// and the worker enforce the same limits; the model-dependent checks (context size, tokens) stay in the service.
/// Every failure is an ArgumentException whose message names the field and the allowed range.
/// </summary>
internal static class RequestValidation
{
    private static readonly string[] Roles = ["system", "user", "assistant", "tool"];

    public static void Check(GenerationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var s = request.Sampling ?? throw new ArgumentException("Sampling is required.", nameof(request));
        if (s.MaxTokens <= 0)
        {
            throw new ArgumentException($"MaxTokens is {s.MaxTokens}: it must be at least 1.", nameof(request));
        }

        if (!float.IsFinite(s.Temperature) || s.Temperature < 0)
        {
            throw new ArgumentException($"Temperature is {s.Temperature}: it must be 0 (greedy) or more.", nameof(request));
        }

        if (!float.IsFinite(s.TopP) || s.TopP <= 0 || s.TopP > 1)
        {
            throw new ArgumentException($"TopP is {s.TopP}: it must be in (0, 1].", nameof(request));
        }

        if (s.TopK < 0)
        {
            throw new ArgumentException($"TopK is {s.TopK}: it must be 0 (off) or more.", nameof(request));
        }

        if (!float.IsFinite(s.MinP) || s.MinP < 0 || s.MinP > 1)
        {
            throw new ArgumentException($"MinP is {s.MinP}: it must be in [0, 1].", nameof(request));
        }

        if (!float.IsFinite(s.RepetitionPenalty) || s.RepetitionPenalty <= 0 || s.RepetitionPenalty > 10)
        {
            throw new ArgumentException($"RepetitionPenalty is {s.RepetitionPenalty}: it must be in (0, 10]; 1 means off.", nameof(request));
        }

        if (s.Stop is null || s.Stop.Count > 16 || s.Stop.Any(x => string.IsNullOrEmpty(x) || x.Length > 256))
        {
            throw new ArgumentException("Stop must be at most 16 non-empty strings of up to 256 characters.", nameof(request));
        }

        if (request.Messages is { } messages)
        {
            if (request.Prompt is not null)
            {
                throw new ArgumentException("Give either Messages or Prompt, not both.", nameof(request));
            }

            if (messages.Count == 0 || messages.Any(m => m is null || m.Content is null || !Roles.Contains(m.Role)))
            {
                throw new ArgumentException("Messages must be non-empty, each with content and a role of system, user, assistant or tool.", nameof(request));
            }

            if (messages.All(m => string.IsNullOrWhiteSpace(m.Content)))
            {
                throw new ArgumentException("The messages are empty.", nameof(request));
            }
        }
        else if (string.IsNullOrEmpty(request.Prompt))
        {
            throw new ArgumentException("The prompt is empty.", nameof(request));
        }
    }
}
